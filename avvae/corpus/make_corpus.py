"""Generate the mini_av corpus: synthesised GRID-like speech, rendered lip videos and noise recordings.

Layout of CORPUS_DIR: wav/<spk>/<utt>.wav (16 kHz PCM_16, peak-normalised), lips/<spk>/<utt>.npz,
pho/<spk>/<utt>.pho (`phoneme start_s end_s`, the exact timeline of the audio), noise/{train,test}/<type>.wav
(16 kHz float), text (utt -> GRID words), speakers.yaml (speakers, their splits and the utterance sets),
config.yaml (the config it was made with) and .done, written last.
Every draw depends on (seed, name of the thing drawn) only, so the bytes do not depend on --nj. A rerun skips
finished utterances and noises, and everything once .done exists.

Usage: python -m avvae.corpus.make_corpus --config conf/corpus.yaml --nj 4 corpus
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import multiprocessing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import yaml
from tqdm import tqdm

from avvae.cli import run_main
from avvae.config import ConfigError
from avvae.corpus import grid, timit_like
from avvae.corpus.config import CorpusConfig, SpeakerConfig, load_corpus_config
from avvae.corpus.grid import spoken_text
from avvae.corpus.noise import (
    average_spectrum,
    babble,
    babble_stream,
    room_tone,
    shaped_noise,
)
from avvae.corpus.render import draw_appearance, render_mouth
from avvae.corpus.seeds import rng_for
from avvae.corpus.synth import (
    check_tools,
    format_timeline,
    synthesise,
)
from avvae.corpus.visemes import mouth_trajectory
from avvae.fileio.atomic import is_done, mark_done, write_text_atomic
from avvae.fileio.audio import peak_normalise, read_wav, write_wav
from avvae.fileio.datadir import write_table
from avvae.fileio.lips import save_lips

log = logging.getLogger(__name__)

NOISE_SPLITS = ("train", "test")


@dataclass(frozen=True)
class Utterance:
    """What one utterance will say, and how it will be synthesised."""

    utt: str
    speaker: SpeakerConfig
    words: tuple[str, ...]
    pause_s: float


GRAMMARS = {"grid": grid.draw_sentence, "timit_like": timit_like.draw_sentence}


def spoken(config: CorpusConfig, words: tuple[str, ...]) -> str:
    """The text espeak-ng reads: GRID spells its letters ("a" is the letter), TIMIT-like text is read as written."""
    return spoken_text(list(words)) if config.sentences == "grid" else " ".join(words)


def plan_utterance(config: CorpusConfig, speaker: SpeakerConfig, utt: str) -> Utterance:
    rng = rng_for(config.seed, utt)
    words = tuple(GRAMMARS[config.sentences](rng))
    return Utterance(utt, speaker, words, float(rng.uniform(*config.leading_pause_s)))


def plan_corpus(config: CorpusConfig) -> list[Utterance]:
    """Every recorded utterance (babble talkers excluded), `<spk>_<nnn>` ids in speaker order."""
    return [
        plan_utterance(config, speaker, f"{speaker.id}_{index:03d}")
        for speaker in config.speakers
        if speaker.split != "babble"
        for index in range(config.utterances_per_speaker)
    ]


def corpus_sets(config: CorpusConfig) -> dict[str, list[str]]:
    """Utterance ids of train_si, dev_si (by speaker) and train_sd, test (each test speaker's utterances split)."""
    count, held_out = config.utterances_per_speaker, config.sd_test_utterances
    ids = lambda speaker, indices: [f"{speaker.id}_{i:03d}" for i in indices]  # noqa: E731
    sets: dict[str, list[str]] = {"train_si": [], "dev_si": [], "train_sd": [], "test": []}
    for speaker in config.speakers:
        if speaker.split in ("train_si", "dev_si"):
            sets[speaker.split] += ids(speaker, range(count))
        elif speaker.split == "test":
            sets["train_sd"] += ids(speaker, range(count - held_out))
            sets["test"] += ids(speaker, range(count - held_out, count))
    return sets


def utterance_files(corpus_dir: Path, utterance: Utterance) -> dict[str, Path]:
    spk, utt = utterance.speaker.id, utterance.utt
    return {
        "pho": corpus_dir / "pho" / spk / f"{utt}.pho",
        "lips": corpus_dir / "lips" / spk / f"{utt}.npz",
        "wav": corpus_dir / "wav" / spk / f"{utt}.wav",
    }


def noise_file(corpus_dir: Path, split: str, noise_type: str) -> Path:
    return corpus_dir / "noise" / split / f"{noise_type}.wav"


def make_utterance(config: CorpusConfig, utterance: Utterance, corpus_dir: Path) -> None:
    """Synthesise one utterance and render its lips; the wav is written last (its presence means complete)."""
    audio, timeline = synthesise(
        utterance.speaker, spoken(config, utterance.words), utterance.pause_s, config.mbrola_dir
    )
    duration = len(audio) / config.sample_rate
    frame_times = np.arange(int(round(duration * config.fps))) / config.fps
    trajectory = mouth_trajectory(timeline, frame_times)
    frames = render_mouth(
        trajectory,
        draw_appearance(utterance.speaker.appearance_seed),
        rng_for(config.seed, utterance.utt, "lips"),
        size=config.lips_size,
    )
    if config.room_tone_db is not None:
        audio = audio + room_tone(
            rng_for(config.seed, utterance.utt, "room"), audio, config.room_tone_db, config.sample_rate
        )
    files = utterance_files(corpus_dir, utterance)
    write_text_atomic(files["pho"], format_timeline(timeline))
    save_lips(files["lips"], frames, config.fps)
    write_wav(files["wav"], peak_normalise(audio, config.peak), config.sample_rate, subtype="PCM_16")


def make_babble_stream(config: CorpusConfig, split: str, talker: int) -> np.ndarray:
    """One babble talker for the `split` noise: utterances of the babble speakers, in turn, filling the length."""
    speakers = config.speakers_in("babble")
    length = int(round(config.noise_seconds * config.sample_rate))
    utterances, total = [], 0
    while total < length:
        index = len(utterances)
        speaker = speakers[(talker + index) % len(speakers)]
        plan = plan_utterance(config, speaker, f"{speaker.id}_{split}{talker}_{index:03d}")
        audio, _ = synthesise(speaker, spoken(config, plan.words), plan.pause_s, config.mbrola_dir)
        utterances.append(audio)
        total += len(audio)
    return babble_stream(utterances, length, rng_for(config.seed, "babble", split, str(talker)))


def make_noise(
    config: CorpusConfig,
    split: str,
    noise_type: str,
    speech_spectrum: tuple | None,
    babble_streams: list[np.ndarray] | None,
) -> np.ndarray:
    """One noise recording, peak-normalised; train and test draw from different seeds and utterances."""
    length = int(round(config.noise_seconds * config.sample_rate))
    rng = rng_for(config.seed, "noise", split, noise_type)
    if noise_type == "babble":
        noise = babble(babble_streams)
    else:
        noise = shaped_noise(rng, noise_type, length, config.sample_rate, speech_spectrum)
    return peak_normalise(noise, config.peak).astype(np.float32)


def _call(job: tuple[Callable, tuple]):
    function, args = job
    return function(*args)


def _run_jobs(jobs: list[tuple[Callable, tuple]], nj: int, what: str) -> list:
    """Results of the jobs in order, on `nj` processes, with a progress bar."""
    if not jobs:
        return []
    if nj <= 1 or len(jobs) == 1:
        return [_call(job) for job in tqdm(jobs, desc=what, mininterval=1.0)]
    with multiprocessing.get_context("fork").Pool(min(nj, len(jobs))) as pool:
        return list(tqdm(pool.imap(_call, jobs), total=len(jobs), desc=what, mininterval=1.0))


def _check_same_config(corpus_dir: Path, config_text: str) -> None:
    saved = corpus_dir / "config.yaml"
    if saved.is_file() and saved.read_text() != config_text:
        raise ConfigError(f"{saved}: {corpus_dir} was started with a different config; remove it or use another dir")


def _write_tables(config: CorpusConfig, corpus_dir: Path, plans: list[Utterance]) -> None:
    """speakers.yaml and text: what prepare_data needs besides the audio and lips."""
    table = {
        "seed": config.seed,
        "sample_rate": config.sample_rate,
        "fps": config.fps,
        "speakers": [dataclasses.asdict(speaker) for speaker in config.speakers],
        "sets": corpus_sets(config),
        "noise_types": list(config.noise_types),
    }
    write_text_atomic(corpus_dir / "speakers.yaml", yaml.safe_dump(table, sort_keys=False))
    write_table(corpus_dir / "text", {plan.utt: " ".join(plan.words) for plan in plans})


def make_corpus(config: CorpusConfig, corpus_dir: str | Path, nj: int = 1) -> None:
    """Generate (or finish generating) the corpus described by `config` in `corpus_dir`."""
    corpus_dir = Path(corpus_dir)
    if is_done(corpus_dir):
        log.info("%s is complete (.done exists), nothing to do", corpus_dir)
        return
    check_tools(config.speakers, config.mbrola_dir)
    config_text = yaml.safe_dump(dataclasses.asdict(config), sort_keys=False)
    _check_same_config(corpus_dir, config_text)
    write_text_atomic(corpus_dir / "config.yaml", config_text)
    plans = plan_corpus(config)
    _write_tables(config, corpus_dir, plans)

    todo = [plan for plan in plans if not all(f.is_file() for f in utterance_files(corpus_dir, plan).values())]
    log.info(
        "%d utterances of %d speakers, %d to synthesise",
        len(plans),
        len({plan.speaker.id for plan in plans}),
        len(todo),
    )
    _run_jobs([(make_utterance, (config, plan, corpus_dir)) for plan in todo], nj, "utterances")

    noises = [
        (split, kind)
        for split in NOISE_SPLITS
        for kind in config.noise_types
        if not noise_file(corpus_dir, split, kind).is_file()
    ]
    log.info("%d noise recordings to make (%s)", len(noises), ", ".join(config.noise_types))
    spectrum = _training_speech_spectrum(config, corpus_dir) if any(k == "ssn" for _, k in noises) else None
    talkers = [
        (split, talker)
        for split in sorted({split for split, kind in noises if kind == "babble"})
        for talker in range(config.babble_talkers)
    ]
    streams = _run_jobs([(make_babble_stream, (config, *key)) for key in talkers], nj, "babble talkers")
    streams_of = dict(zip(talkers, streams))
    for split, kind in noises:
        mine = [streams_of[(split, talker)] for talker in range(config.babble_talkers)] if kind == "babble" else None
        write_wav(
            noise_file(corpus_dir, split, kind), make_noise(config, split, kind, spectrum, mine), config.sample_rate
        )
    mark_done(corpus_dir)
    log.info("corpus complete in %s", corpus_dir)


def _training_speech_spectrum(config: CorpusConfig, corpus_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Average spectrum of the train_si speech (the speech-shaped noise's filter)."""
    plans = [plan for plan in plan_corpus(config) if plan.speaker.split == "train_si"]
    signals = [read_wav(utterance_files(corpus_dir, plan)["wav"], config.sample_rate)[0] for plan in plans]
    return average_spectrum(signals, config.sample_rate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus_dir", help="where the corpus is written, e.g. corpus")
    parser.add_argument("--config", required=True, help="corpus config: conf/corpus.yaml or conf/corpus_tiny.yaml")
    parser.add_argument("--nj", type=int, default=1, help="parallel processes (the output does not depend on it)")
    return parser


def main(args: argparse.Namespace) -> None:
    make_corpus(load_corpus_config(args.config), args.corpus_dir, args.nj)


if __name__ == "__main__":
    run_main(build_parser, main)
