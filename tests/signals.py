"""In-memory two-speaker mixtures for the tests of separation methods: voiced speakers of different pitch plus
white noise, as references [3, L] and as the `Mixture` a decoding method receives."""

from __future__ import annotations

import numpy as np
import torch

from avvae.separation.decode import Mixture, Separation
from avvae.stft import StftConfig, istft, stft
from tests.datadirs import voiced_utterance

STFT = StftConfig()
PITCHES = (110.0, 220.0)


def two_speaker_mixture(seed: int, seconds: float = 1.5, noise: float = 0.05) -> tuple[np.ndarray, Mixture]:
    """References (speaker 110 Hz, speaker 220 Hz, noise) [3, L] and their mixture's features."""
    rng = np.random.default_rng(seed)
    speech = [voiced_utterance(rng, seconds, f0) for f0 in PITCHES]
    references = np.stack(speech + [(noise * rng.standard_normal(len(speech[0]))).astype(np.float32)])
    spectra = stft(references, STFT)
    mixture = Mixture(
        key=f"mix{seed}",
        stft=stft(references.sum(0), STFT),
        lips=[],
        speakers=["low", "high"],
        condition="snr0",
        num_samples=references.shape[1],
        scale=1.0,
        sources=spectra[:2],
        noise=spectra[2],
    )
    return references, mixture


def waveforms(separation: Separation, length: int) -> np.ndarray:
    """Speakers' and noise's estimated signals [J + 1, L]."""
    return istft(torch.cat([separation.sources, separation.noise[None]]), STFT, length).numpy()
