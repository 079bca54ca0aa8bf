"""RESULTS.md and its plot from per-utterance score TSVs: methods x conditions, SI and SD, mean and 95% interval.

A score TSV (written by the scoring stage) has a header and one row per separated speaker: `key`, `speaker`,
`condition`, then one column per metric (`sdr`, `sdr_imp`, `pesq`, ...).
"""

from __future__ import annotations

import csv
import math
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from avvae.atomic import atomic_path, write_text_atomic

METRICS = {
    "sdr_imp": "SDR improvement (dB)",
    "sir_imp": "SIR improvement (dB)",
    "sar": "SAR (dB)",
    "si_sdr_imp": "SI-SDR improvement (dB)",
    "pesq": "PESQ (wide-band)",
    "stoi": "STOI",
}
PROTOCOLS = ("SI", "SD")


@dataclass(frozen=True)
class System:
    """One row of the tables: a method, the protocol(s) it counts for ("SI", "SD" or "both") and its score
    file(s), one per test mixture set (e.g. seen and unseen noise)."""

    method: str
    protocol: str
    scores: tuple[Path, ...]

    def rows(self) -> list[dict]:
        return [row for path in self.scores for row in read_scores(path)]


def read_scores(path: str | Path) -> list[dict]:
    """Rows of a score TSV, metric columns as floats (NaN where a metric could not be computed)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if not rows:
        raise ValueError(f"{path}: no scores")
    for row in rows:
        for name in row:
            if name not in ("key", "speaker", "condition"):
                row[name] = float(row[name])
    return rows


def mean_interval(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of its 95% Student-t interval, NaNs left out."""
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if len(finite) == 0:
        return math.nan, math.nan
    if len(finite) == 1:
        return float(finite[0]), math.nan
    half = stats.t.ppf(0.975, len(finite) - 1) * finite.std(ddof=1) / math.sqrt(len(finite))
    return float(finite.mean()), float(half)


def _split_condition(condition: str) -> tuple[str, float]:
    """("unseen-babble-", -10.0) for "unseen-babble-snr-10"; ("", 5.0) for "snr5"; (condition, inf) otherwise."""
    prefix, _, snr = condition.rpartition("snr")
    try:
        return prefix, float(snr)
    except ValueError:
        return condition, math.inf


def _conditions(rows_by_system: dict[System, list[dict]]) -> list[str]:
    """The conditions found, the plain SNR ones first by SNR, then the prefixed ones (e.g. unseen noise)."""
    found = {row["condition"] for rows in rows_by_system.values() for row in rows}
    return sorted(found, key=lambda c: (_split_condition(c)[0] != "", _split_condition(c), c)) + ["all"]


def _cell(rows: list[dict], metric: str, condition: str) -> tuple[float, float]:
    return mean_interval([r[metric] for r in rows if condition == "all" or r["condition"] == condition])


def _condition_label(condition: str) -> str:
    prefix, snr = _split_condition(condition)
    if not math.isfinite(snr):
        return condition
    return f"{prefix.replace('-', ' ')}{snr:g} dB"


def results_markdown(systems: list[System], title: str) -> str:
    """The RESULTS.md text: a header with date, versions and git hash, then one table per metric."""
    rows_by_system = {system: system.rows() for system in systems}
    conditions = _conditions(rows_by_system)
    lines = [f"# {title}", "", *_header_lines(), ""]
    lines += ["Mean over separated speakers, ± half-width of the 95% confidence interval (Student t). Columns: the",
              "SNR condition of the test mixtures; SI = speaker-independent models, SD = speaker-dependent ones",
              "(the mixture and oracle rows do not depend on the protocol).", ""]
    methods = list(dict.fromkeys(system.method for system in systems))
    for metric, label in METRICS.items():
        if not all(metric in rows[0] for rows in rows_by_system.values()):
            continue
        lines += [f"## {label}", ""]
        header = ["Method"] + [f"{p} {_condition_label(c)}" for p in PROTOCOLS for c in conditions]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for method in methods:
            cells = [method]
            for protocol in PROTOCOLS:
                system = next((s for s in systems if s.method == method and s.protocol in (protocol, "both")), None)
                for condition in conditions:
                    if system is None:
                        cells.append("")
                        continue
                    mean, half = _cell(rows_by_system[system], metric, condition)
                    cells.append(f"{mean:.2f} ± {half:.2f}" if math.isfinite(half) else f"{mean:.2f}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Score files", ""]
    lines += [f"- {s.method} ({s.protocol}): " + ", ".join(f"`{path}`" for path in s.scores) for s in systems]
    lines.append("")
    return "\n".join(lines)


def _header_lines() -> list[str]:
    import torch

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return [f"- date: {time.strftime('%Y-%m-%d %H:%M')}", f"- git: {commit}",
            f"- python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}"]


def plot_results(
    systems: list[System], path: str | Path, metrics: tuple[str, ...] = ("sdr_imp", "pesq", "stoi")
) -> None:
    """One panel per metric: each method's mean (with its 95% interval) against the input SNR, SI solid, SD dashed;
    conditions other than a plain SNR (e.g. an unseen noise) stand apart on the right, unconnected."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows_by_system = {system: system.rows() for system in systems}
    conditions = [c for c in _conditions(rows_by_system) if c != "all"]
    plain = [c for c in conditions if _split_condition(c)[0] == "" and math.isfinite(_split_condition(c)[1])]
    others = [c for c in conditions if c not in plain]
    x_plain, x_others = np.arange(len(plain)), len(plain) + 0.5 + np.arange(len(others))
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4.2), squeeze=False)
    colours = {m: f"C{i}" for i, m in enumerate(dict.fromkeys(s.method for s in systems))}
    dodge = {system: 0.04 * (i - (len(systems) - 1) / 2) for i, system in enumerate(systems)}  # bars side by side
    for axis, metric in zip(axes[0], metrics):
        for system, rows in rows_by_system.items():
            if metric not in rows[0]:
                continue
            label = system.method if system.protocol == "both" else f"{system.method} ({system.protocol})"
            style = dict(color=colours[system.method], capsize=3, marker="o" if system.protocol != "SD" else "s")
            for xs, names, line in ((x_plain, plain, "--" if system.protocol == "SD" else "-"), (x_others, others, "")):
                if names:
                    means, halves = zip(*(_cell(rows, metric, c) for c in names))
                    axis.errorbar(xs + dodge[system], means, yerr=np.nan_to_num(halves), linestyle=line, **style,
                                  label=label if names is plain or not plain else None)
        axis.set_xticks(np.concatenate([x_plain, x_others]), [_condition_label(c) for c in plain + others],
                        fontsize=8)
        if others:
            axis.axvline(len(plain) - 0.25, color="gray", lw=0.8, ls=":")
        axis.set_xlabel("test condition (input SNR)")
        axis.set_title(METRICS[metric])
        axis.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120, format="png", bbox_inches="tight")
    plt.close(figure)


def comparison_markdown(systems: list[System], method: str, metric: str = "sdr_imp") -> str:
    """How far `method` is above (or below) every other method in `metric`, per protocol, over all conditions:
    the headline claim of the table, stated with its sign rather than left to the reader."""
    label = METRICS.get(metric, metric)
    lines = [f"## {method} against the other methods", "",
             f"Difference of the mean {label} over all conditions (positive: {method} is better).", ""]
    for protocol in PROTOCOLS:
        ours = next((s for s in systems if s.method == method and s.protocol in (protocol, "both")), None)
        if ours is None:
            continue
        mean = mean_interval([row[metric] for row in ours.rows()])[0]
        for other in systems:
            if other.method == method or other.protocol not in (protocol, "both"):
                continue
            theirs = mean_interval([row[metric] for row in other.rows()])[0]
            verdict = "better" if mean > theirs else "worse"
            lines.append(f"- {protocol}: {method} {mean:.2f} vs {other.method} {theirs:.2f}: "
                         f"{mean - theirs:+.2f} dB ({verdict})")
    return "\n".join(lines + [""])


def write_results(systems: list[System], out_dir: str | Path, title: str, compare: str | None = None) -> None:
    """RESULTS.md (with the comparison of method `compare` when given) and results.png in `out_dir`."""
    out_dir = Path(out_dir)
    text = results_markdown(systems, title)
    if compare is not None:
        text += "\n" + comparison_markdown(systems, compare)
    write_text_atomic(out_dir / "RESULTS.md", text + "\n![results](results.png)\n")
    plot_results(systems, out_dir / "results.png")
