"""NTCD-TIMIT: the release's clean audio, lip ROIs and noisy versions into the recipe's data dirs.

Read from the corpus root (every path is a template of conf/corpus.yaml):
- clean speech `Clean/{group}/{spk}/straightcam/{utt}.wav` (group `volunteers` or `lipspeakers`);
- lip ROIs `lips_roi/{group}/{spk}/straightcam/{utt}/`, a folder of numbered 67x67 grayscale PNG frames at 30 fps;
- noisy speech `{noise}/{snr}/{group}/{spk}/straightcam/{utt}.wav`, whose noise is noisy - clean.
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
from PIL import Image, UnidentifiedImageError

from avvae.audio import read_wav, write_wav
from avvae.corpus_prep.common import (
    NOISE_SPLITS,
    CorpusLayoutError,
    Utterance,
    audio_at_rate,
    check_disjoint,
    crossfade_concatenate,
    fit_lips_to_audio,
    gray_frame,
    list_speakers,
    list_utterances,
    natural_key,
    noise_folder_recordings,
    read_speaker_list,
    release_path,
    require,
    resample,
    run_parallel,
    split_test_utterances,
    write_noise_set,
    write_speech_set,
)
from avvae.lips import save_lips

log = logging.getLogger(__name__)


@dataclass
class NtcdConfig:
    """conf/corpus.yaml of egs/ntcd_timit: where the release's files are, the splits, the noise."""

    clean_audio: str = "Clean/{group}/{spk}/straightcam/{utt}.wav"
    noisy_audio: str = "{noise}/{snr}/{group}/{spk}/straightcam/{utt}.wav"
    lips: str = "lips_roi/{group}/{spk}/straightcam/{utt}"
    lips_fps: float = 30.0
    lips_size: int = 67
    lips_tolerance: float = 0.1
    volunteers_group: str = "volunteers"
    lipspeakers_group: str = "lipspeakers"
    train_speakers: str | None = None
    dev_speakers: str = "conf/speakers_dev.txt"
    test_speakers: str = "conf/speakers_test.txt"
    lipspeakers: list[str] = field(default_factory=list)
    test_utts_per_speaker: int = 20
    test_exclude: list[str] = field(default_factory=lambda: ["sa1", "sa2"])
    seed: int = 0
    noise_types: list[str] = field(default_factory=lambda: ["LR", "babble", "cafe", "car", "street", "white"])
    noise_snr: int = -5
    noise_seconds_train: float = 600.0
    noise_seconds_test: float = 120.0
    noise_crossfade: float = 0.01
    sample_rate: int = 16000


@dataclass(frozen=True)
class _Source:
    """One utterance in the release: speaker, group (volunteers or lipspeakers) and sentence."""

    spk: str
    group: str
    utt: str


def _speakers(root: Path, config: NtcdConfig) -> dict[str, list[str]]:
    """Speakers of each split: dev and test from their lists, train from its list or every other volunteer."""
    dev, test = read_speaker_list(config.dev_speakers), read_speaker_list(config.test_speakers)
    if config.train_speakers is not None:
        train = read_speaker_list(config.train_speakers)
    else:
        found = list_speakers(root, config.clean_audio, group=config.volunteers_group)
        train = [spk for spk in found if spk not in dev and spk not in test]
    check_disjoint({"train": train, "dev": dev, "test": test, "lipspeakers": config.lipspeakers})
    return {"train": train, "dev": dev, "test": test}


def _convert_lips(job: tuple[Path, Path, Path, NtcdConfig]) -> None:
    """Write one utterance's PNG frames as a lips .npz trimmed to its audio (skipped when already there)."""
    folder, wav, target, config = job
    if target.is_file():
        return
    require(folder, "lip ROI folder")
    files = sorted(folder.glob("*.png"), key=lambda path: natural_key(path.name))
    if not files:
        raise CorpusLayoutError(f"{folder}: no PNG lip frames in the lip ROI folder")
    frames = []
    for file in files:
        try:
            with Image.open(file) as image:
                frames.append(gray_frame(image, config.lips_size))
        except (OSError, UnidentifiedImageError) as error:
            raise CorpusLayoutError(f"{file}: cannot read lip frame ({error})") from error
    audio = soundfile.info(str(wav))
    fitted = fit_lips_to_audio(np.stack(frames), config.lips_fps, audio.frames, audio.samplerate,
                               config.lips_tolerance, folder)
    save_lips(target, fitted, config.lips_fps)


def _noise_only(root: Path, source: _Source, kind: str, config: NtcdConfig) -> tuple[np.ndarray, int]:
    """noisy - clean of one utterance, at the release's rate; the two files must have the same length."""
    clean_path = release_path(root, config.clean_audio, group=source.group, spk=source.spk, utt=source.utt)
    noisy_path = release_path(root, config.noisy_audio, noise=kind, snr=str(config.noise_snr), group=source.group,
                              spk=source.spk, utt=source.utt)
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


def _write_noise(root: Path, sources: list[_Source], split: str, seconds: float, corpus_dir: Path,
                 config: NtcdConfig) -> None:
    """Per noise type, noise-only signals of `sources` (in order) joined until `seconds` long."""
    for kind in config.noise_types:
        target = corpus_dir / "noise" / split / kind / "ntcd.wav"
        if target.is_file():
            continue
        segments, total, rate = [], 0.0, config.sample_rate
        for source in sources:
            noise, rate = _noise_only(root, source, kind, config)
            segments.append(noise)
            total += len(noise) / rate
            if total >= seconds:
                break
        if total < seconds:
            log.warning("%s noise for %s: only %.1f s of noisy utterances, wanted %.1f s", kind, split, total, seconds)
        joined = crossfade_concatenate(segments, int(config.noise_crossfade * rate))
        write_wav(target, resample(joined, rate, config.sample_rate), config.sample_rate)
        log.info("%s: %.1f s of %s noise from %d utterances", target, len(joined) / rate, kind, len(segments))


def _split_sources(root: Path, config: NtcdConfig) -> dict[str, list[_Source]]:
    """The release's utterances of each speech set (speakers from the lists, test utterances drawn per speaker)."""
    speakers = _speakers(root, config)
    groups = {spk: config.volunteers_group for split in speakers.values() for spk in split}
    groups.update({spk: config.lipspeakers_group for spk in config.lipspeakers})
    utts = {spk: list_utterances(root, config.clean_audio, group=group, spk=spk) for spk, group in groups.items()}
    for spk, names in utts.items():
        if not names:
            raise CorpusLayoutError(f"{release_path(root, config.clean_audio, group=groups[spk], spk=spk, utt='*')}: "
                                    f"no clean utterances of speaker {spk}")
    tested = {spk: split_test_utterances(utts[spk], config.test_utts_per_speaker, config.seed, spk,
                                         config.test_exclude) for spk in speakers["test"]}

    def sources(names: list[str], keep=lambda spk, utt: True) -> list[_Source]:
        return [_Source(spk, groups[spk], utt) for spk in names for utt in utts[spk] if keep(spk, utt)]

    return {
        "train_si": sources(speakers["train"] + config.lipspeakers),
        "dev_si": sources(speakers["dev"]),
        "train_sd": sources(speakers["test"], lambda spk, utt: utt not in tested[spk]),
        "test": sources(speakers["test"], lambda spk, utt: utt in tested[spk]),
    }


def prepare_ntcd_timit(db_root: str | Path, config: NtcdConfig, corpus_dir: str | Path, data_dir: str | Path,
                       nj: int = 1) -> dict[str, int]:
    """Write the speech and noise data dirs of NTCD-TIMIT (see module docstring); returns each set's size."""
    root, corpus_dir, data_dir = Path(db_root), Path(corpus_dir).resolve(), Path(data_dir)
    require(root, "NTCD-TIMIT root")
    sets = _split_sources(root, config)

    def utterance(s: _Source) -> Utterance:
        clean = release_path(root, config.clean_audio, group=s.group, spk=s.spk, utt=s.utt)
        wav = audio_at_rate(clean, corpus_dir / "wav" / s.spk / f"{s.utt}.wav", config.sample_rate)
        return Utterance(f"{s.spk}_{s.utt}", s.spk, wav, corpus_dir / "lips" / s.spk / f"{s.utt}.npz")

    utterances = {name: [utterance(s) for s in sources] for name, sources in sets.items()}
    jobs = [(release_path(root, config.lips, group=s.group, spk=s.spk, utt=s.utt), u.wav, u.lips, config)
            for name in sets for s, u in zip(sets[name], utterances[name])]
    run_parallel(_convert_lips, jobs, nj, "lips")

    volunteers = [s for s in sets["train_si"] if s.group == config.volunteers_group]
    _write_noise(root, volunteers, "train", config.noise_seconds_train, corpus_dir, config)
    _write_noise(root, sets["test"], "test", config.noise_seconds_test, corpus_dir, config)

    counts = {name: write_speech_set(data_dir / name, utterances[name], config.sample_rate) for name in sets}
    for name, split in NOISE_SPLITS.items():
        recordings = noise_folder_recordings(corpus_dir / "noise", split, corpus_dir, config.sample_rate)
        counts[name] = write_noise_set(data_dir / name, recordings, config.sample_rate)
    return counts
