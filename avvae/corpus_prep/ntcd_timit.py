"""NTCD-TIMIT: the release's clean audio, lip ROIs and noisy versions into the recipe's data dirs.

Read from the corpus root (paths are settings of conf/corpus.yaml):
- clean speech `Clean/{group}/{spk}/straightcam/{utt}.wav` (group `volunteers` or `lipspeakers`), 16 kHz;
- lip ROIs `<lips_root>/{split}/{spk}/{utt}.mat`, one MATLAB v7.3 file per utterance (see avvae.corpus_prep.ntcd_lips),
  29.97 fps; `{split}` is the release's own train/dev/test folder of that speaker;
- noisy speech `<noisy_root>/{noise}/{snr}/{group}/{spk}/straightcam/{utt}.wav`, noise folders `Babble`, `Cafe`, ...;
  noisy = clean + noise sample for sample, so noisy - clean is the noise.
`lips_root` and `noisy_root` left unset are found under the root by their pattern (see `resolve_layout`).
Written under CORPUS_DIR: lips/<spk>/<utt>.npz (the frames, trimmed to the audio), noise/<split>/<type>/ntcd.wav
(noise-only signals of each type, joined up to the configured duration), wav/ (only if the release's audio is not
16 kHz mono); and DATA_DIR/{train_si,dev_si,train_sd,test,noise_train,noise_test}, each validated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

from avvae.corpus_prep.common import (
    NOISE_SPLITS,
    CorpusLayoutError,
    Utterance,
    audio_at_rate,
    check_disjoint,
    crossfade_concatenate,
    find_unique_folder,
    fit_lips_to_audio,
    list_speakers,
    list_utterances,
    noise_folder_recordings,
    read_speaker_list,
    release_path,
    require,
    require_folder,
    resample,
    run_parallel,
    split_speaker_sets,
    write_noise_set,
    write_speech_set,
)
from avvae.corpus_prep.ntcd_lips import read_mat_lips
from avvae.fileio.audio import read_wav, write_wav
from avvae.fileio.lips import save_lips

log = logging.getLogger(__name__)

SPEAKER_SPLITS = ("lists", "release")


@dataclass
class NtcdConfig:
    """conf/corpus.yaml of egs/ntcd_timit: where the release's files are, the splits, the noise."""

    clean_audio: str = "Clean/{group}/{spk}/straightcam/{utt}.wav"
    lips_root: str | None = None
    lips_splits: list[str] = field(default_factory=lambda: ["train", "dev", "test"])
    noisy_root: str | None = None
    noisy_audio: str = "{noise}/{snr}/{group}/{spk}/straightcam/{utt}.wav"
    lips_fps: float = 29.97
    lips_size: int = 67
    lips_tolerance: float = 0.1
    volunteers_group: str = "volunteers"
    lipspeakers_group: str = "lipspeakers"
    speaker_split: str = "lists"
    train_speakers: str | None = None
    dev_speakers: str = "conf/speakers_dev.txt"
    test_speakers: str = "conf/speakers_test.txt"
    lipspeakers: list[str] = field(default_factory=list)
    test_utts_per_speaker: int = 20
    test_exclude: list[str] = field(default_factory=lambda: ["sa1", "sa2"])
    seed: int = 0
    noise_types: list[str] = field(default_factory=lambda: ["Babble", "Cafe", "Car", "LR", "Street", "White"])
    noise_snr: int = -5
    noise_seconds_train: float = 600.0
    noise_seconds_test: float = 120.0
    noise_crossfade: float = 0.01
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if self.speaker_split not in SPEAKER_SPLITS:
            raise CorpusLayoutError(
                f"corpus config speaker_split {self.speaker_split!r}: expected one of {', '.join(SPEAKER_SPLITS)}"
            )


@dataclass(frozen=True)
class _Source:
    """One utterance in the release: speaker, group (volunteers or lipspeakers) and sentence."""

    spk: str
    group: str
    utt: str


@dataclass(frozen=True)
class NtcdLayout:
    """Where one copy of the release keeps its parts, and each lip-ROI speaker's folder of the release's split."""

    root: Path
    lips_root: Path
    noisy_root: Path
    lips_folders: dict[str, Path]

    def lips_file(self, spk: str, utt: str) -> Path:
        """The `.mat` lip ROI file of one utterance (its speaker must have a lip folder)."""
        if spk not in self.lips_folders:
            raise CorpusLayoutError(f"{self.lips_root}: no lip ROI folder of speaker {spk} in any split folder")
        return self.lips_folders[spk] / f"{utt}.mat"

    def release_split(self, spk: str) -> str | None:
        """The release's own split (its lip folder's parent name) of a speaker, None without lips."""
        return self.lips_folders[spk].parent.name if spk in self.lips_folders else None


def _is_lips_root(folder: Path, splits: list[str]) -> bool:
    """A folder holding `<split>/<spk>/<utt>.mat` for one of the splits."""
    return any(
        (folder / split).is_dir() and next((folder / split).glob("*/*.mat"), None) is not None for split in splits
    )


def _is_noisy_root(folder: Path, noise_types: list[str]) -> bool:
    """A folder holding every configured noise-type folder."""
    return all((folder / kind).is_dir() for kind in noise_types)


def lip_folders(lips_root: Path, splits: list[str]) -> dict[str, Path]:
    """Each speaker's folder `<lips_root>/<split>/<spk>`; a speaker in two split folders is an error."""
    folders: dict[str, Path] = {}
    for split in splits:
        if not (lips_root / split).is_dir():
            continue
        for folder in sorted(p for p in (lips_root / split).iterdir() if p.is_dir()):
            if folder.name in folders:
                raise CorpusLayoutError(
                    f"speaker {folder.name} has lip ROIs in two split folders: {folders[folder.name]} and {folder}"
                )
            folders[folder.name] = folder
    if not folders:
        raise CorpusLayoutError(f"{lips_root}: no speaker folders under {', '.join(splits)} (lips_root)")
    return folders


def find_lips_root(root: Path, config: NtcdConfig) -> Path:
    """The lip ROI folder: `lips_root` (relative to the root, or absolute), or, when unset, the one folder under the
    root holding `{train,dev,test}/<spk>/<utt>.mat` (logged)."""
    if config.lips_root is not None:
        return require_folder(root / config.lips_root, "lip ROI folder (lips_root)")
    found = find_unique_folder(
        root,
        lambda f: _is_lips_root(f, config.lips_splits),
        f"lip ROI folder ({'|'.join(config.lips_splits)}/<spk>/<utt>.mat)",
    )
    log.info("lip ROIs found in %s (set lips_root in the corpus config to choose another)", found)
    return found


def find_noisy_root(root: Path, config: NtcdConfig) -> Path:
    """The noisy speech folder: `noisy_root` (relative to the root, or absolute), or, when unset, the one folder under
    the root holding every noise-type folder (logged)."""
    if config.noisy_root is not None:
        return require_folder(root / config.noisy_root, "noisy speech folder (noisy_root)")
    found = find_unique_folder(
        root,
        lambda f: _is_noisy_root(f, config.noise_types),
        f"noisy speech folder (holding {', '.join(config.noise_types)})",
    )
    log.info("noisy speech found in %s (set noisy_root in the corpus config to choose another)", found)
    return found


def resolve_layout(db_root: str | Path, config: NtcdConfig) -> NtcdLayout:
    """Where this copy of the release keeps its lip ROIs and noisy speech, and each lip speaker's split folder."""
    root = require_folder(Path(db_root), "NTCD-TIMIT root")
    lips_root = find_lips_root(root, config)
    return NtcdLayout(root, lips_root, find_noisy_root(root, config), lip_folders(lips_root, config.lips_splits))


def speaker_splits(layout: NtcdLayout, config: NtcdConfig) -> dict[str, list[str]]:
    """Volunteers of each split: from the lists (train: every other volunteer, unless listed) or, with
    `speaker_split: release`, from the release's own split folders of the lip ROIs."""
    volunteers = list_speakers(layout.root, config.clean_audio, group=config.volunteers_group)
    if config.speaker_split == "release":
        named = dict(zip(config.lips_splits, ("train", "dev", "test")))
        splits = {
            name: [spk for spk in volunteers if named.get(layout.release_split(spk) or "") == name]
            for name in ("train", "dev", "test")
        }
        unplaced = [spk for spk in volunteers if layout.release_split(spk) is None]
        if unplaced:
            raise CorpusLayoutError(
                f"{layout.lips_root}: no lip ROI folder of volunteer(s) {', '.join(unplaced)}, so "
                "their release split is unknown"
            )
    else:
        dev, test = read_speaker_list(config.dev_speakers), read_speaker_list(config.test_speakers)
        if config.train_speakers is not None:
            train = read_speaker_list(config.train_speakers)
        else:
            train = [spk for spk in volunteers if spk not in dev and spk not in test]
        splits = {"train": train, "dev": dev, "test": test}
    check_disjoint({**splits, "lipspeakers": config.lipspeakers})
    return splits


def _convert_lips(job: tuple[Path, Path, Path, NtcdConfig]) -> None:
    """Write one utterance's `.mat` lip ROIs as a lips .npz trimmed to its audio (skipped when already there)."""
    source, wav, target, config = job
    if target.is_file():
        return
    frames = read_mat_lips(source, config.lips_size)
    audio = soundfile.info(str(wav))
    fitted = fit_lips_to_audio(frames, config.lips_fps, audio.frames, audio.samplerate, config.lips_tolerance, source)
    save_lips(target, fitted, config.lips_fps)


def _noise_only(layout: NtcdLayout, source: _Source, kind: str, config: NtcdConfig) -> tuple[np.ndarray, int]:
    """noisy - clean of one utterance, at the release's rate; the two files must have the same length."""
    clean_path = release_path(layout.root, config.clean_audio, group=source.group, spk=source.spk, utt=source.utt)
    noisy_path = release_path(
        layout.noisy_root,
        config.noisy_audio,
        noise=kind,
        snr=str(config.noise_snr),
        group=source.group,
        spk=source.spk,
        utt=source.utt,
    )
    require(noisy_path, f"noisy version ({kind}, {config.noise_snr} dB)")
    clean, rate = read_wav(clean_path)
    noisy, noisy_rate = read_wav(noisy_path)
    if noisy_rate != rate or len(noisy) != len(clean):
        raise CorpusLayoutError(
            f"{noisy_path}: {len(noisy)} samples at {noisy_rate} Hz, but the clean {clean_path} has {len(clean)} at "
            f"{rate} Hz: noisy - clean needs both the same"
        )
    clipped = int(np.sum(np.abs(noisy) >= 0.999))
    if clipped > 0.001 * len(noisy):
        log.warning("%s: %d clipped samples: noisy - clean is not the noise there", noisy_path, clipped)
    return noisy - clean, rate


def _write_noise(
    layout: NtcdLayout, sources: list[_Source], split: str, seconds: float, corpus_dir: Path, config: NtcdConfig
) -> None:
    """Per noise type, noise-only signals of `sources` (in order) joined until `seconds` long.

    The speakers they may come from are kept in `speakers.txt`: noise made for another split is refused, so that a
    changed split never trains on noise cut from its test speakers' utterances."""
    record = corpus_dir / "noise" / split / "speakers.txt"
    speakers = "".join(f"{spk}\n" for spk in sorted({source.spk for source in sources}))
    if record.is_file() and record.read_text() != speakers:
        raise CorpusLayoutError(
            f"{record}: the {split} noise there was made from other speakers than this split's; "
            f"delete {corpus_dir / 'noise'} to make it again"
        )
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(speakers)
    for kind in config.noise_types:
        target = corpus_dir / "noise" / split / kind / "ntcd.wav"
        if target.is_file():
            continue
        segments, total, rate = [], 0.0, config.sample_rate
        for source in sources:
            noise, rate = _noise_only(layout, source, kind, config)
            segments.append(noise)
            total += len(noise) / rate
            if total >= seconds:
                break
        if total < seconds:
            log.warning("%s noise for %s: only %.1f s of noisy utterances, wanted %.1f s", kind, split, total, seconds)
        joined = crossfade_concatenate(segments, int(config.noise_crossfade * rate))
        write_wav(target, resample(joined, rate, config.sample_rate), config.sample_rate)
        log.info("%s: %.1f s of %s noise from %d utterances", target, len(joined) / rate, kind, len(segments))


def _split_sources(layout: NtcdLayout, config: NtcdConfig) -> dict[str, list[_Source]]:
    """The release's utterances of each speech set (speakers from the split, test utterances drawn per speaker)."""
    root = layout.root
    speakers = speaker_splits(layout, config)
    log.info(
        "speaker split (%s): %s",
        config.speaker_split,
        "; ".join(f"{name} {len(spks)}: {' '.join(spks)}" for name, spks in speakers.items()),
    )
    groups = {spk: config.volunteers_group for split in speakers.values() for spk in split}
    groups.update({spk: config.lipspeakers_group for spk in config.lipspeakers})
    utts = {spk: list_utterances(root, config.clean_audio, group=group, spk=spk) for spk, group in groups.items()}
    for spk, names in utts.items():
        if not names:
            raise CorpusLayoutError(
                f"{release_path(root, config.clean_audio, group=groups[spk], spk=spk, utt='*')}: "
                f"no clean utterances of speaker {spk}"
            )
    sets = split_speaker_sets(
        utts,
        {**speakers, "train": speakers["train"] + config.lipspeakers},
        config.test_utts_per_speaker,
        config.seed,
        config.test_exclude,
    )
    return {name: [_Source(spk, groups[spk], utt) for spk, utt in pairs] for name, pairs in sets.items()}


def prepare_ntcd_timit(
    db_root: str | Path, config: NtcdConfig, corpus_dir: str | Path, data_dir: str | Path, nj: int = 1
) -> dict[str, int]:
    """Write the speech and noise data dirs of NTCD-TIMIT (see module docstring); returns each set's size."""
    corpus_dir, data_dir = Path(corpus_dir).resolve(), Path(data_dir)
    layout = resolve_layout(db_root, config)
    sets = _split_sources(layout, config)

    def utterance(s: _Source) -> Utterance:
        clean = release_path(layout.root, config.clean_audio, group=s.group, spk=s.spk, utt=s.utt)
        wav = audio_at_rate(clean, corpus_dir / "wav" / s.spk / f"{s.utt}.wav", config.sample_rate)
        return Utterance(f"{s.spk}_{s.utt}", s.spk, wav, corpus_dir / "lips" / s.spk / f"{s.utt}.npz")

    utterances = {name: [utterance(s) for s in sources] for name, sources in sets.items()}
    jobs = [
        (layout.lips_file(s.spk, s.utt), u.wav, u.lips, config)
        for name in sets
        for s, u in zip(sets[name], utterances[name])
    ]
    run_parallel(_convert_lips, jobs, nj, "lips")

    volunteers = [s for s in sets["train_si"] if s.group == config.volunteers_group]
    _write_noise(layout, volunteers, "train", config.noise_seconds_train, corpus_dir, config)
    _write_noise(layout, sets["test"], "test", config.noise_seconds_test, corpus_dir, config)

    counts = {name: write_speech_set(data_dir / name, utterances[name], config.sample_rate) for name in sets}
    for name, split in NOISE_SPLITS.items():
        recordings = noise_folder_recordings(corpus_dir / "noise", split, corpus_dir, config.sample_rate)
        counts[name] = write_noise_set(data_dir / name, recordings, config.sample_rate)
    return counts
