"""Done markers that record what produced a stage's output, so that a stage whose config or inputs changed refuses to
reuse its stale output (or redoes it when forced), and a killed stage does not resume under other settings.

A stage's output folder holds `.started[.<name>]` while it runs and `.done[.<name>]` once it finished: both a JSON
record of the stage's inputs (path -> identity) and options (name -> value), and a digest over them. A marker that is
not such a record (a bare date, written before provenance was recorded) has unknown provenance: it is accepted with a
warning, so existing experiment folders keep working. Likewise an option that a record lacks was not recorded when
it was written (the scores' speaker order, since 2026-11-29): not a change.

The identity of an input file is chosen to be cheap and robust:
- a provenance marker (e.g. the decode's `.done.decode`, which scoring reads): its digest, not its bytes (its time
  of completion would differ on every redo);
- a file up to SMALL_FILE bytes (configs, data-dir tables, model files, NMF dictionaries, small feature files): the
  sha256 of its content, which survives copies and touches and changes with any byte;
- a bigger file (a corpus's feats.h5): hashing gigabytes at every stage would cost minutes, so it is the digest of
  the provenance marker of the stage that wrote it, when that marker lists it as an output: that stage is
  deterministic, so the same digest means the same file, and a redo with other settings changes it; with no such
  marker (an older dump), its size and modification time, which change whenever the file is rewritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from avvae.fileio.atomic import done_marker, write_text_atomic

log = logging.getLogger(__name__)

RECORD_FORMAT = "avvae-provenance-1"
SMALL_FILE = 64 * 2**20
MISSING = "missing"
# What a model folder given as an input stands for: the files decoding or fine-tuning reads from it, in the folder
# and its subfolders one level down (the per-speaker models of an SD folder, the decoder part of a two-stage model).
MODEL_FILES = ("model.pt", "dictionaries.npz", "nmf.yaml")


class StaleOutputError(ValueError):
    """A stage's output (finished or partial) was made from other inputs or settings than the ones given now."""


@dataclass(frozen=True)
class Provenance:
    """What a stage is made from: input path -> identity, option name -> value; `outputs` are files (in the output
    folder) that later stages may identify by this record's digest."""

    inputs: dict[str, str]
    options: dict[str, str] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        text = json.dumps({"inputs": self.inputs, "options": self.options}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def to_record(self) -> dict:
        return {
            "format": RECORD_FORMAT,
            "digest": self.digest,
            "inputs": self.inputs,
            "options": self.options,
            "outputs": list(self.outputs),
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_record(marker: Path) -> dict | None:
    """The provenance record in a marker file, or None for a marker without one (old style: a bare date)."""
    try:
        record = json.loads(marker.read_text())
    except (ValueError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) and record.get("format") == RECORD_FORMAT else None


def file_identity(path: str | Path) -> str:
    """The identity of one input file (see the module docstring for the choice); MISSING if it does not exist."""
    path = Path(path)
    if not path.is_file():
        return MISSING
    stat = path.stat()
    if path.name.startswith(".done") and stat.st_size <= SMALL_FILE:
        record = read_record(path)
        if record is not None:
            return f"stage {record['digest']}"
    if stat.st_size <= SMALL_FILE:
        return f"sha256 {_sha256(path)}"
    upstream = done_marker(path.parent)
    record = read_record(upstream) if upstream.is_file() else None
    if record is not None and path.name in record.get("outputs", []):
        return f"stage {record['digest']}"
    return f"size {stat.st_size} mtime_ns {stat.st_mtime_ns}"


def data_dir_files(directory: str | Path) -> list[Path]:
    """A data dir's tables (wav.scp, utt2spk, segments, lips.scp, a mixture set's manifest.jsonl and mix.yaml ...):
    its non-hidden files, not its subfolders (logs, audio)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory}: missing input data dir")
    return sorted(path for path in directory.iterdir() if path.is_file() and not path.name.startswith("."))


def model_files(directory: str | Path) -> list[Path]:
    """The MODEL_FILES of a model folder and of its subfolders."""
    directory = Path(directory)
    candidates = [directory / name for name in MODEL_FILES]
    candidates += [sub / name for sub in sorted(directory.iterdir()) if sub.is_dir() for name in MODEL_FILES]
    return [path for path in candidates if path.is_file()]


def option_inputs(words: Iterable[str]) -> list[Path]:
    """The inputs named in a stage's pass-through options (e.g. `--init exp/avvae_si/model.pt`, `--model-dir
    exp/avvae_sd`): every word that names a file, and the model files of every word that names a folder; a word
    with a slash that names nothing is a missing input."""
    found: list[Path] = []
    for word in words:
        path = Path(word)
        if word.startswith("-") or not (path.exists() or "/" in word):
            continue
        found += (model_files(path) or [path]) if path.is_dir() else [path]  # a folder without models: missing
    return found


def describe_changes(old: dict, new: Provenance) -> list[str]:
    """What differs between a recorded provenance and the current one, in words naming each input and option."""
    changes = []
    old_inputs, old_options = old.get("inputs", {}), old.get("options", {})
    for path in sorted(set(old_inputs) | set(new.inputs)):
        before, now = old_inputs.get(path), new.inputs.get(path)
        if before == now or now == MISSING:  # a removed input cannot say it changed
            continue
        if before is None:
            changes.append(f"{path} is a new input")
        elif now is None:
            changes.append(f"{path} is no longer an input")
        else:
            changes.append(f"{path} changed")
    for name in sorted(set(old_options) | set(new.options)):
        if name in old_options and old_options[name] != new.options.get(name):  # absent: not recorded then
            changes.append(f"option {name} was {old_options.get(name)!r}, now {new.options.get(name)!r}")
    return changes


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _started_marker(directory: Path, name: str) -> Path:
    return directory / (f".started.{name}" if name else ".started")


def check_stage(
    directory: str | Path,
    current: Provenance,
    what: str,
    name: str = "",
    force: bool = False,
    outputs: Iterable[str | Path] = (),
) -> bool:
    """True when `directory` holds the finished output of this very stage (skip it). Otherwise the stage is to run:
    stale output (finished or partial, made from other inputs) is refused with StaleOutputError, or removed when
    `force` (`outputs`, default the whole folder, and the markers); then the start is recorded, so that a killed
    run is resumed only under the same provenance."""
    directory = Path(directory)
    marker, started = done_marker(directory, name), _started_marker(directory, name)
    stale: list[str] = []
    if marker.is_file():
        record = read_record(marker)
        if record is None:
            log.warning(
                "%s: %s has no provenance (made before it was recorded): reused as it is; delete %s to redo it",
                directory,
                marker.name,
                directory,
            )
            return True
        if record["digest"] == current.digest or not describe_changes(record, current):
            return True
        stale = [f"{', '.join(describe_changes(record, current))} since {what} was made", "redo it"]
    elif started.is_file() and (record := read_record(started)) is not None and describe_changes(record, current):
        changes = describe_changes(record, current)
        stale = [f"{', '.join(changes)} since {what} began (it did not finish)", "start it again"]
    if stale:
        message = f"{directory}: {stale[0]}"
        if not force:
            raise StaleOutputError(f"{message} (rerun with --force true to {stale[1]})")
        log.warning("%s: --force true, so the stale output is removed and made again", message)
        _remove([Path(path) for path in outputs] or [directory])
        _remove([marker, started])
    for path, identity in current.inputs.items():
        if identity == MISSING:
            raise ValueError(f"{path}: missing input of {directory}")
    directory.mkdir(parents=True, exist_ok=True)
    write_text_atomic(started, json.dumps(current.to_record(), indent=1, sort_keys=True) + "\n")
    return False


def mark_stage_done(directory: str | Path, current: Provenance, what: str, name: str = "") -> None:
    """Write the done marker with its provenance; refused if the inputs changed while the stage ran."""
    directory = Path(directory)
    started = _started_marker(directory, name)
    record = read_record(started) if started.is_file() else None
    if record is not None and record["digest"] != current.digest:
        changes = describe_changes(record, current) or ["inputs changed"]
        raise StaleOutputError(f"{directory}: {', '.join(changes)} while {what} ran: rerun it with --force true")
    finished = {**current.to_record(), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_text_atomic(done_marker(directory, name), json.dumps(finished, indent=1, sort_keys=True) + "\n")
    if started.is_file():
        os.unlink(started)
