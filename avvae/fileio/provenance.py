"""Done markers that record what produced a stage's output, so that a stage whose config or inputs changed refuses to
reuse its stale output (or redoes it when forced), and a killed stage does not resume under other settings.

A stage's output folder holds `.started[.<name>]` while it runs and `.done[.<name>]` once it finished: both a JSON
record of the stage's inputs (path -> identity) and options (name -> value), and a digest over them. The done marker
also lists the files of the stage's outputs (a file, or every file of a folder such as a decode's wav/) with their
sizes: a finished stage one of whose files is missing or has another size is not finished, and is redone (its other
files are kept, so that a resumable stage only redoes what is missing). A marker holding a bare date line (written
before provenance was recorded) has unknown provenance: it is accepted with a warning, so existing experiment folders
keep working. Any other marker that is not a record (cut short, emptied) is an error: what made the output is
unknown. Likewise an option that a record lacks was not recorded when it was written (the scores' speaker order,
since 2026-11-29): not a change.

The identity of an input file is chosen to be cheap and robust:
- a provenance marker (e.g. the decode's `.done.decode`, which scoring reads): its digest, not its bytes (its time
  of completion would differ on every redo), and the sizes and modification times of the output files it lists, so
  that outputs made again (the mixtures a decode redid after they were deleted) are new to the stages that read them:
  those are redone without --force (the same digest: made from the same things, so no choice is overridden);
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
import re
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from avvae.errors import AvvaeError, InputFileError
from avvae.fileio.atomic import done_marker, write_text_atomic

log = logging.getLogger(__name__)

RECORD_FORMAT = "avvae-provenance-1"
SMALL_FILE = 64 * 2**20
MISSING = "missing"
# What a model folder given as an input stands for: the files decoding or fine-tuning reads from it, in the folder
# and its subfolders one level down (the per-speaker models of an SD folder, the decoder part of a two-stage model).
MODEL_FILES = ("model.pt", "dictionaries.npz", "nmf.yaml")
# What markers held before provenance was recorded: one line with a year and a time, as `date` (in any locale) or
# avvae.fileio.atomic.mark_done writes it.
DATE_LINE = re.compile(r"(?=[^{\n]*\d{4})[^{\n]*\d\d?:\d\d:\d\d[^{\n]*\n?")


class StaleOutputError(AvvaeError):
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


def is_date_line(marker: Path) -> bool:
    """Whether a marker holds what markers held before provenance was recorded (DATE_LINE)."""
    return DATE_LINE.fullmatch(marker.read_text(errors="replace")) is not None


def stage_identity(record: dict) -> str:
    """The identity of a stage's output: its record's digest, and the sizes and modification times of the output
    files it lists (new whenever the stage made one of them again)."""
    files = record.get("output_files")
    if not files:
        return f"stage {record['digest']}"
    listing = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    return f"stage {record['digest']} outputs {listing}"


def output_files(directory: Path, outputs: Iterable[str], what: str) -> dict[str, list[int]]:
    """The files of a stage's outputs (files of `directory`, or folders: their non-hidden files), by path in
    `directory`: [size, modification time in ns]; an output that does not exist is an error."""
    listing = {}
    for name in outputs:
        path = directory / name
        if not path.exists():
            raise InputFileError(f"{path}: missing output of {what} (the stage did not make it)")
        files = [path]
        if path.is_dir():
            files = sorted(file for file in path.rglob("*") if file.is_file() and not file.name.startswith("."))
        for file in files:
            stat = file.stat()
            listing[str(file.relative_to(directory))] = [stat.st_size, stat.st_mtime_ns]
    return listing


def damaged_outputs(directory: Path, record: dict) -> list[str]:
    """The output files a done marker lists that are missing now, or have another size."""
    damaged = []
    for name, (size, _) in record.get("output_files", {}).items():
        path = directory / name
        if not path.is_file() or path.stat().st_size != size:
            damaged.append(name)
    return damaged


def file_identity(path: str | Path) -> str:
    """The identity of one input file (see the module docstring for the choice); MISSING if it does not exist."""
    path = Path(path)
    if not path.is_file():
        return MISSING
    stat = path.stat()
    if path.name.startswith(".done") and stat.st_size <= SMALL_FILE:
        record = read_record(path)
        if record is not None:
            return stage_identity(record)
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
        raise InputFileError(f"{directory}: missing input data dir")
    return sorted(path for path in directory.iterdir() if path.is_file() and not path.name.startswith("."))


def model_files(directory: str | Path) -> list[Path]:
    """The MODEL_FILES of a model folder and of its subfolders."""
    directory = Path(directory)
    candidates = [directory / name for name in MODEL_FILES]
    candidates += [sub / name for sub in sorted(directory.iterdir()) if sub.is_dir() for name in MODEL_FILES]
    return [path for path in candidates if path.is_file()]


def option_words(opts: str, option: str = "--opts") -> list[str]:
    """The words of a stage's pass-through options string, split as the shell splits a command line (quotes and
    backslashes, nothing expanded), so that a path with spaces is one word when quoted in it; utils/split_opts.sh
    splits the string by this rule for the stage's jobs. An unbalanced quote is an error naming `option`."""
    try:
        return shlex.split(opts)
    except ValueError as error:
        raise ValueError(f"{option} {opts!r}: cannot split it as a shell would: {error}") from error


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


def _remade(before: str | None, now: str | None) -> bool:
    """Whether two identities are of one stage's output (the same digest) whose files were made again in between."""
    if before is None or now is None or before == now:
        return False
    old, new = before.split(), now.split()
    return old[0] == new[0] == "stage" and old[1] == new[1]


def remade_inputs(old: dict, new: Provenance) -> list[str]:
    """The inputs that their stage made again since the record, from the same inputs and options (e.g. the mixtures a
    decode redid after their wavs were deleted): not a change that makes the output stale, yet it is to be redone."""
    old_inputs = old.get("inputs", {})
    return sorted(path for path, now in new.inputs.items() if _remade(old_inputs.get(path), now))


def describe_changes(old: dict, new: Provenance) -> list[str]:
    """What differs between a recorded provenance and the current one, in words naming each input and option."""
    changes = []
    old_inputs, old_options = old.get("inputs", {}), old.get("options", {})
    for path in sorted(set(old_inputs) | set(new.inputs)):
        before, now = old_inputs.get(path), new.inputs.get(path)
        if before == now or now == MISSING or _remade(before, now):  # a removed input cannot say it changed
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


def _redo_damaged(directory: Path, marker: Path, record: dict, what: str) -> bool:
    """Whether a finished stage lost some of its output files (or has some of another size): if so, those of another
    size and the done marker are removed, so that the stage runs again and makes what is missing."""
    damaged = damaged_outputs(directory, record)
    if damaged:
        examples = ", ".join(damaged[:3]) + (", ..." if len(damaged) > 3 else "")
        log.warning(
            "%s: %d output file(s) of %s missing or of another size since it finished (%s): made again",
            directory,
            len(damaged),
            what,
            examples,
        )
        _remove([directory / name for name in damaged] + [marker])
    return bool(damaged)


def _reasons(directory: Path, record: dict, current: Provenance, since: str, action: str) -> tuple[list[str], str]:
    """Why the output that `record` describes is to be made again: stale ([what changed `since`, what --force does
    about it]), or [] and the inputs made again `since` (or "" when it can be kept)."""
    if changes := describe_changes(record, current):
        return [f"{directory}: {', '.join(changes)} {since}", action], ""
    inputs = remade_inputs(record, current)
    return [], f"{', '.join(inputs)} made again {since}" if inputs else ""


def check_stage(
    directory: str | Path,
    current: Provenance,
    what: str,
    name: str = "",
    force: bool = False,
    outputs: Iterable[str | Path] = (),
) -> bool:
    """True when `directory` holds the finished output of this very stage, all of its output files there (skip it).
    Otherwise the stage is to run: stale output (finished or partial, made from other inputs) is refused with
    StaleOutputError, as is output whose done marker cannot be read; or they are removed when `force` (`outputs`,
    default the whole folder, and the markers). Output made before an input stage made its files again (from the
    same inputs) is removed likewise, unforced. Then the start is recorded, so that a killed run is resumed only
    under the same provenance."""
    directory = Path(directory)
    marker, started = done_marker(directory, name), _started_marker(directory, name)
    stale: list[str] = []  # why the output cannot be kept, and what --force does about it
    remade = ""  # which inputs were made again since the output was (begun to be) made: it is redone, unforced
    if marker.is_file():
        record = read_record(marker)
        if record is None and is_date_line(marker):
            log.warning(
                "%s: %s has no provenance (made before it was recorded): reused as it is; delete %s to redo it",
                directory,
                marker.name,
                directory,
            )
            return True
        if record is None:
            stale = [
                f"{marker}: not a done marker (cut short or emptied?), so what made {what} is unknown: delete "
                f"it to redo {what}",
                f"remove {what} and make it again",
            ]
        else:
            stale, remade = _reasons(directory, record, current, f"since {what} was made", "redo it")
            if not stale and not remade and not _redo_damaged(directory, marker, record, what):
                return True
    elif started.is_file() and (record := read_record(started)) is not None:
        since = f"since {what} began (it did not finish)"
        stale, remade = _reasons(directory, record, current, since, "start it again")
    if stale and not force:
        raise StaleOutputError(f"{stale[0]} (rerun with --force true to {stale[1]})")
    if stale:
        log.warning("%s: --force true, so the stale output is removed and made again", stale[0])
    elif remade:
        log.warning("%s: %s: %s is made again too", directory, remade, what)
    if stale or remade:
        _remove([Path(path) for path in outputs] or [directory])
        _remove([marker, started])
    for path, identity in current.inputs.items():
        if identity == MISSING:
            raise InputFileError(f"{path}: missing input of {directory}")
    directory.mkdir(parents=True, exist_ok=True)
    write_text_atomic(started, json.dumps(current.to_record(), indent=1, sort_keys=True) + "\n")
    return False


def mark_stage_done(directory: str | Path, current: Provenance, what: str, name: str = "") -> None:
    """Write the done marker with its provenance and its output files; refused if the inputs changed while the stage
    ran."""
    directory = Path(directory)
    started = _started_marker(directory, name)
    record = read_record(started) if started.is_file() else None
    if record is not None and record["digest"] != current.digest:
        changes = describe_changes(record, current) or ["inputs changed"]
        raise StaleOutputError(f"{directory}: {', '.join(changes)} while {what} ran: rerun it with --force true")
    files = output_files(directory, current.outputs, what)
    finished = {**current.to_record(), "output_files": files, "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_text_atomic(done_marker(directory, name), json.dumps(finished, indent=1, sort_keys=True) + "\n")
    if started.is_file():
        os.unlink(started)
