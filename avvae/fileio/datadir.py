"""Kaldi-style data directories: reading and writing the key-value files, and validating a directory.

A speech set `data/<set>/` holds wav.scp, utt2spk, spk2utt and lips.scp (optional text). A mixture set
`data/<set>_mix/` holds wav.scp (the mixtures), spk<j>.scp and lips<j>.scp for each speaker j = 1..J (the scaled
reference sources and their lips), noise1.scp (the scaled noise), utt2spk/spk2utt (each mixture is its own
"speaker", as in ESPnet's enh recipes) and manifest.jsonl (how each mixture was built). All files are sorted by
key, keys unique.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import soundfile

from avvae.errors import AvvaeError
from avvae.fileio.atomic import write_text_atomic
from avvae.fileio.audio import AudioFileError, check_complete
from avvae.fileio.lips import LipsFileError, load_lips


class DataDirError(AvvaeError):
    """A data directory breaks the conventions; the message names the file and the problem."""


def read_table(path: str | Path) -> dict[str, str]:
    """Read `key value...` lines into an ordered dict; fails on a duplicated or unsorted key."""
    path = Path(path)
    if not path.is_file():
        raise DataDirError(f"{path}: file does not exist")
    table: dict[str, str] = {}
    previous = None
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            raise DataDirError(f"{path}:{number}: empty line")
        key, _, value = line.strip().partition(" ")
        if not value.strip():
            raise DataDirError(f"{path}:{number}: key {key!r} has no value")
        if key in table:
            raise DataDirError(f"{path}:{number}: duplicated key {key!r}")
        if previous is not None and key < previous:
            raise DataDirError(f"{path}:{number}: keys not sorted ({key!r} after {previous!r}); sort with LC_ALL=C")
        table[key] = value.strip()
        previous = key
    return table


def write_table(path: str | Path, table: dict[str, str]) -> None:
    """Write `key value` lines sorted by key (C order), atomically."""
    write_text_atomic(path, "".join(f"{key} {table[key]}\n" for key in sorted(table)))


def spk2utt_from_utt2spk(utt2spk: dict[str, str]) -> dict[str, str]:
    """Invert utt2spk into spk2utt (utterances sorted)."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for utt in sorted(utt2spk):
        grouped[utt2spk[utt]].append(utt)
    return {spk: " ".join(utts) for spk, utts in grouped.items()}


def write_speech_dir(
    directory: str | Path,
    wavs: dict[str, str],
    utt2spk: dict[str, str],
    lips: dict[str, str],
    text: dict[str, str] | None = None,
) -> None:
    """Write a speech data dir from its tables (spk2utt derived)."""
    directory = Path(directory)
    write_table(directory / "wav.scp", wavs)
    write_table(directory / "utt2spk", utt2spk)
    write_table(directory / "spk2utt", spk2utt_from_utt2spk(utt2spk))
    write_table(directory / "lips.scp", lips)
    if text is not None:
        write_table(directory / "text", text)


def is_mixture_dir(directory: str | Path) -> bool:
    return (Path(directory) / "spk1.scp").is_file()


def speaker_count(directory: str | Path) -> int:
    """Number of speakers J in a mixture dir (spk1.scp .. spkJ.scp)."""
    count = 0
    while (Path(directory) / f"spk{count + 1}.scp").is_file():
        count += 1
    return count


def _check_same_keys(reference: Path, keys: list[str], other: Path, other_keys: list[str]) -> None:
    if keys != other_keys:
        missing = sorted(set(keys) - set(other_keys))[:3]
        extra = sorted(set(other_keys) - set(keys))[:3]
        raise DataDirError(
            f"{other}: keys differ from {reference.name} (missing: {missing or 'none'}, extra: {extra or 'none'})"
        )


def _audio_length(scp: Path, key: str, path: str, sample_rate: int) -> float:
    """Duration in seconds of one scp entry, after checking the file exists and has the right rate."""
    file = Path(path)
    if not file.is_file():
        raise DataDirError(f"{scp}: {key}: audio file {file} does not exist")
    try:
        check_complete(file)
        info = soundfile.info(str(file))
    except AudioFileError as error:
        raise DataDirError(f"{scp}: {key}: {error}") from error
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise DataDirError(f"{scp}: {key}: cannot read {file} ({error})") from error
    if info.samplerate != sample_rate:
        raise DataDirError(f"{scp}: {key}: {file} has sample rate {info.samplerate} Hz, expected {sample_rate} Hz")
    if info.channels != 1:
        raise DataDirError(f"{scp}: {key}: {file} has {info.channels} channels, expected mono")
    if info.frames == 0:
        raise DataDirError(f"{scp}: {key}: {file} has no samples (an empty recording)")
    return info.frames / info.samplerate


def _lips_length(scp: Path, key: str, path: str, sizes: dict[tuple[int, int], str]) -> float:
    """Seconds of a lips file; its frame size must be that of the set's other lips (`sizes`: size -> first key)."""
    try:
        frames, fps = load_lips(path)
    except LipsFileError as error:
        raise DataDirError(f"{scp}: {key}: {error}") from error
    size = frames.shape[1:]
    if sizes and size not in sizes:
        ((other, first),) = sizes.items()
        raise DataDirError(
            f"{scp}: {key}: lip frames are {size[0]}x{size[1]} ({path}), but {first}'s are "
            f"{other[0]}x{other[1]}: every lips file of a set must have one frame size"
        )
    sizes.setdefault(size, key)
    return len(frames) / fps


def _check_lips_match(scp: Path, key: str, audio_seconds: float, lips_seconds: float, tolerance: float) -> None:
    if abs(audio_seconds - lips_seconds) > tolerance:
        raise DataDirError(
            f"{scp}: {key}: lips last {lips_seconds:.3f} s but the audio {audio_seconds:.3f} s "
            f"(tolerance {tolerance} s)"
        )


_KEY = re.compile(r"^[A-Za-z0-9_\-.]+$")


def _check_no_spaced_keys(scp: Path, table: dict[str, str]) -> None:
    """Refuse a line of a table of files whose key holds a space: its value is no file, but the value's words after
    the first are (the key's second part was read as the start of the path). Named before the tables are compared,
    which would blame another table (read_table's lines are its entries: no blank line is accepted)."""
    for number, (key, value) in enumerate(table.items(), start=1):
        head, _, tail = value.partition(" ")
        if tail and not Path(value).exists() and Path(tail).exists():
            raise DataDirError(
                f"{scp}:{number}: no file {value!r} for key {key!r}, but {tail} exists: is "
                f"{key + ' ' + head!r} a key with a space? Keys cannot hold one"
            )


def _check_utt2spk_fields(path: Path, utt2spk: dict[str, str]) -> None:
    """Refuse an utt2spk line of more than two words (a key or a speaker with a space): spk2utt would be blamed."""
    for number, (key, spk) in enumerate(utt2spk.items(), start=1):
        if " " in spk:
            raise DataDirError(
                f"{path}:{number}: {len(spk.split()) + 1} words ({key} {spk}), expected "
                "'<utterance> <speaker>': an utterance or speaker with a space? Neither can hold one"
            )


def validate_data_dir(
    directory: str | Path, sample_rate: int = 16000, lips_tolerance: float = 0.1, require_lips: bool = True
) -> int:
    """Check a speech or mixture data dir (see module docstring); returns the number of utterances.

    `require_lips=False` accepts a speech dir without lips.scp (a noise set).
    Raises DataDirError naming the offending file for: a missing file, duplicated or unsorted keys, a key or
    speaker with a space (and its line), key sets that disagree, utt2spk/spk2utt that disagree, a wrong sample rate,
    a wav without samples, and lips whose duration differs from the audio by more than `lips_tolerance` seconds.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataDirError(f"{directory}: data directory does not exist")
    wav_scp = directory / "wav.scp"
    wavs = read_table(wav_scp)
    keys = list(wavs)
    if not keys:
        raise DataDirError(f"{wav_scp}: no utterances")
    _check_no_spaced_keys(wav_scp, wavs)
    for key in keys:
        if not _KEY.match(key):
            raise DataDirError(f"{wav_scp}: key {key!r} has characters outside [A-Za-z0-9_-.]")
    utt2spk = read_table(directory / "utt2spk")
    _check_utt2spk_fields(directory / "utt2spk", utt2spk)
    _check_same_keys(wav_scp, keys, directory / "utt2spk", list(utt2spk))
    spk2utt = read_table(directory / "spk2utt")
    if spk2utt != spk2utt_from_utt2spk(utt2spk):
        raise DataDirError(f"{directory / 'spk2utt'}: does not match utt2spk (regenerate it from utt2spk)")

    lengths = {key: _audio_length(wav_scp, key, path, sample_rate) for key, path in wavs.items()}
    if is_mixture_dir(directory):
        _validate_mixture_sources(directory, keys, lengths, sample_rate, lips_tolerance)
    elif require_lips or (directory / "lips.scp").is_file():
        lips_scp = directory / "lips.scp"
        lips = read_table(lips_scp)
        _check_no_spaced_keys(lips_scp, lips)
        _check_same_keys(wav_scp, keys, lips_scp, list(lips))
        sizes: dict[tuple[int, int], str] = {}
        for key, path in lips.items():
            _check_lips_match(lips_scp, key, lengths[key], _lips_length(lips_scp, key, path, sizes), lips_tolerance)
    return len(keys)


def _validate_mixture_sources(
    directory: Path, keys: list[str], lengths: dict[str, float], sample_rate: int, lips_tolerance: float
) -> None:
    wav_scp = directory / "wav.scp"
    for name in [f"spk{j}.scp" for j in range(1, speaker_count(directory) + 1)] + ["noise1.scp"]:
        scp = directory / name
        table = read_table(scp)
        _check_no_spaced_keys(scp, table)
        _check_same_keys(wav_scp, keys, scp, list(table))
        for key, path in table.items():
            if _audio_length(scp, key, path, sample_rate) != lengths[key]:
                raise DataDirError(f"{scp}: {key}: length differs from the mixture in wav.scp")
    sizes: dict[tuple[int, int], str] = {}
    for j in range(1, speaker_count(directory) + 1):
        scp = directory / f"lips{j}.scp"
        table = read_table(scp)
        _check_no_spaced_keys(scp, table)
        _check_same_keys(wav_scp, keys, scp, list(table))
        for key, path in table.items():
            _check_lips_match(scp, key, lengths[key], _lips_length(scp, key, path, sizes), lips_tolerance)
    read_manifest(directory, keys)


def _manifest_line(path: Path, number: int, line: str, num_speakers: int) -> dict:
    """One manifest line as a dict, after checking the keys that the feature dump and scoring read."""
    where = f"{path}:{number}"
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataDirError(f"{where}: not valid JSON ({error.msg} at column {error.colno})") from error
    if not isinstance(entry, dict):
        raise DataDirError(f"{where}: expected a JSON object, found {type(entry).__name__}")
    for key in ("id", "condition", "sources"):
        if key not in entry:
            raise DataDirError(f"{where}: key {key!r} is missing")
    for key in ("id", "condition"):
        if not isinstance(entry[key], str) or not entry[key]:
            raise DataDirError(f"{where}: key {key!r} must be a non-empty string, found {entry[key]!r}")
    sources = entry["sources"]
    if not isinstance(sources, list) or len(sources) != num_speakers:
        found = f"{len(sources)} sources" if isinstance(sources, list) else repr(sources)
        raise DataDirError(
            f"{where}: key 'sources' must be a list of {num_speakers} sources (one per spk<j>.scp), found {found}"
        )
    for j, source in enumerate(sources):
        if not isinstance(source, dict) or not isinstance(source.get("spk"), str) or not source["spk"]:
            raise DataDirError(
                f"{where}: key 'sources[{j}].spk' must be a non-empty string (the speaker id), found {source!r}"
            )
    return entry


def read_manifest(directory: str | Path, keys: list[str] | None = None) -> dict[str, dict]:
    """The manifest.jsonl of a mixture dir, by mixture id, every line checked: a JSON object whose `id` and
    `condition` are strings and whose `sources` list one object with a `spk` string per speaker (spk<j>.scp), one
    line per mixture of wav.scp (`keys`, read from wav.scp if not given). Errors name the file, line and key."""
    directory = Path(directory)
    path = directory / "manifest.jsonl"
    if not path.is_file():
        raise DataDirError(f"{path}: file does not exist (it records how mixtures were made)")
    keys = list(read_table(directory / "wav.scp")) if keys is None else keys
    count = speaker_count(directory)
    entries: dict[str, dict] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            raise DataDirError(f"{path}:{number}: empty line")
        entry = _manifest_line(path, number, line, count)
        if entry["id"] in entries:
            raise DataDirError(f"{path}:{number}: duplicated id {entry['id']!r}")
        entries[entry["id"]] = entry
    if set(entries) != set(keys):
        missing = sorted(set(keys) - set(entries))[:3]
        extra = sorted(set(entries) - set(keys))[:3]
        raise DataDirError(
            f"{path}: ids differ from the mixtures of wav.scp (missing: {missing or 'none'}, extra: {extra or 'none'})"
        )
    return entries
