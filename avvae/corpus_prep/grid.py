"""GRID: lips and 16 kHz audio from the release's videos, the words from the utterance ids, and the data dirs.

Only the videos are read, `{spk}/{utt}.mpg` as both distributions unpack (the per-talker `sN/video/sN.mpg_vcd.zip`
and the single record's `sN.zip`), or `{spk}/video/{utt}.mpg` (templates of conf/corpus.yaml, the first that
holds a speaker's videos is taken). Each video (MPEG-1, 360x288, 25 fps, 3 s) gives both streams:
- audio: its own audio track, mixed to mono and resampled to 16 kHz by ffmpeg (the one imageio-ffmpeg ships).
  The separate 25 kHz wavs (`audio_25k`, `sN/audio/sN.tar`) are end-pointed, their leading silence cut, so they
  would be offset from the video by that silence: they are not read;
- lips: per frame a mouth box from facial landmarks (avvae.corpus_prep.grid_mouth), or with `mouth: box` the fixed
  box of conf/crops.yaml (also taken for a video in which no face is found), grayscale, resized to 67x67.
The words (`text`) come from the utterance id, which spells them (`bbaf2n` = "bin blue at f two now"): the
alignments are not needed, and the single record's `alignments.zip` files 19 speakers' alignments under another
speaker's folder.
GRID has no noise: the noise sets come from a folder `<noise_root>/{train,test}/<type>/<name>.wav`, e.g. the
noise-only signals that egs/ntcd_timit writes to its corpus/noise, or with `noise: generated` from coloured and
speech-shaped noise made from the training speech (avvae.corpus_prep.generated_noise).
The speakers and their sets come from the three speaker lists (test speakers' utterances split into test and
train_sd), or from `utterance_split`, which splits each listed speaker's own utterances into train, dev and test.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from avvae.cli import split_keys
from avvae.corpus.grid import ADVERBS, COLOURS, COMMANDS, DIGITS, LETTERS, PREPOSITIONS
from avvae.corpus_prep.common import (
    NOISE_SPLITS,
    CorpusLayoutError,
    Utterance,
    check_disjoint,
    fit_lips_to_audio,
    list_utterances,
    noise_folder_recordings,
    read_speaker_list,
    release_path,
    require,
    require_folder,
    split_speaker_sets,
    write_noise_set,
    write_speech_set,
)
from avvae.corpus_prep.generated_noise import write_generated_noise
from avvae.corpus_prep.grid_mouth import crops_picture, mouth_crops
from avvae.fileio.audio import write_wav
from avvae.fileio.lips import save_lips
from avvae.fileio.video import VideoError, read_frames_and_audio

log = logging.getLogger(__name__)

MOUTH_METHODS = ("landmarks", "box")
NOISE_SOURCES = ("folder", "generated")
# The archives a speaker's videos come in, relative to the GRID root: unpacked there, they give {spk}/{utt}.mpg.
VIDEO_ARCHIVES = ("{spk}/video/{spk}.mpg_vcd.zip", "{spk}.zip")


@dataclass
class GridConfig:
    """conf/corpus.yaml of egs/grid: where the release's videos are, the mouth crop, the lips and the splits."""

    video: list[str] = field(default_factory=lambda: ["{spk}/{utt}.mpg", "{spk}/video/{utt}.mpg"])
    mouth: str = "landmarks"
    mouth_scale: float = 1.5
    detect_every: int = 0
    landmark_every: int = 4
    detect_height: int = 288
    lips_fps: float = 25.0
    lips_size: int = 67
    lips_tolerance: float = 0.1
    skip_bad_video: bool = False
    train_speakers: str = "conf/speakers_train.txt"
    dev_speakers: str = "conf/speakers_dev.txt"
    test_speakers: str = "conf/speakers_test.txt"
    test_utts_per_speaker: int = 100
    utterance_split: dict[str, list[int]] = field(default_factory=dict)
    test_utterances: dict[str, list[str]] = field(default_factory=dict)
    noise: str = "folder"
    noise_seconds: float = 30.0
    seed: int = 0
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if self.mouth not in MOUTH_METHODS:
            raise CorpusLayoutError(
                f"corpus config: mouth must be one of {', '.join(MOUTH_METHODS)}, got {self.mouth!r}"
            )
        if not self.video:
            raise CorpusLayoutError("corpus config: video needs at least one layout template")
        if self.noise not in NOISE_SOURCES:
            raise CorpusLayoutError(
                f"corpus config: noise must be one of {', '.join(NOISE_SOURCES)}, got {self.noise!r}"
            )
        for spk, counts in self.utterance_split.items():
            if len(counts) != 3 or any(not isinstance(n, int) or n < 0 for n in counts) or counts[0] < 1:
                raise CorpusLayoutError(
                    f"corpus config: utterance_split: {spk}: expected [train, dev, test] "
                    f"utterance counts (train at least 1), got {counts!r}"
                )
        if self.detect_every < 0 or self.landmark_every < 1 or self.detect_height < 1 or self.mouth_scale <= 0:
            raise CorpusLayoutError(
                "corpus config: detect_every must be >= 0, landmark_every and detect_height >= 1 and mouth_scale > 0"
            )


def grid_words(utt: str) -> str:
    """The six words a GRID utterance id spells: command, colour, preposition and adverb by their first letter, the
    letter itself, the digit 1-9 or z for zero; e.g. `bbaf2n` -> "bin blue at f two now"."""
    digits = {**{str(number): word for number, word in enumerate(DIGITS) if number}, "z": DIGITS[0]}
    slots = [
        {word[0]: word for word in COMMANDS},
        {word[0]: word for word in COLOURS},
        {word[0]: word for word in PREPOSITIONS},
        {letter: letter for letter in LETTERS},
        digits,
        {word[0]: word for word in ADVERBS},
    ]
    if len(utt) != len(slots) or any(char not in slot for char, slot in zip(utt, slots)):
        raise CorpusLayoutError(
            f"{utt!r} is not a GRID utterance id (command, colour, preposition, letter, digit 1-9 "
            "or z, adverb, e.g. bbaf2n)"
        )
    return " ".join(slot[char] for char, slot in zip(utt, slots))


Crop = tuple[int, int, int, int]


def load_crops(path: str | Path) -> dict[str, Crop]:
    """conf/crops.yaml: speaker (or `default`) -> [x, y, width, height] of the mouth box in video pixels."""
    path = Path(path)
    require(path, "mouth crops file")
    table = yaml.safe_load(path.read_text()) or {}
    crops = {}
    for spk, box in table.items():
        if not (
            isinstance(box, list)
            and len(box) == 4
            and all(isinstance(v, int) and v >= 0 for v in box)
            and box[2] > 0
            and box[3] > 0
        ):
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


def _speakers(config: GridConfig) -> dict[str, list[str]]:
    speakers = {name: read_speaker_list(getattr(config, f"{name}_speakers")) for name in ("train", "dev", "test")}
    check_disjoint(speakers)
    return speakers


def _listed_speakers(config: GridConfig) -> list[str]:
    """The speakers whose videos are read: those of utterance_split, else those of the three lists."""
    if config.utterance_split:
        return sorted(config.utterance_split)
    return sorted(spk for names in _speakers(config).values() for spk in names)


def speaker_videos(root: Path, config: GridConfig, spk: str) -> dict[str, Path]:
    """{utterance: video} of one speaker, from the first layout template that finds any; an error naming the
    places looked at (and a still packed archive, with how to unpack it) when none does."""
    for template in config.video:
        folder = release_path(root, template, spk=spk, utt="x").parent
        if folder.is_dir():
            utts = list_utterances(root, template, spk=spk)
            if utts:
                return {utt: release_path(root, template, spk=spk, utt=utt) for utt in utts}
    looked = ", ".join(str(release_path(root, template, spk=spk, utt="<utt>")) for template in config.video)
    archives = [root / archive.format(spk=spk) for archive in VIDEO_ARCHIVES]
    packed = [archive for archive in archives if archive.is_file()]
    hint = (
        f"; {packed[0]} is there: unpack it in the GRID root (cd {root} && unzip {packed[0].relative_to(root)})"
        if packed
        else ""
    )
    raise CorpusLayoutError(f"no videos of speaker {spk} (looked for {looked}){hint}")


def _all_videos(root: Path, config: GridConfig) -> dict[tuple[str, str], Path]:
    """{(speaker, utterance): video} of every listed speaker, sorted."""
    require_folder(root, "GRID root")
    return {
        (spk, utt): path for spk in _listed_speakers(config) for utt, path in speaker_videos(root, config, spk).items()
    }


def media_paths(corpus_dir: Path, spk: str, utt: str) -> tuple[Path, Path]:
    """Where an utterance's lips (.npz) and 16 kHz audio (.wav) go under the corpus folder."""
    return corpus_dir / "lips" / spk / f"{utt}.npz", corpus_dir / "wav" / spk / f"{utt}.wav"


def _read_video(video: Path, config: GridConfig) -> tuple[np.ndarray, np.ndarray]:
    """(gray frames [T, H, W], audio at the config's rate) of one video; errors name it."""
    try:
        frames, fps, audio = read_frames_and_audio(video, config.sample_rate)
    except VideoError as error:
        raise CorpusLayoutError(str(error)) from error
    if abs(fps - config.lips_fps) > 0.01:
        raise CorpusLayoutError(f"{video}: {fps:g} fps, but lips_fps is {config.lips_fps:g}")
    return frames, audio


def extract_media(
    db_root: str | Path, config: GridConfig, crops_path: str | Path, corpus_dir: str | Path, nj: int = 1, job: int = 1
) -> int:
    """Write lips and 16 kHz audio (media_paths) for this job's share of the videos; returns how many were written.

    Done utterances are skipped; with `skip_bad_video` an unreadable video is left out with a warning."""
    root, corpus_dir = Path(db_root), Path(corpus_dir)
    crops = load_crops(crops_path)
    videos = _all_videos(root, config)
    written = 0
    for spk, utt in split_keys(sorted(videos), nj, job):
        lips_path, wav_path = media_paths(corpus_dir, spk, utt)
        if lips_path.is_file() and wav_path.is_file():
            continue
        try:
            extract_video(videos[spk, utt], config, crop_for(crops, spk, crops_path), lips_path, wav_path)
        except CorpusLayoutError as error:
            if not config.skip_bad_video:
                raise
            log.warning("%s; utterance %s_%s left out (skip_bad_video)", error, spk, utt)
            continue
        written += 1
    return written


def extract_video(video: Path, config: GridConfig, box: Crop, lips_path: Path, wav_path: Path) -> np.ndarray:
    """Write one video's lips and 16 kHz audio, the lips trimmed to the audio; returns its mouth boxes [T, 4] (`box`
    where no face was found or with `mouth: box`)."""
    frames, audio = _read_video(video, config)
    lips, boxes, _ = mouth_crops(frames, config, box, video)
    lips = fit_lips_to_audio(lips, config.lips_fps, len(audio), config.sample_rate, config.lips_tolerance, video)
    write_wav(wav_path, np.clip(audio, -1.0, 1.0), config.sample_rate, subtype="PCM_16")
    save_lips(lips_path, lips, config.lips_fps)
    return boxes


def write_crops_picture(
    db_root: str | Path, config: GridConfig, crops_path: str | Path, picture: str | Path, count: int = 6
) -> Path:
    """A PNG of the mouth crops of the first video of `count` speakers spread over the lists, to look at."""
    videos = _all_videos(Path(db_root), config)
    crops = load_crops(crops_path)
    speakers = sorted({spk for spk, _ in videos}, key=lambda name: (len(name), name))
    chosen = [
        speakers[i]
        for i in sorted(set(np.linspace(0, len(speakers) - 1, min(count, len(speakers))).round().astype(int)))
    ]
    examples = []
    for spk in chosen:
        utt = min(utt for name, utt in videos if name == spk)
        frames, _ = _read_video(videos[spk, utt], config)
        lips, boxes, which = mouth_crops(frames, config, crop_for(crops, spk, crops_path), videos[spk, utt])
        examples.append((f"{spk}_{utt} ({which})", frames, boxes, lips))
    return crops_picture(picture, examples)


def _split_utterances(by_speaker: dict[str, list[str]], config: GridConfig) -> dict[str, list[tuple[str, str]]]:
    """utterance_split: each speaker's utterances drawn (seeded by the speaker's name) into [train, dev, test]
    counts, the speaker's `test_utterances` first in the test part; train_si and train_sd both hold the training
    parts (the speakers are tested with their own models)."""
    parts: dict[str, list[tuple[str, str]]] = {"train_si": [], "dev_si": [], "test": []}
    for spk, counts in sorted(config.utterance_split.items()):
        utts = sorted(by_speaker.get(spk, []))
        tested = config.test_utterances.get(spk, [])
        unknown = sorted(set(tested) - set(utts))
        if unknown or len(tested) > counts[2]:
            raise CorpusLayoutError(
                f"test_utterances: {spk}: "
                + (
                    f"{', '.join(unknown)} not among its utterances with lips and audio"
                    if unknown
                    else f"{len(tested)} named, its test part is {counts[2]}"
                )
            )
        if len(utts) < sum(counts):
            raise CorpusLayoutError(
                f"utterance_split: speaker {spk} has {len(utts)} utterances with lips and audio, "
                f"but {counts} (train, dev, test) ask for {sum(counts)}"
            )
        rest = [utt for utt in utts if utt not in tested]
        drawn = np.random.default_rng([config.seed, *spk.encode()]).permutation(rest).tolist()
        train, dev = counts[0], counts[0] + counts[1]
        test = list(tested) + drawn[dev : dev + counts[2] - len(tested)]
        for name, chosen in zip(parts, (drawn[:train], drawn[train:dev], test)):
            parts[name] += [(spk, utt) for utt in sorted(chosen)]
    return {**parts, "train_sd": list(parts["train_si"])}


def _split_pairs(pairs: list[tuple[str, str]], config: GridConfig) -> dict[str, list[tuple[str, str]]]:
    """The (speaker, utterance) pairs of each speech set: by utterance_split, else speakers from the lists and test
    utterances drawn per speaker."""
    by_speaker: dict[str, list[str]] = {}
    for spk, utt in pairs:
        by_speaker.setdefault(spk, []).append(utt)
    if config.utterance_split:
        return _split_utterances(by_speaker, config)
    return split_speaker_sets(by_speaker, _speakers(config), config.test_utts_per_speaker, config.seed)


def prepare_grid(
    db_root: str | Path, config: GridConfig, noise_root: str | Path | None, corpus_dir: str | Path, data_dir: str | Path
) -> dict[str, int]:
    """Write the speech and noise data dirs of GRID (lips and audio from `extract_media` first); returns each set's
    size. The noise comes from `noise_root`, or with `noise: generated` is made under CORPUS_DIR/noise."""
    if noise_root is None and config.noise != "generated":
        raise CorpusLayoutError(
            "no noise folder: pass --noise_root to run.sh or set GRID_NOISE in db.sh "
            "(<folder>/{train,test}/<type>/<name>.wav), or set noise: generated in the corpus "
            "config"
        )
    root, corpus_dir, data_dir = Path(db_root), Path(corpus_dir).resolve(), Path(data_dir)
    videos = _all_videos(root, config)
    media = {pair: media_paths(corpus_dir, *pair) for pair in videos}
    missing = sorted(pair for pair, paths in media.items() if not all(path.is_file() for path in paths))
    if missing and not config.skip_bad_video:
        raise CorpusLayoutError(
            f"{media[missing[0]][0]}: lips or audio missing ({len(missing)} utterances in all): "
            "run the lips stage first"
        )
    if missing:
        log.warning(
            "%d utterances have no lips or audio (bad video) and are left out, e.g. %s_%s", len(missing), *missing[0]
        )
    pairs = sorted(set(videos) - set(missing))

    def utterance(spk: str, utt: str) -> Utterance:
        try:
            text = grid_words(utt)
        except CorpusLayoutError as error:
            raise CorpusLayoutError(f"{videos[spk, utt]}: {error}") from None
        lips, wav = media[spk, utt]
        return Utterance(f"{spk}_{utt}", spk, wav, lips, text)

    sets = _split_pairs(pairs, config)
    counts = {
        name: write_speech_set(data_dir / name, [utterance(*pair) for pair in members], config.sample_rate)
        for name, members in sets.items()
    }
    if config.noise == "generated":
        noise_root = write_generated_noise(
            corpus_dir / "noise",
            [media[pair][1] for pair in sets["train_si"]],
            config.sample_rate,
            config.noise_seconds,
            config.seed,
        )
    for name, split in NOISE_SPLITS.items():
        recordings = noise_folder_recordings(Path(noise_root), split, corpus_dir, config.sample_rate)
        counts[name] = write_noise_set(data_dir / name, recordings, config.sample_rate)
    return counts
