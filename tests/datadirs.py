"""Small real data dirs for the tests of data-dir, feature and mixing code: voiced tones with syllable-like
envelopes, lips whose opening follows the envelope, and coloured noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avvae.fileio.audio import write_wav
from avvae.fileio.datadir import write_speech_dir, write_table
from avvae.fileio.lips import save_lips

RATE = 16000
FPS = 30.0


def voiced_utterance(rng: np.random.Generator, seconds: float, f0: float) -> np.ndarray:
    """A harmonic signal at pitch `f0`, amplitude-modulated like syllables, float32 peak 0.9."""
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = np.clip(np.sin(2 * np.pi * rng.uniform(2.5, 4.5) * t + rng.uniform(0, np.pi)), 0, None) ** 2
    tone = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi)) / h for h in range(1, 12))
    signal = envelope * tone + 0.01 * rng.standard_normal(len(t))
    return (0.9 * signal / np.max(np.abs(signal))).astype(np.float32)


def lips_for(signal: np.ndarray, seconds: float | None = None) -> np.ndarray:
    """67x67 frames whose dark mouth area follows the signal's energy at 30 fps (lasting `seconds`)."""
    seconds = len(signal) / RATE if seconds is None else seconds
    frames = max(1, int(round(seconds * FPS)))
    hop = RATE / FPS
    energy = np.array([np.sqrt(np.mean(signal[int(k * hop) : int((k + 1) * hop)] ** 2) + 1e-12) for k in range(frames)])
    opening = energy / (energy.max() + 1e-12)
    rows = np.arange(67)[None, :, None]
    height = 2 + 25 * opening[:, None, None]
    image = np.where(np.abs(rows - 33) < height / 2, 30, 200) * np.ones((1, 1, 67))
    return image.astype(np.uint8)


def make_speech_dir(root: Path, speakers: int = 3, utts: int = 2, seed: int = 0) -> Path:
    """data dir `root/data` with `speakers` x `utts` utterances of 1-1.6 s; audio and lips under `root/audio`."""
    rng = np.random.default_rng(seed)
    wavs, utt2spk, lips = {}, {}, {}
    for s in range(speakers):
        spk = f"spk{s}"
        for u in range(utts):
            utt = f"{spk}_{u:03d}"
            seconds = rng.uniform(1.0, 1.6)
            signal = voiced_utterance(rng, seconds, f0=110 + 60 * s)
            wavs[utt] = str(root / "audio" / f"{utt}.wav")
            lips[utt] = str(root / "audio" / f"{utt}.npz")
            write_wav(wavs[utt], signal, RATE, subtype="PCM_16")
            save_lips(lips[utt], lips_for(signal), FPS)
            utt2spk[utt] = spk
    write_speech_dir(root / "data", wavs, utt2spk, lips)
    return root / "data"


def make_noise_dir(root: Path, seed: int = 0, seconds: float = 4.0) -> Path:
    """noise data dir `root/noise` with a white and a brown noise recording."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(int(seconds * RATE))
    brown = np.cumsum(rng.standard_normal(int(seconds * RATE)))
    brown -= np.convolve(brown, np.ones(400) / 400, mode="same")
    wavs, types = {}, {}
    for name, signal in (("brown", brown), ("white", white)):
        wavs[f"{name}_01"] = str(root / "noise_audio" / f"{name}.wav")
        write_wav(wavs[f"{name}_01"], (0.5 * signal / np.max(np.abs(signal))).astype(np.float32), RATE)
        types[f"{name}_01"] = name
    write_table(root / "noise" / "wav.scp", wavs)
    write_table(root / "noise" / "utt2spk", types)
    write_table(root / "noise" / "spk2utt", {kind: key for key, kind in types.items()})
    return root / "noise"
