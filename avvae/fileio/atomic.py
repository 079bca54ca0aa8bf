"""Atomic outputs and done markers: a killed stage never leaves a file that looks complete."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Iterator


def temporary_name(path: Path) -> Path:
    """The name a file is written under before it is renamed to `path` (same folder, so rename is atomic)."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to `path` only if the block finishes without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write a whole text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def done_marker(directory: str | Path, name: str = "") -> Path:
    """Path of the marker a step writes last, e.g. `<dir>/.done` or `<dir>/.done.<name>`."""
    return Path(directory) / (f".done.{name}" if name else ".done")


def is_done(directory: str | Path, name: str = "") -> bool:
    """True when the step that owns `directory` finished."""
    return done_marker(directory, name).exists()


def mark_done(directory: str | Path, name: str = "") -> None:
    """Record that the step finished (time of completion inside, for the curious)."""
    write_text_atomic(done_marker(directory, name), time.strftime("%Y-%m-%d %H:%M:%S\n"))
