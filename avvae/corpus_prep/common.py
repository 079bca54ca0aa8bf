"""What every real corpus's preparation shares: release file paths from templates, speaker lists, utterance splits,
audio at the recipe's rate, lip frames trimmed to the audio, noise recordings, and writing the data dirs.

A layout template is a path relative to the corpus root with `{spk}`, `{utt}` (and corpus-specific) fields, e.g.
`Clean/{group}/{spk}/straightcam/{utt}.wav`; `{utt}` must sit in the file name.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Callable, Collection, Sequence

import numpy as np
import scipy.signal
import soundfile
from tqdm import tqdm

from avvae.errors import AvvaeError
from avvae.fileio.audio import read_wav, write_wav
from avvae.fileio.datadir import spk2utt_from_utt2spk, validate_data_dir, write_speech_dir, write_table

NOISE_SPLITS = {"noise_train": "train", "noise_test": "test"}


class CorpusLayoutError(AvvaeError):
    """A file or folder of the release is missing or not as documented; the message names it."""


@dataclass(frozen=True)
class Utterance:
    """One utterance of a data dir: key, speaker, 16 kHz wav, lips .npz, and its words (or None)."""

    key: str
    spk: str
    wav: Path
    lips: Path
    text: str | None = None


def release_path(root: Path, template: str, **fields: str) -> Path:
    """The release file `template` names for these fields, under `root`."""
    try:
        return root / template.format(**fields)
    except KeyError as error:
        raise CorpusLayoutError(f"layout template {template!r} has an unknown field {error}") from None


def require(path: Path, what: str) -> Path:
    """`path` if it exists, else an error naming it and what it should have been."""
    if not path.exists():
        raise CorpusLayoutError(f"{path}: {what} does not exist")
    return path


def require_folder(path: Path, what: str) -> Path:
    """`path` if it is a folder, else an error naming it and what it should have been (a file there is said to be
    one, not taken for a missing folder)."""
    if path.exists() and not path.is_dir():
        raise CorpusLayoutError(f"{path}: {what} is a file, not a folder")
    return require(path, what)


def list_utterances(root: Path, template: str, **fields: str) -> list[str]:
    """Utterance names found for the template's other fields (e.g. every `{utt}.wav` of one speaker), sorted."""
    pattern = release_path(root, template, utt="\0", **fields)
    folder, name = pattern.parent, pattern.name
    if "\0" in str(folder):
        raise CorpusLayoutError(f"layout template {template!r}: {{utt}} must be in the file name")
    prefix, suffix = name.split("\0")
    require_folder(folder, "speaker folder")
    return sorted(
        p.name[len(prefix) : len(p.name) - len(suffix)] for p in folder.glob(f"{prefix}*{suffix}") if p.is_file()
    )


def list_speakers(root: Path, template: str, **fields: str) -> list[str]:
    """Speaker folder names found at the template's `{spk}` level, sorted."""
    head = template.split("{spk}")[0]
    folder = require_folder(root / head.format(**fields), "speakers' folder")
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def read_speaker_list(path: str | Path) -> list[str]:
    """Speaker names, one a line (`#` starts a comment); fails on a missing file, no names or a repeated name."""
    path = Path(path)
    require(path, "speaker list")
    names = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    names = [name for name in names if name]
    if not names:
        raise CorpusLayoutError(f"{path}: speaker list is empty")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CorpusLayoutError(f"{path}: speaker(s) listed twice: {', '.join(repeated)}")
    return names


def check_disjoint(lists: dict[str, list[str]]) -> None:
    """Fail if a speaker is in two of the named lists."""
    seen: dict[str, str] = {}
    for name, speakers in lists.items():
        for spk in speakers:
            if spk in seen:
                raise CorpusLayoutError(f"speaker {spk} is in both the {seen[spk]} and the {name} lists")
            seen[spk] = name


def split_test_utterances(utts: list[str], count: int, seed: int, spk: str, exclude: list[str]) -> set[str]:
    """The `count` utterances of one test speaker kept for testing (the rest is SD training), never `exclude`.

    Drawn with a generator seeded by (seed, speaker name), so a speaker's split does not depend on the others.
    """
    candidates = sorted(utt for utt in utts if utt not in exclude)
    if len(candidates) < count or len(utts) <= count:
        raise CorpusLayoutError(
            f"speaker {spk}: {len(utts)} utterances ({len(candidates)} testable), but {count} "
            "go to test and train_sd needs some"
        )
    rng = np.random.default_rng([seed, *spk.encode()])
    return set(rng.choice(candidates, size=count, replace=False).tolist())


def split_speaker_sets(
    utterances: dict[str, list[str]],
    speakers: dict[str, list[str]],
    test_count: int,
    seed: int,
    exclude: Collection[str] = (),
) -> dict[str, list[tuple[str, str]]]:
    """The (speaker, utterance) pairs of each speech set of a speaker split (`speakers`: "train", "dev" and "test"
    lists): train_si and dev_si every utterance of the training and dev speakers; of each test speaker, the
    `test_count` utterances drawn for test (split_test_utterances, never one of `exclude`) and the rest for train_sd.
    Speakers in their list's order, each speaker's utterances in the order of `utterances`."""
    tested = {
        spk: split_test_utterances(utterances.get(spk, []), test_count, seed, spk, list(exclude))
        for spk in speakers["test"]
    }

    def pairs(names: list[str], keep: Callable[[str, str], bool] = lambda spk, utt: True) -> list[tuple[str, str]]:
        return [(spk, utt) for spk in names for utt in utterances.get(spk, []) if keep(spk, utt)]

    return {
        "train_si": pairs(speakers["train"]),
        "dev_si": pairs(speakers["dev"]),
        "train_sd": pairs(speakers["test"], lambda spk, utt: utt not in tested[spk]),
        "test": pairs(speakers["test"], lambda spk, utt: utt in tested[spk]),
    }


def resample(samples: np.ndarray, source_rate: int, rate: int) -> np.ndarray:
    """Polyphase resampling from `source_rate` to `rate` (unchanged when equal)."""
    if source_rate == rate:
        return samples
    common = gcd(rate, source_rate)
    return scipy.signal.resample_poly(samples, rate // common, source_rate // common).astype(np.float32)


def audio_at_rate(source: Path, target: Path, rate: int) -> Path:
    """`source` itself when it is mono at `rate`; otherwise `target`, written once, resampled to `rate`."""
    require(source, "audio file")
    try:
        info = soundfile.info(str(source))
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise CorpusLayoutError(f"{source}: cannot read audio ({error})") from error
    if info.samplerate == rate and info.channels == 1:
        return source
    if not target.is_file():
        samples, source_rate = read_wav(source)
        write_wav(target, np.clip(resample(samples, source_rate, rate), -1.0, 1.0), rate, subtype="PCM_16")
    return target


def fit_lips_to_audio(
    frames: np.ndarray, fps: float, num_samples: int, rate: int, tolerance: float, where: Path
) -> np.ndarray:
    """Frames trimmed to the audio's duration; an error naming `where` if the video is too short to cover it."""
    seconds = num_samples / rate
    if len(frames) / fps < seconds - tolerance:
        raise CorpusLayoutError(
            f"{where}: {len(frames)} lip frames ({len(frames) / fps:.2f} s at {fps:g} fps) for {seconds:.2f} s of audio"
        )
    return frames[: max(1, int(round(seconds * fps)))]


def crossfade_concatenate(segments: list[np.ndarray], fade: int) -> np.ndarray:
    """Join recordings with `fade`-sample sine/cosine cross-fades (power-preserving for uncorrelated noise)."""
    out = np.asarray(segments[0], dtype=np.float32)
    for segment in segments[1:]:
        n = min(fade, len(out), len(segment))
        ramp = np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / max(n, 1)).astype(np.float32)
        join = out[len(out) - n :] * ramp[::-1] + segment[:n] * ramp
        out = np.concatenate([out[: len(out) - n], join, segment[n:]]).astype(np.float32)
    return out


def write_speech_set(directory: Path, utterances: list[Utterance], rate: int) -> int:
    """Write and validate one speech data dir (absolute paths); returns its number of utterances."""
    if not utterances:
        raise CorpusLayoutError(f"{directory}: no utterances for this set (check the speaker lists)")
    texts = {u.key: u.text for u in utterances if u.text is not None}
    write_speech_dir(
        directory,
        wavs={u.key: str(u.wav.resolve()) for u in utterances},
        utt2spk={u.key: u.spk for u in utterances},
        lips={u.key: str(u.lips.resolve()) for u in utterances},
        text=texts if len(texts) == len(utterances) else None,
    )
    return validate_data_dir(directory, rate)


def write_noise_set(directory: Path, recordings: dict[str, tuple[Path, str]], rate: int) -> int:
    """Write and validate one noise data dir from {noise id: (wav, noise type)}; utt2spk maps id -> type."""
    if not recordings:
        raise CorpusLayoutError(f"{directory}: no noise recordings")
    write_table(directory / "wav.scp", {key: str(path.resolve()) for key, (path, _) in recordings.items()})
    utt2spk = {key: kind for key, (_, kind) in recordings.items()}
    write_table(directory / "utt2spk", utt2spk)
    write_table(directory / "spk2utt", spk2utt_from_utt2spk(utt2spk))
    return validate_data_dir(directory, rate, require_lips=False)


def noise_folder_recordings(noise_root: Path, split: str, corpus_dir: Path, rate: int) -> dict[str, tuple[Path, str]]:
    """Noise recordings of a folder `<noise_root>/<split>/<type>/<name>.wav` (other rates resampled into
    CORPUS_DIR/noise_resampled)."""
    folder = require_folder(noise_root / split, f"{split} noise folder (<noise_root>/{split}/<type>/<name>.wav)")
    recordings = {}
    for kind_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for wav in sorted(kind_dir.glob("*.wav")):
            key = f"{kind_dir.name}_{split}_{wav.stem}"
            resampled = corpus_dir / "noise_resampled" / split / kind_dir.name / wav.name
            recordings[key] = (audio_at_rate(wav, resampled, rate), kind_dir.name)
    if not recordings:
        raise CorpusLayoutError(f"{folder}: no <type>/<name>.wav noise recordings")
    return recordings


def run_parallel(function: Callable, jobs: Sequence, nj: int, what: str) -> None:
    """Apply `function` to every job, in `nj` processes (in this one when nj is 1); the first error stops all."""
    if nj <= 1:
        for job in tqdm(jobs, desc=what, unit="utt", mininterval=5.0):
            function(job)
        return
    with multiprocessing.Pool(nj) as pool:
        for _ in tqdm(
            pool.imap_unordered(function, jobs, chunksize=4), total=len(jobs), desc=what, unit="utt", mininterval=5.0
        ):
            pass


def find_unique_folder(root: Path, is_match: Callable[[Path], bool], what: str, max_depth: int = 8) -> Path:
    """The one folder under `root` (itself included, down to `max_depth` levels) for which `is_match` holds.

    Matched folders are not searched further; linked folders are followed (each real folder visited once) and
    unreadable ones skipped. No match, or two, is an error that names `what`, `root` and the folders found, so that
    the user can set the path in the config instead.
    """
    found, level, seen = [], [root], set()
    for _ in range(max_depth + 1):
        deeper = []
        for folder in level:
            if folder.resolve() in seen:
                continue
            seen.add(folder.resolve())
            if is_match(folder):
                found.append(folder)
                continue
            try:
                deeper.extend(sorted(p for p in folder.iterdir() if p.is_dir()))
            except PermissionError:
                continue
        level = deeper
    if not found:
        raise CorpusLayoutError(f"{root}: no {what} found within {max_depth} folder levels; set its path in the config")
    if len(found) > 1:
        raise CorpusLayoutError(
            f"{root}: {len(found)} candidates for the {what}: {', '.join(map(str, found))}; set "
            "the one to use in the config"
        )
    return found[0]
