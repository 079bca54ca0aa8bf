"""Where a run's time goes: wall-clock and CPU seconds per named stage, for a run's summary and the benchmarks."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and by its children that have ended (ffmpeg, worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class StageClock:
    """Wall and CPU seconds per stage, in the order the stages first ran; a stage run twice adds up."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall
            self.cpu[name] = self.cpu.get(name, 0.0) + cpu_seconds() - cpu

    def text(self) -> str:
        """'faces 17.0 s, mouths 3.4 s, ...' (wall seconds)."""
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.wall.items())
