"""GRID: mouth crops from the release's videos, its audio at 16 kHz, and the recipe's data dirs.

Read from the corpus root (every path is a template of conf/corpus.yaml):
- audio `{spk}/{utt}.wav` (the 25 kHz `audio_25k` release, resampled to 16 kHz);
- video `{spk}/video/{utt}.mpg` (25 fps), cropped to a fixed mouth box per speaker (conf/crops.yaml), made
  grayscale and resized to 67x67 by ffmpeg (the one imageio-ffmpeg ships);
- word alignments `alignments/{spk}/{utt}.align` (`start end word` lines), whose words give `text`.
GRID has no noise: the noise sets come from a folder `<noise_root>/{train,test}/<type>/<name>.wav`, e.g. the
noise-only signals that egs/ntcd_timit writes to its corpus/noise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import yaml

from avvae.cli import split_keys
from avvae.corpus_prep.common import (
    NOISE_SPLITS,
    CorpusLayoutError,
    Utterance,
    audio_at_rate,
    check_disjoint,
    fit_lips_to_audio,
    list_utterances,
    noise_folder_recordings,
    read_speaker_list,
    release_path,
    require,
    run_parallel,
    split_test_utterances,
    write_noise_set,
    write_speech_set,
)
from avvae.lips import save_lips
from avvae.video import VideoError, read_gray_frames

log = logging.getLogger(__name__)

SILENCES = ("sil", "sp")


@dataclass
class GridConfig:
    """conf/corpus.yaml of egs/grid: where the release's files are, the lips and the splits."""

    audio: str = "{spk}/{utt}.wav"
    video: str = "{spk}/video/{utt}.mpg"
    alignment: str | None = "alignments/{spk}/{utt}.align"
    lips_fps: float = 25.0
    lips_size: int = 67
    lips_tolerance: float = 0.1
    skip_missing_video: bool = False
    train_speakers: str = "conf/speakers_train.txt"
    dev_speakers: str = "conf/speakers_dev.txt"
    test_speakers: str = "conf/speakers_test.txt"
    test_utts_per_speaker: int = 100
    seed: int = 0
    sample_rate: int = 16000


Crop = tuple[int, int, int, int]


def load_crops(path: str | Path) -> dict[str, Crop]:
    """conf/crops.yaml: speaker (or `default`) -> [x, y, width, height] of the mouth box in video pixels."""
    path = Path(path)
    require(path, "mouth crops file")
    table = yaml.safe_load(path.read_text()) or {}
    crops = {}
    for spk, box in table.items():
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int) and v >= 0 for v in box)
                and box[2] > 0 and box[3] > 0):
            raise CorpusLayoutError(f"{path}: {spk}: expected [x, y, width, height] in pixels, got {box!r}")
        crops[str(spk)] = tuple(box)
    return crops


def crop_for(crops: dict[str, Crop], spk: str, path: str | Path) -> Crop:
    """The speaker's mouth box, else the default one; an error naming the crops file if neither is there."""
    if spk in crops:
        return crops[spk]
    if "default" in crops:
        return crops["default"]
    raise CorpusLayoutError(f"{path}: no mouth crop for speaker {spk} and no default")


def read_mouth_frames(video: Path, crop: Crop, size: int) -> np.ndarray:
    """The video's frames cropped to `crop`, grayscale, resized to size x size: uint8 [T, size, size]."""
    require(video, "video")
    try:
        frames, _, (source_width, source_height) = read_gray_frames(video, size, tuple(crop))
    except VideoError as error:
        raise CorpusLayoutError(str(error)) from error
    x, y, width, height = crop
    if x + width > source_width or y + height > source_height:
        raise CorpusLayoutError(f"{video}: mouth crop {list(crop)} is outside the {source_width}x{source_height} frame")
    return frames


def _speakers(config: GridConfig) -> dict[str, list[str]]:
    speakers = {name: read_speaker_list(getattr(config, f"{name}_speakers")) for name in ("train", "dev", "test")}
    check_disjoint(speakers)
    return speakers


def _all_utterances(root: Path, config: GridConfig) -> list[tuple[str, str]]:
    """(speaker, utterance) of every listed speaker's audio, sorted."""
    pairs = []
    for spk in sorted(spk for names in _speakers(config).values() for spk in names):
        utts = list_utterances(root, config.audio, spk=spk)
        if not utts:
            raise CorpusLayoutError(f"{release_path(root, config.audio, spk=spk, utt='*')}: no audio of speaker {spk}")
        pairs += [(spk, utt) for utt in utts]
    return pairs


def extract_lips(db_root: str | Path, config: GridConfig, crops_path: str | Path, lips_dir: str | Path,
                 nj: int = 1, job: int = 1) -> int:
    """Write lips_dir/<spk>/<utt>.npz for this job's share of the utterances; returns how many were written."""
    root, lips_dir = Path(db_root), Path(lips_dir)
    crops = load_crops(crops_path)
    written = 0
    for spk, utt in split_keys(_all_utterances(root, config), nj, job):
        target = lips_dir / spk / f"{utt}.npz"
        if target.is_file():
            continue
        video = release_path(root, config.video, spk=spk, utt=utt)
        if config.skip_missing_video and not video.is_file():
            log.warning("%s: no video, utterance %s_%s left out", video, spk, utt)
            continue
        frames = read_mouth_frames(video, crop_for(crops, spk, crops_path), config.lips_size)
        info = soundfile.info(str(release_path(root, config.audio, spk=spk, utt=utt)))
        save_lips(target, fit_lips_to_audio(frames, config.lips_fps, info.frames, info.samplerate,
                                            config.lips_tolerance, video), config.lips_fps)
        written += 1
    return written


def read_words(path: Path) -> str:
    """The words of a GRID alignment file (`start end word` lines), silences left out."""
    require(path, "alignment")
    words = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise CorpusLayoutError(f"{path}:{number}: expected 'start end word', got {line!r}")
        if fields[2] not in SILENCES:
            words.append(fields[2])
    return " ".join(words)


def _resample_job(job: tuple[Path, Path, int]) -> None:
    audio_at_rate(*job)


def _split_pairs(pairs: list[tuple[str, str]], config: GridConfig) -> dict[str, list[tuple[str, str]]]:
    """The (speaker, utterance) pairs of each speech set: speakers from the lists, test utterances drawn per speaker."""
    speakers = _speakers(config)
    by_speaker: dict[str, list[str]] = {}
    for spk, utt in pairs:
        by_speaker.setdefault(spk, []).append(utt)
    tested = {spk: split_test_utterances(by_speaker.get(spk, []), config.test_utts_per_speaker, config.seed, spk, [])
              for spk in speakers["test"]}
    return {
        "train_si": [(spk, u) for spk in speakers["train"] for u in by_speaker.get(spk, [])],
        "dev_si": [(spk, u) for spk in speakers["dev"] for u in by_speaker.get(spk, [])],
        "train_sd": [(spk, u) for spk in speakers["test"] for u in by_speaker[spk] if u not in tested[spk]],
        "test": [(spk, u) for spk in speakers["test"] for u in by_speaker[spk] if u in tested[spk]],
    }


def prepare_grid(db_root: str | Path, config: GridConfig, noise_root: str | Path, corpus_dir: str | Path,
                 data_dir: str | Path, nj: int = 1) -> dict[str, int]:
    """Write the speech and noise data dirs of GRID (lips from `extract_lips` first); returns each set's size."""
    root, corpus_dir, data_dir = Path(db_root), Path(corpus_dir).resolve(), Path(data_dir)
    require(root, "GRID root")
    pairs = _all_utterances(root, config)
    lips = {pair: corpus_dir / "lips" / pair[0] / f"{pair[1]}.npz" for pair in pairs}
    missing = [path for path in lips.values() if not path.is_file()]
    if missing and not config.skip_missing_video:
        raise CorpusLayoutError(f"{missing[0]}: lips missing ({len(missing)} in all): run the lips stage first")
    if missing:
        log.warning("%d utterances have no lips (no video) and are left out, e.g. %s", len(missing), missing[0])
    pairs = [pair for pair in pairs if lips[pair].is_file()]
    audio = {(spk, utt): (release_path(root, config.audio, spk=spk, utt=utt), corpus_dir / "wav" / spk / f"{utt}.wav")
             for spk, utt in pairs}
    run_parallel(_resample_job, [(*audio[pair], config.sample_rate) for pair in pairs], nj, "audio")

    def utterance(spk: str, utt: str) -> Utterance:
        text = None if config.alignment is None else read_words(release_path(root, config.alignment, spk=spk, utt=utt))
        wav = audio_at_rate(*audio[spk, utt], config.sample_rate)
        return Utterance(f"{spk}_{utt}", spk, wav, lips[spk, utt], text)

    counts = {name: write_speech_set(data_dir / name, [utterance(*pair) for pair in members], config.sample_rate)
              for name, members in _split_pairs(pairs, config).items()}
    for name, split in NOISE_SPLITS.items():
        recordings = noise_folder_recordings(Path(noise_root), split, corpus_dir, config.sample_rate)
        counts[name] = write_noise_set(data_dir / name, recordings, config.sample_rate)
    return counts
