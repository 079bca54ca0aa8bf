"""The corpus config: who speaks, how much, and the seed everything is drawn from (egs/mini_av/conf/corpus*.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from avvae.config import ConfigError, load_config

SPEAKER_SPLITS = ("train_si", "dev_si", "test", "babble")
NOISE_TYPES = ("white", "pink", "brown", "ssn", "babble")
SENTENCE_GRAMMARS = ("grid", "timit_like")
_SPEAKER_ID = re.compile(r"^[A-Za-z0-9]+$")


@dataclass
class SpeakerConfig:
    """One synthetic speaker: an espeak-ng voice, the MBROLA database it drives, and how it is varied."""

    id: str  # letters and digits only; utterance ids are <id>_<nnn>
    voice: str  # espeak-ng voice that prints the .pho, e.g. mb-us1 or mb-de1-en (English text)
    db: str  # MBROLA database, e.g. us1 (must match the voice: phoneme sets differ)
    gender: str  # F or M
    pitch_ratio: float = 1.0  # mbrola -f: scales every pitch point
    time_ratio: float = 1.0  # mbrola -t: scales every phoneme duration
    appearance_seed: int = 0  # draws the speaker's mouth (skin and lip tones, sizes, head offset)
    split: str = "train_si"  # train_si | dev_si | test | babble (babble: only heard inside babble noise)


@dataclass
class CorpusConfig:
    """Size and content of a generated corpus; same config (seed included) -> same bytes."""

    seed: int = 0
    sample_rate: int = 16000
    fps: float = 30.0  # lip video frame rate
    lips_size: int = 67  # lip ROI is lips_size x lips_size pixels
    utterances_per_speaker: int = 25  # for train_si, dev_si and test speakers
    sd_test_utterances: int = 10  # per test speaker, go to `test`; the rest to `train_sd`
    leading_pause_s: list[float] = field(default_factory=lambda: [0.1, 0.25])  # silence before speech (range)
    peak: float = 0.9  # speech and noise are peak-normalised to this
    sentences: str = "grid"  # grid: 6-word GRID commands; timit_like: 8-15 word read sentences
    room_tone_db: float | None = None  # pink room tone this far below the speech's RMS (None: digital silence)
    noise_seconds: float = 25.0  # length of each noise recording
    noise_types: list[str] = field(default_factory=lambda: list(NOISE_TYPES))
    babble_talkers: int = 4  # simultaneous utterances in babble
    mbrola_dir: str = "/usr/share/mbrola"  # holds <db>/<db> for every speaker's database
    speakers: list[SpeakerConfig] = field(default_factory=list)

    def speakers_in(self, split: str) -> list[SpeakerConfig]:
        return [speaker for speaker in self.speakers if speaker.split == split]


def check_corpus_config(config: CorpusConfig, where: str = "corpus config") -> None:
    """Fail with a message naming `where` when the config cannot make a usable corpus."""

    def fail(message: str) -> None:
        raise ConfigError(f"{where}: {message}")

    ids = [speaker.id for speaker in config.speakers]
    if len(set(ids)) != len(ids):
        fail(f"speaker ids must be unique, got {sorted(i for i in set(ids) if ids.count(i) > 1)} more than once")
    for speaker in config.speakers:
        if not _SPEAKER_ID.match(speaker.id):
            fail(f"speaker id {speaker.id!r} must be letters and digits only (it prefixes utterance ids)")
        if speaker.split not in SPEAKER_SPLITS:
            fail(f"speaker {speaker.id}: split {speaker.split!r} is not one of {', '.join(SPEAKER_SPLITS)}")
        if speaker.gender not in ("F", "M"):
            fail(f"speaker {speaker.id}: gender must be F or M, got {speaker.gender!r}")
        if not (speaker.pitch_ratio > 0 and speaker.time_ratio > 0):
            fail(f"speaker {speaker.id}: pitch_ratio and time_ratio must be positive")
    for split in ("train_si", "dev_si", "test"):
        if not config.speakers_in(split):
            fail(f"no speaker has split {split}")
    if "babble" in config.noise_types and not config.speakers_in("babble"):
        fail("noise type babble needs at least one speaker with split babble")
    if config.sentences not in SENTENCE_GRAMMARS:
        fail(f"sentences must be one of {', '.join(SENTENCE_GRAMMARS)}, got {config.sentences!r}")
    if config.room_tone_db is not None and not config.room_tone_db < 0:
        fail(f"room_tone_db must be negative (dB below the speech), got {config.room_tone_db}")
    unknown = sorted(set(config.noise_types) - set(NOISE_TYPES))
    if unknown or not config.noise_types:
        fail(f"noise_types must be a non-empty subset of {', '.join(NOISE_TYPES)}, got {config.noise_types}")
    if not 0 < config.sd_test_utterances < config.utterances_per_speaker:
        fail("sd_test_utterances must be between 1 and utterances_per_speaker - 1 (the rest is train_sd)")
    if len(config.leading_pause_s) != 2 or not 0 <= config.leading_pause_s[0] <= config.leading_pause_s[1]:
        fail(f"leading_pause_s must be [min, max] seconds, got {config.leading_pause_s}")
    if config.sample_rate != 16000:
        fail("sample_rate must be 16000 (the MBROLA voices are resampled to 16 kHz)")
    if config.fps <= 0 or config.lips_size < 16 or config.noise_seconds <= 0 or config.babble_talkers < 1:
        fail("fps, noise_seconds, babble_talkers must be positive and lips_size at least 16")


def load_corpus_config(path: str | Path) -> CorpusConfig:
    """Read and check a corpus config YAML."""
    config = load_config(path, CorpusConfig)
    check_corpus_config(config, str(path))
    return config
