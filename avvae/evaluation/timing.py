"""TIMING.md from the stage-time log that utils/stage_times.sh appends to (exp/stage_times.tsv).

Each line of the log is one run of one stage: `stage`, `name`, `wall_s`, `cpu_s` (user + system seconds of the
recipe shell and every job it waited for, so above wall when jobs ran in parallel), `date` (of the start) and
`status` ("ok" or "failed (exit N)"). A stage that found its work done still gets a line, so the table shows both
the latest run of each stage and its longest, which is the one that did the work.
"""

from __future__ import annotations

import csv
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from avvae.errors import InputFileError
from avvae.evaluation.source_commit import source_commit
from avvae.fileio.atomic import write_text_atomic

COLUMNS = ("stage", "name", "wall_s", "cpu_s", "date", "status")


@dataclass(frozen=True)
class StageRun:
    """One run of one stage, as logged."""

    stage: int
    name: str
    wall: float
    cpu: float
    date: str
    status: str


def read_stage_times(path: str | Path) -> list[StageRun]:
    """The runs logged in `path`, in log order; a malformed line is an error naming the file and line."""
    runs = []
    with open(path, newline="") as handle:
        for number, fields in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if len(fields) != len(COLUMNS):
                raise InputFileError(
                    f"{path}, line {number}: expected {len(COLUMNS)} tab-separated fields "
                    f"({', '.join(COLUMNS)}), got {len(fields)}"
                )
            try:
                runs.append(
                    StageRun(int(fields[0]), fields[1], float(fields[2]), float(fields[3]), fields[4], fields[5])
                )
            except ValueError as error:
                raise InputFileError(f"{path}, line {number}: {error}") from error
    return runs


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _ratio(run: StageRun) -> str:
    return f"{run.cpu / run.wall:.2f}" if run.wall > 0 else "-"


def timing_markdown(runs: list[StageRun], title: str) -> str:
    """The TIMING.md text: per stage its latest and its longest run, then every run in log order."""
    lines = [
        f"# {title}: stage times",
        "",
        f"- generated: {time.strftime('%Y-%m-%d %H:%M')} from exp/stage_times.tsv (utils/stage_times.sh)",
        f"- git: {source_commit()}; python {platform.python_version()}; {os.cpu_count()} CPUs",
        "- wall: elapsed time of the stage; CPU: user + system time of the stage's shell and every job it "
        "waited for (CPU / wall above 1: jobs ran in parallel; below 1: waiting or a shared machine)",
        "",
        "## Per stage",
        "",
        "| stage | name | runs | latest wall | latest CPU | CPU / wall | latest status | longest wall | "
        "its CPU | its date |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_stage: dict[int, list[StageRun]] = {}
    for run in runs:
        by_stage.setdefault(run.stage, []).append(run)
    for stage in sorted(by_stage):
        stage_runs = by_stage[stage]
        latest, longest = stage_runs[-1], max(stage_runs, key=lambda run: run.wall)
        lines.append(
            f"| {stage} | {latest.name} | {len(stage_runs)} | {_duration(latest.wall)} | "
            f"{_duration(latest.cpu)} | {_ratio(latest)} | {latest.status} | {_duration(longest.wall)} | "
            f"{_duration(longest.cpu)} | {longest.date} |"
        )
    lines += [
        "",
        "## Every stage run",
        "",
        "| date | stage | wall | CPU | CPU / wall | status |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {run.date} | {run.stage} | {_duration(run.wall)} | {_duration(run.cpu)} | {_ratio(run)} | {run.status} |"
        for run in runs
    ]
    return "\n".join(lines) + "\n"


def write_timing(stage_times: str | Path, out: str | Path, title: str) -> int:
    """Write TIMING.md `out` from the log `stage_times`; returns the number of stage runs."""
    runs = read_stage_times(stage_times)
    write_text_atomic(out, timing_markdown(runs, title))
    return len(runs)
