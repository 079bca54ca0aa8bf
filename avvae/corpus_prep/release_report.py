"""What a release checker found in a user's copy of a corpus, printed in one screen (avvae.bin.check_release)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from avvae.config import load_config

C = TypeVar("C")
SPEAKER_LISTS = ("train_speakers", "dev_speakers", "test_speakers")


@dataclass
class ReleaseReport:
    """Lines about what was found, per-speaker cells, and problems grouped by kind (each with its example)."""

    title: str
    found: list[str] = field(default_factory=list)
    legend: str = ""
    speakers: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def problem(self, kind: str, detail: str) -> None:
        """Record one problem, e.g. ("missing lip file", "<path>")."""
        self.problems[kind].append(detail)

    @property
    def problem_count(self) -> int:
        return sum(len(details) for details in self.problems.values())

    def render(self, width: int = 120, examples: int = 3) -> str:
        """The report as text: what was found, speakers in columns, each kind of problem with a few examples."""
        lines = [self.title, *(f"  {line}" for line in self.found)]
        if self.speakers:
            cell = max(len(text) for text in self.speakers) + 2
            per_line = max(1, (width - 2) // cell)
            lines.append(f"speakers ({len(self.speakers)}): {self.legend}")
            for start in range(0, len(self.speakers), per_line):
                row = self.speakers[start : start + per_line]
                lines.append("  " + "".join(text.ljust(cell) for text in row).rstrip())
        if not self.problems:
            lines.append("no problems found")
            return "\n".join(lines)
        lines.append(f"{self.problem_count} problem(s):")
        for kind, details in self.problems.items():
            lines.append(f"  {kind}: {len(details)}")
            lines.extend(f"    {detail}" for detail in details[:examples])
            if len(details) > examples:
                lines.append(f"    ... and {len(details) - examples} more")
        return "\n".join(lines)


def recipe_config(recipe: Path, schema: type[C]) -> C:
    """The recipe's conf/corpus.yaml, its speaker lists resolved against the recipe folder (as stage 1 reads them)."""
    config = load_config(recipe / "conf" / "corpus.yaml", schema)
    lists = {
        name: str(recipe / value)
        for name in SPEAKER_LISTS
        if (value := getattr(config, name)) is not None and not Path(value).is_absolute()
    }
    return dataclasses.replace(config, **lists)


def start_report(corpus: str, recipe: Path, root: Path) -> ReleaseReport:
    """An empty report on the copy of `corpus` at `root`, with a problem already when the root is not a folder."""
    report = ReleaseReport(f"{corpus} at {root} (layout and split of {recipe / 'conf' / 'corpus.yaml'})")
    if root.exists() and not root.is_dir():
        report.problem("root is not a folder", f"{root}: {corpus} root is a file, not a folder")
    elif not root.is_dir():
        report.problem("missing root", f"{root}: {corpus} root does not exist")
    return report
