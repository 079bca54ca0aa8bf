"""RESULTS.md and its plot from per-utterance score TSVs: methods x conditions, SI and SD, mean and 95% interval.

A score TSV (written by the scoring stage, avvae.evaluation.scoring) has a header and one row per separated speaker:
`key`, `speaker`, `condition`, one column per metric (`sdr`, `sdr_imp`, `pesq`, ...), and in newer files `estimate` and
`permutation` ("best" where the system was scored with its best speaker order). Metric values may be "nan"
(undefined, e.g. the PESQ of an all-zero estimate) or "-inf"/"inf" (e.g. its SI-SDR): a cell averages the finite
values and counts the others, never averaging them into a NaN.
"""

from __future__ import annotations

import csv
import math
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avvae.errors import InputFileError
from avvae.evaluation.source_commit import source_commit
from avvae.fileio.atomic import atomic_path, write_text_atomic

# In table order: what is comparable across systems first (SI-SDR cannot be gained by scaling, STOI by attenuating).
METRICS = {
    "si_sdr_imp": "SI-SDR improvement (dB)",
    "stoi": "STOI",
    "stoi_imp": "STOI improvement",
    "sdr_imp": "SDR improvement (dB), BSS Eval v4",
    "sdr_v3_imp": "SDR improvement (dB), BSS Eval v3 bss_eval_sources",
    "sir_imp": "SIR improvement (dB)",
    "sar": "SAR (dB)",
    "pesq": "PESQ (wide-band)",
    "order_loss": "Error budget: SI-SDR lost to the speaker order (dB)",
    "leakage_share": "Error budget: the other talkers' share of the error (%)",
    "noise_share": "Error budget: the noise's share of the error (%)",
    "artifact_share": "Error budget: the share of neither (%)",
}
# Said under a table, once, where a reader needs to know how it was computed.
EXPLANATIONS = {
    "order_loss": "The SI-SDR of the estimate the best speaker permutation gives each speaker minus that of the "
    "estimate scored against it: what a wrong speaker order costs (0 where scored in the best order). The three "
    "tables below split the rest of the SI-SDR error, in the best order, by least squares on the references: the "
    "other talkers (leakage), the noise, and neither (distortion of the target, artifacts); shares of the error "
    "energy, which sum to about 100.",
}
# Below these values a metric no longer tells outputs apart. Wide-band PESQ: P.862.2 maps the bottom of the raw
# PESQ scale (-0.5) to MOS-LQO 1.04, and outputs with no intelligible speech sit at 1.02-1.04.
FLOORS = {"pesq": 1.05}
TEXT_COLUMNS = ("key", "speaker", "condition", "estimate", "permutation")
PROTOCOLS = ("SI", "SD")
DAGGER = "†"


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
    """Rows of a score TSV, metric columns as floats (NaN where a metric is undefined, +-inf where infinite)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if not rows:
        raise InputFileError(f"{path}: no scores")
    for number, row in enumerate(rows, start=2):
        for name in row:
            if name not in TEXT_COLUMNS:
                try:
                    row[name] = float(row[name])
                except (TypeError, ValueError):
                    raise InputFileError(f"{path}:{number}: column {name!r} is {row[name]!r}, not a number") from None
    return rows


def mean_interval(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of its 95% Student-t interval over the finite values (NaN, NaN when there are none)."""
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if len(finite) == 0:
        return math.nan, math.nan
    if len(finite) == 1:
        return float(finite[0]), math.nan
    from scipy import stats  # lazy: scipy.stats costs a second of start-up, for this one quantile

    half = stats.t.ppf(0.975, len(finite) - 1) * finite.std(ddof=1) / math.sqrt(len(finite))
    return float(finite.mean()), float(half)


def format_cell(values: list[float]) -> str:
    """ "mean ± half-width" of the finite values, then the count of the others: "(3 -inf)", "(2 n/a)" (undefined,
    left out); "–" for the mean when no value is finite."""
    mean, half = mean_interval(values)
    text = f"{mean:.2f} ± {half:.2f}" if math.isfinite(half) else _mean_text(mean)
    return text + _nonfinite_notes(values)


def _mean_text(mean: float) -> str:
    return "–" if math.isnan(mean) else f"{mean:.2f}"


def _nonfinite_notes(values: list[float]) -> str:
    counts = {
        "-inf": sum(v == -math.inf for v in values),
        "inf": sum(v == math.inf for v in values),
        "n/a": sum(math.isnan(v) for v in values),
    }
    notes = [f"{count} {name}" for name, count in counts.items() if count]
    return f" ({', '.join(notes)})" if notes else ""


def permutation_invariant(rows: list[dict]) -> bool:
    """Whether a system's rows were scored with the best speaker order (score files before that column: no)."""
    return any(row.get("permutation") == "best" for row in rows)


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


def _values(rows: list[dict], metric: str, condition: str) -> list[float]:
    return [r[metric] for r in rows if condition == "all" or r["condition"] == condition]


def _cell(rows: list[dict], metric: str, condition: str) -> tuple[float, float]:
    return mean_interval(_values(rows, metric, condition))


def _condition_label(condition: str) -> str:
    prefix, snr = _split_condition(condition)
    if not math.isfinite(snr):
        return condition
    return f"{prefix.replace('-', ' ')}{snr:g} dB"


INTRODUCTION = [
    "SI-SDR improvement and STOI lead: neither can be gained by merely scaling the output down. SDR here is BSS",
    "Eval v4 (museval, images mode, the whole signal as one window), which amounts to the scale-dependent SNR",
    "|s|^2 / |ŝ - s|^2 and so rewards attenuation: an all-zero output (the Silence row, a reference and not a",
    "method) scores 0 dB, an improvement of minus the mixture's SDR, several dB at a low input SNR. It follows with",
    "the BSS Eval v3 `bss_eval_sources` SDR that older papers report (which credits a 512-tap filtered target), SIR,",
    "SAR and wide-band PESQ.",
    "",
    "Mean over separated speakers, ± half-width of the 95% confidence interval (Student t). Columns: the",
    "SNR condition of the test mixtures; SI = speaker-independent models, SD = speaker-dependent ones",
    "(the mixture, silence and oracle rows do not depend on the protocol). A cell whose values are not all finite",
    'averages the finite ones and counts the others: "(k -inf)" infinite values (the SI-SDR of an all-zero',
    'estimate), "(k n/a)" undefined ones, left out (its SIR, SAR, v3 SDR and PESQ).',
]


def _row_label(method: str, systems: list[System], invariant: dict[System, bool]) -> str:
    """The method, marked with DAGGER (and the protocols concerned, unless all) where scored in the best order."""
    own = [s for s in systems if s.method == method]
    marked = [s for s in own if invariant[s]]
    if not marked:
        return method
    if len(marked) == len(own):
        return f"{method} {DAGGER}"
    return f"{method} {DAGGER} ({', '.join(s.protocol for s in marked)})"


def _floor_cell(rows: list[dict], metric: str) -> str:
    values = [r[metric] for r in rows if not math.isnan(r[metric])]
    return f"{sum(v < FLOORS[metric] for v in values)}/{len(values)}"


def results_markdown(systems: list[System], title: str) -> str:
    """The RESULTS.md text: a header with date, versions and git hash, what the metrics are, one table per metric."""
    rows_by_system = {system: system.rows() for system in systems}
    invariant = {system: permutation_invariant(rows) for system, rows in rows_by_system.items()}
    conditions = _conditions(rows_by_system)
    lines = [f"# {title}", "", *_header_lines(), "", *INTRODUCTION]
    if any(invariant.values()):
        lines.append(
            f"{DAGGER}: scored with the best speaker permutation (by SI-SDR): the system cannot tell the "
            "speakers apart (where protocols follow the mark, only in their columns)."
        )
    lines.append("")
    methods = list(dict.fromkeys(system.method for system in systems))
    for metric, label in METRICS.items():
        if not all(metric in rows[0] for rows in rows_by_system.values()):
            continue
        lines += [f"## {label}", ""]
        header = ["Method"] + [f"{p} {_condition_label(c)}" for p in PROTOCOLS for c in conditions]
        if metric in FLOORS:
            header += [f"{p} at floor" for p in PROTOCOLS]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for method in methods:
            by_protocol = {
                p: next((s for s in systems if s.method == method and s.protocol in (p, "both")), None)
                for p in PROTOCOLS
            }
            cells = [_row_label(method, systems, invariant)]
            for system in by_protocol.values():
                cells += [
                    "" if system is None else format_cell(_values(rows_by_system[system], metric, c))
                    for c in conditions
                ]
            if metric in FLOORS:
                cells += ["" if s is None else _floor_cell(rows_by_system[s], metric) for s in by_protocol.values()]
            lines.append("| " + " | ".join(cells) + " |")
        if metric in EXPLANATIONS:
            lines += ["", EXPLANATIONS[metric]]
        if metric in FLOORS:
            lines += [
                "",
                f"At floor: estimates (of those scored) with {label} below {FLOORS[metric]:g}, where the "
                "metric no longer tells outputs apart (wide-band PESQ bottoms out at 1.02-1.04).",
            ]
        lines.append("")
    lines += ["## Score files", ""]
    lines += [f"- {s.method} ({s.protocol}): " + ", ".join(f"`{path}`" for path in s.scores) for s in systems]
    lines.append("")
    return "\n".join(lines)


def _header_lines() -> list[str]:
    import torch

    return [
        f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
        f"- git: {source_commit()}",
        f"- python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}",
    ]


def plot_results(
    systems: list[System], path: str | Path, metrics: tuple[str, ...] = ("si_sdr_imp", "stoi", "sdr_imp", "pesq")
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
                    axis.errorbar(
                        xs + dodge[system],
                        means,
                        yerr=np.nan_to_num(halves),
                        linestyle=line,
                        **style,
                        label=label if names is plain or not plain else None,
                    )
        axis.set_xticks(np.concatenate([x_plain, x_others]), [_condition_label(c) for c in plain + others], fontsize=8)
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


def comparison_markdown(systems: list[System], method: str, metric: str = "si_sdr_imp") -> str:
    """How far `method` is above (or below) every other method in `metric`, per protocol, over all conditions:
    the headline claim of the table, stated with its sign rather than left to the reader. Means are over the finite
    values (the others counted); a system with none is not compared."""
    label = METRICS.get(metric, metric)
    unit = " dB" if "(dB)" in label else ""
    lines = [
        f"## {method} against the other methods",
        "",
        f"Difference of the mean {label} over all conditions (positive: {method} is better).",
        "",
    ]
    for protocol in PROTOCOLS:
        ours = next((s for s in systems if s.method == method and s.protocol in (protocol, "both")), None)
        if ours is None:
            continue
        our_values = [row[metric] for row in ours.rows()]
        mean = mean_interval(our_values)[0]
        for other in systems:
            if other.method == method or other.protocol not in (protocol, "both"):
                continue
            values = [row[metric] for row in other.rows()]
            theirs = mean_interval(values)[0]
            start = (
                f"- {protocol}: {method} {_mean_text(mean)}{_nonfinite_notes(our_values)} vs {other.method} "
                f"{_mean_text(theirs)}{_nonfinite_notes(values)}"
            )
            if math.isnan(mean) or math.isnan(theirs):
                lines.append(f"{start}: no finite values to compare")
                continue
            verdict = "better" if mean > theirs else "worse"
            lines.append(f"{start}: {mean - theirs:+.2f}{unit} ({verdict})")
    return "\n".join(lines + [""])


def write_results(
    systems: list[System], out_dir: str | Path, title: str, compare: str | None = None, notes: str | None = None
) -> None:
    """RESULTS.md (with the comparison of method `compare` when given, then a person's `notes` on the run) and
    results.png in `out_dir`."""
    out_dir = Path(out_dir)
    text = results_markdown(systems, title)
    if compare is not None:
        text += "\n" + comparison_markdown(systems, compare)
    if notes:
        text += "\n" + notes.rstrip() + "\n"
    write_text_atomic(out_dir / "RESULTS.md", text + "\n![results](results.png)\n")
    plot_results(systems, out_dir / "results.png")
