"""The generated mini_av corpus (tiny config, generated once per module): determinism, lips that follow the speech,
distinct speakers, valid and disjoint data dirs, resumable generation, clear errors for missing tools."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from avvae.config import ConfigError
from avvae.corpus.config import load_corpus_config
from avvae.corpus.make_corpus import make_corpus
from avvae.corpus.prepare_data import CorpusError, prepare_data
from avvae.corpus.synth import SynthesisToolError, parse_timeline
from avvae.fileio.atomic import is_done
from avvae.fileio.audio import read_wav
from avvae.fileio.datadir import read_table, validate_data_dir
from avvae.fileio.lips import load_lips

TINY = Path(__file__).resolve().parents[1] / "egs" / "mini_av" / "conf" / "corpus_tiny.yaml"
DARK = 70  # gray level below which a pixel is the mouth cavity (cavity <= 38, lips and skin >= 80)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(config, corpus dir, data dir) of the tiny corpus, made with 2 jobs."""
    root = tmp_path_factory.mktemp("mini_av")
    config = load_corpus_config(TINY)
    make_corpus(config, root / "corpus", nj=2)
    prepare_data(root / "corpus", root / "data")
    return config, root / "corpus", root / "data"


def _files(directory: Path) -> dict[str, bytes]:
    """Every wav, lips and pho file under `directory`, by relative path."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for pattern in ("wav/*/*.wav", "lips/*/*.npz", "pho/*/*.pho", "noise/*/*.wav")
        for path in sorted(directory.glob(pattern))
    }


def _utterances(corpus: Path) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """(utt, samples, lip frames, fps) of every utterance of the corpus."""
    items = []
    for wav in sorted(corpus.glob("wav/*/*.wav")):
        samples, _ = read_wav(wav, 16000)
        frames, fps = load_lips(corpus / "lips" / wav.parent.name / f"{wav.stem}.npz")
        items.append((wav.stem, samples, frames, fps))
    return items


def _rms_per_frame(samples: np.ndarray, fps: float, count: int) -> np.ndarray:
    """RMS of the audio in a one-frame window centred on each video frame time k / fps."""
    hop = 16000 / fps
    return np.array(
        [
            np.sqrt(np.mean(samples[int(max(0, (k - 0.5) * hop)) : int((k + 0.5) * hop)] ** 2) + 1e-12)
            for k in range(count)
        ]
    )


def _mouth_opening(frames: np.ndarray) -> np.ndarray:
    """Visible mouth cavity per frame, measured on the pixels: the count of dark pixels."""
    return (frames < DARK).sum(axis=(1, 2)).astype(np.float64)


def _median_f0(samples: np.ndarray, rate: int = 16000) -> float:
    """Median autocorrelation pitch (70-400 Hz) over loud 64 ms frames."""
    pitches = []
    for start in range(0, len(samples) - 1024, 512):
        frame = samples[start : start + 1024]
        if np.sqrt(np.mean(frame**2)) < 0.05:
            continue
        correlation = np.correlate(frame, frame, "full")[1023:]
        low, high = rate // 400, rate // 70
        pitches.append(rate / (low + np.argmax(correlation[low:high])))
    return float(np.median(pitches))


@pytest.mark.slow
def test_same_seed_same_bytes_whatever_nj_and_other_seed_differs(tiny, tmp_path):
    config, corpus, _ = tiny
    # Fewer utterances and no speech-shaped noise (which depends on all training speech): every file made
    # must equal the fixture's, made with another job count.
    small = dataclasses.replace(config, utterances_per_speaker=2, sd_test_utterances=1, noise_types=["white", "babble"])
    make_corpus(small, tmp_path / "again", nj=1)
    again = _files(tmp_path / "again")
    original = _files(corpus)
    assert len(again) == 2 * 6 * 3 + 2 * 2
    for name, content in again.items():
        assert content == original[name], name

    make_corpus(dataclasses.replace(small, seed=1), tmp_path / "other", nj=1)
    other = _files(tmp_path / "other")
    assert other.keys() == again.keys()
    differing = [name for name in again if name.endswith(".wav") and other[name] != again[name]]
    assert len(differing) == len([name for name in again if name.endswith(".wav")])


def test_lips_follow_the_speech_energy(tiny):
    _, corpus, _ = tiny
    items = _utterances(corpus)
    own, other, shifted = [], [], []
    for index, (_, samples, frames, fps) in enumerate(items):
        opening = _mouth_opening(frames)
        energy = _rms_per_frame(samples, fps, len(frames))
        own.append(np.corrcoef(opening, energy)[0, 1])
        _, other_samples, other_frames, _ = items[(index + 7) % len(items)]
        other_energy = _rms_per_frame(other_samples, fps, len(other_frames))
        count = min(len(opening), len(other_energy))
        other.append(np.corrcoef(opening[:count], other_energy[:count])[0, 1])
        shifted.append(np.corrcoef(opening[6:], energy[:-6])[0, 1])  # audio 200 ms late
    assert np.mean(own) > 0.4
    assert np.mean(own) > np.mean(other) + 0.2
    assert np.mean(own) > np.mean(shifted) + 0.2
    assert np.mean(np.array(own) > 0.2) > 0.9


def test_video_lasts_as_long_as_the_audio_and_timeline_covers_it(tiny):
    config, corpus, _ = tiny
    for utt, samples, frames, fps in _utterances(corpus):
        duration = len(samples) / 16000
        assert fps == config.fps
        assert abs(len(frames) - duration * fps) <= 1, utt
        assert frames.shape[1:] == (config.lips_size, config.lips_size)
        timeline = parse_timeline((corpus / "pho" / utt.split("_")[0] / f"{utt}.pho").read_text())
        assert timeline[0].start == 0.0 and abs(timeline[-1].end - duration) < 1e-3
        assert all(a.end == b.start and a.start <= a.end for a, b in zip(timeline, timeline[1:]))

        # the timeline is the audio's: speech phones are louder than the pauses around them
        def power(phones, samples=samples):
            return np.mean(np.concatenate([samples[int(p.start * 16000) : int(p.end * 16000)] for p in phones]) ** 2)

        assert power([p for p in timeline if p.symbol != "_"]) > 30 * power([p for p in timeline if p.symbol == "_"])


def test_speakers_differ_in_voice_and_appearance(tiny):
    config, corpus, _ = tiny
    pitch, looks = {}, {}
    for speaker in config.speakers:
        if speaker.split == "babble":
            continue
        items = [item for item in _utterances(corpus) if item[0].startswith(f"{speaker.id}_")]
        pitch[speaker.id] = np.median([_median_f0(samples) for _, samples, _, _ in items])
        looks[speaker.id] = np.mean([frames.mean(axis=0) for _, _, frames, _ in items], axis=0)
    female = [pitch[s.id] for s in config.speakers if s.gender == "F" and s.id in pitch]
    male = [pitch[s.id] for s in config.speakers if s.gender == "M" and s.id in pitch]
    assert min(female) > 1.4 * max(male)
    ids = sorted(looks)
    distances = [np.abs(looks[a] - looks[b]).mean() for i, a in enumerate(ids) for b in ids[i + 1 :]]
    assert min(distances) > 3.0  # mean gray-level difference between any two speakers' average frames


def test_data_dirs_are_valid_and_splits_disjoint(tiny):
    config, corpus, data = tiny
    speakers = {}
    for name in ("train_si", "dev_si", "train_sd", "test"):
        assert validate_data_dir(data / name) > 0
        utt2spk = read_table(data / name / "utt2spk")
        assert all(utt.startswith(f"{spk}_") for utt, spk in utt2spk.items())
        assert all(Path(path).is_absolute() for path in read_table(data / name / "wav.scp").values())
        assert read_table(data / name / "text").keys() == utt2spk.keys()
        speakers[name] = set(utt2spk.values())
    assert not speakers["train_si"] & speakers["dev_si"]
    assert not (speakers["train_si"] | speakers["dev_si"]) & speakers["test"]
    assert speakers["train_sd"] == speakers["test"] == {s.id for s in config.speakers_in("test")}
    assert {s.gender for s in config.speakers_in("test")} == {"F", "M"}
    sd_train, sd_test = (set(read_table(data / name / "wav.scp")) for name in ("train_sd", "test"))
    assert not sd_train & sd_test
    assert len(sd_test) == config.sd_test_utterances * len(speakers["test"])

    noises = {}
    for split in ("train", "test"):
        directory = data / f"noise_{split}"
        assert validate_data_dir(directory, require_lips=False) == len(config.noise_types)
        assert set(read_table(directory / "spk2utt")) == set(config.noise_types)
        noises[split] = {
            read_table(directory / "utt2spk")[key]: read_wav(path, 16000)[0]
            for key, path in read_table(directory / "wav.scp").items()
        }
    for kind in config.noise_types:
        train, test = noises["train"][kind], noises["test"][kind]
        assert len(train) == len(test) == int(config.noise_seconds * 16000)
        assert abs(np.corrcoef(train, test)[0, 1]) < 0.2, kind
    table = yaml.safe_load((corpus / "speakers.yaml").read_text())
    assert {s["id"] for s in table["speakers"]} == {s.id for s in config.speakers}


def test_rerun_remakes_only_what_is_missing(tiny, tmp_path):
    config, corpus, _ = tiny
    copy = tmp_path / "corpus"
    shutil.copytree(corpus, copy)
    make_corpus(config, copy)  # .done: nothing to do
    lost, kept = copy / "wav" / "s01" / "s01_000.wav", copy / "lips" / "s02" / "s02_000.npz"
    lost.unlink()
    (copy / ".done").unlink()
    before = kept.stat().st_mtime_ns
    make_corpus(config, copy, nj=1)
    assert is_done(copy)
    assert lost.read_bytes() == (corpus / "wav" / "s01" / "s01_000.wav").read_bytes()
    assert kept.stat().st_mtime_ns == before

    (copy / ".done").unlink()
    with pytest.raises(ConfigError, match="different config"):
        make_corpus(dataclasses.replace(config, seed=5), copy)


def test_missing_voice_or_binary_is_named_with_its_package(tiny, tmp_path, monkeypatch):
    config, _, _ = tiny
    with pytest.raises(SynthesisToolError, match=r"mbrola-us1 .*non-free"):
        make_corpus(dataclasses.replace(config, mbrola_dir=str(tmp_path / "no_voices")), tmp_path / "a")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SynthesisToolError, match="espeak-ng not found on PATH; install the Debian package espeak-ng"):
        make_corpus(config, tmp_path / "b")
    with pytest.raises(CorpusError, match="incomplete"):
        prepare_data(tmp_path / "b", tmp_path / "data")


@pytest.mark.slow
def test_command_lines(tiny, tmp_path):
    _, corpus, data = tiny
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    for module in ("avvae.corpus.make_corpus", "avvae.corpus.prepare_data"):
        result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, env=env)
        assert result.returncode == 0 and "usage" in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "avvae.corpus.prepare_data", str(corpus), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "elapsed time" in result.stderr
    assert (tmp_path / "data" / "test" / "wav.scp").read_text() == (data / "test" / "wav.scp").read_text()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "avvae.corpus.make_corpus",
            "--config",
            str(tmp_path / "none.yaml"),
            str(tmp_path / "c"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 1 and "config file does not exist" in result.stderr


def test_unknown_espeak_voice_is_named(tiny, tmp_path):
    config, _, _ = tiny
    wrong = dataclasses.replace(config.speakers[0], voice="mb-zz9")
    with pytest.raises(SynthesisToolError, match="cannot use voice mb-zz9 .*mbrola-us1"):
        make_corpus(dataclasses.replace(config, speakers=[wrong] + config.speakers[1:]), tmp_path / "a")
