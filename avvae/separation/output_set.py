"""Sets of output files made from one input into a user's folder (`separate`): the folder checked before any work
(created, writable, room for the outputs), the set written as a whole (every file, or none and the old set kept),
and a sidecar `<stem>.json` that names the input that made it, so that a second input of the same file name (a/mix.wav
after b/mix.wav) is refused instead of overwriting the first one's outputs. A rerun from the same input replaces
its own set."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from avvae.errors import AvvaeError
from avvae.fileio.atomic import write_text_atomic


class OutputDirError(AvvaeError):
    """The output folder cannot take the outputs: not creatable or writable, too little space, or it holds the
    outputs of another input of the same name."""


def check_output_dir(directory: Path, needed_bytes: int) -> None:
    """Create `directory`, write a scratch file in it, and check that it has `needed_bytes` free."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputDirError(f"{directory}: cannot create the output folder ({error.strerror or error})") from error
    try:
        with tempfile.TemporaryFile(dir=directory, prefix=".write-test") as handle:
            handle.write(b"avvae")
            handle.flush()
    except OSError as error:
        raise OutputDirError(f"{directory}: output folder is not writable ({error.strerror or error})") from error
    free = shutil.disk_usage(directory).free
    if free < needed_bytes:
        raise OutputDirError(
            f"{directory}: {free / 2**20:.1f} MiB free, the outputs need about {needed_bytes / 2**20:.1f} MiB: "
            "free some space or give another --out-dir"
        )


@dataclass(frozen=True)
class OutputSet:
    """The files `<directory>/<name>` of `names`, made from `source`; `stem` names the sidecar."""

    directory: Path
    stem: str
    source: Path
    names: tuple[str, ...]

    @property
    def sidecar(self) -> Path:
        return self.directory / f"{self.stem}.json"

    @property
    def paths(self) -> list[Path]:
        return [self.directory / name for name in self.names]

    def previous(self) -> dict | None:
        """The sidecar of the set already in the folder (None if there is none); refuses, naming both inputs, when
        that set, or files of this set's names, come from another input."""
        existing = [path for path in self.paths if path.exists()]
        if not self.sidecar.is_file():
            if existing:
                raise OutputDirError(
                    f"{self.directory}: {', '.join(p.name for p in existing)} exist(s) but {self.sidecar.name} (which "
                    f"input made them) does not; separating {self.source} would overwrite them: remove them or give "
                    "another --out-dir"
                )
            return None
        try:
            previous = json.loads(self.sidecar.read_text())
            made_from = Path(previous["source"])
        except (ValueError, KeyError, TypeError) as error:
            raise OutputDirError(
                f"{self.sidecar}: unreadable record of the input of {self.stem}_* ({error})"
            ) from error
        if made_from != self.source:
            raise OutputDirError(
                f"{self.directory}: the outputs {self.stem}_* there were made from {made_from}; {self.source} has the "
                "same file name and would overwrite them: give another --out-dir"
            )
        return previous

    def write(self, writers: dict[str, Callable[[Path], None]], record: dict) -> None:
        """Write every file of the set (writers[name](path) writes one), then move them all into place and write
        the sidecar (`record` plus the source and file names) last; if any writer fails, nothing is moved and
        the folder keeps what it had. Files of an earlier set from the same source that this one lacks go."""
        previous = self.previous() or {}
        parts = {name: self.directory / f".{name}.part{os.getpid()}" for name in self.names}
        try:
            for name, part in parts.items():
                try:
                    writers[name](part)
                except OSError as error:
                    free = shutil.disk_usage(self.directory).free / 2**20
                    raise OutputDirError(
                        f"{self.directory / name}: cannot write ({error.strerror or error}; {free:.1f} MiB free): "
                        "none of the outputs was written, the folder is as it was"
                    ) from error
            for name, part in parts.items():
                os.replace(part, self.directory / name)
        finally:
            for part in parts.values():
                part.unlink(missing_ok=True)
        for name in set(previous.get("outputs", [])) - set(self.names):
            (self.directory / Path(name).name).unlink(missing_ok=True)
        content = {"source": str(self.source), **record, "outputs": list(self.names)}
        write_text_atomic(self.sidecar, json.dumps(content, indent=1) + "\n")
