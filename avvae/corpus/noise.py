"""Noise recordings for the mixtures: coloured noises, speech-shaped noise and babble.

No recorded noise ships with the packages available here, so the noises are built: white, pink (1/f power) and
brown (1/f^2) by spectral shaping of white noise, speech-shaped noise by shaping white noise with the average
spectrum of the training speech, and babble by summing talkers who are in none of the speech sets.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import welch

LOWEST_SHAPED_HZ = 20.0  # below this, coloured noises stay flat (no DC drift)
COLOUR_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}  # power falls as 1/f^exponent


def shape_white_noise(rng: np.random.Generator, length: int, gain: np.ndarray) -> np.ndarray:
    """White Gaussian noise of `length` samples filtered by the amplitude response `gain` on rfft bins."""
    spectrum = np.fft.rfft(rng.standard_normal(length)) * gain
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, n=length)


def coloured_noise(rng: np.random.Generator, length: int, rate: int, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f^exponent: 0 white, 1 pink, 2 brown."""
    frequencies = np.maximum(np.fft.rfftfreq(length, 1.0 / rate), LOWEST_SHAPED_HZ)
    return shape_white_noise(rng, length, frequencies ** (-exponent / 2.0))


def room_tone(rng: np.random.Generator, speech: np.ndarray, level_db: float, rate: int) -> np.ndarray:
    """Pink noise `level_db` below the RMS of `speech`'s voiced part, as long as `speech`: the floor of a quiet
    room, so that no frame of a recording is digital silence (synthesised pauses are exact zeros)."""
    active = speech[np.abs(speech) > 0.01 * np.abs(speech).max()] if np.any(speech) else speech
    level = np.sqrt(np.mean(np.square(active, dtype=np.float64))) if len(active) else 1.0
    noise = coloured_noise(rng, len(speech), rate, 1.0)
    noise *= level * 10 ** (level_db / 20) / max(float(np.sqrt(np.mean(noise**2))), 1e-12)
    return noise.astype(speech.dtype)


def average_spectrum(signals: list[np.ndarray], rate: int, segment: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, mean power spectral density) of speech signals, weighted by their lengths."""
    total, weight = None, 0
    for signal in signals:
        frequencies, density = welch(signal, fs=rate, nperseg=min(segment, len(signal)), nfft=segment)
        total = density * len(signal) if total is None else total + density * len(signal)
        weight += len(signal)
    if total is None:
        raise ValueError("average_spectrum needs at least one signal")
    return frequencies, total / weight


def speech_shaped_noise(
    rng: np.random.Generator, length: int, rate: int, frequencies: np.ndarray, density: np.ndarray
) -> np.ndarray:
    """White noise filtered to the given power spectral density (e.g. the training speech's)."""
    gain = np.sqrt(np.interp(np.fft.rfftfreq(length, 1.0 / rate), frequencies, density))
    return shape_white_noise(rng, length, gain)


def shaped_noise(
    rng: np.random.Generator,
    kind: str,
    length: int,
    rate: int,
    speech_spectrum: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """A coloured noise (a key of COLOUR_EXPONENTS) or, for "ssn", noise with the speech's (frequencies, density)."""
    if kind in COLOUR_EXPONENTS:
        return coloured_noise(rng, length, rate, COLOUR_EXPONENTS[kind])
    if kind != "ssn" or speech_spectrum is None:
        raise ValueError(f"noise type {kind!r}: not coloured, or speech-shaped without a speech spectrum")
    return speech_shaped_noise(rng, length, rate, *speech_spectrum)


def babble_stream(utterances: list[np.ndarray], length: int, rng: np.random.Generator) -> np.ndarray:
    """One talker of the babble: utterances at equal RMS one after the other, cycled to `length`, randomly shifted."""
    levelled = [u / (np.sqrt(np.mean(u**2)) + 1e-12) for u in utterances]
    stream = np.concatenate(levelled)
    stream = np.resize(stream, max(length, len(stream)))[:length]
    return np.roll(stream, int(rng.integers(length)))


def babble(streams: list[np.ndarray]) -> np.ndarray:
    """Several talkers at once."""
    return np.sum(streams, axis=0)
