"""STFT / inverse STFT pair with exact-length reconstruction (DESIGN.md, Signals).

Frames are centred: frame n is centred on sample n * hop, so a signal of L samples has 1 + L // hop frames and
frame n sits at time n * hop / sample_rate. Spectrograms are frames-major: shape [..., N, F], F = n_fft // 2 + 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class StftConfig:
    """STFT settings; stored with every feature file so that a later stage can check it uses the same ones."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 533
    window: str = "sine"

    @property
    def num_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def frame_rate(self) -> float:
        """STFT frames per second."""
        return self.sample_rate / self.hop_length

    def num_frames(self, num_samples: int) -> int:
        return 1 + num_samples // self.hop_length

    def frame_times(self, num_frames: int) -> np.ndarray:
        """Centre time in seconds of each STFT frame."""
        return np.arange(num_frames) * self.hop_length / self.sample_rate


def analysis_window(config: StftConfig, device: torch.device | str | None = None) -> torch.Tensor:
    """The analysis (and synthesis) window; `sine` is sin((n + 0.5) pi / n_fft)."""
    n = torch.arange(config.n_fft, dtype=torch.float64, device=device)
    if config.window == "sine":
        window = torch.sin((n + 0.5) * math.pi / config.n_fft)
    elif config.window == "hann":
        window = torch.hann_window(config.n_fft, periodic=True, dtype=torch.float64, device=device)
    else:
        raise ValueError(f"unknown STFT window {config.window!r} (expected 'sine' or 'hann')")
    return window.float()


def stft(signal: torch.Tensor | np.ndarray, config: StftConfig) -> torch.Tensor:
    """Complex STFT of [..., L] real signals -> [..., N, F] complex64."""
    x = torch.as_tensor(signal, dtype=torch.float32)
    shape = x.shape
    spec = torch.stft(
        x.reshape(-1, shape[-1]),
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        window=analysis_window(config, x.device),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    return spec.transpose(-1, -2).reshape(*shape[:-1], spec.shape[-1], spec.shape[-2])


def istft(spec: torch.Tensor, config: StftConfig, length: int) -> torch.Tensor:
    """Inverse of `stft`: [..., N, F] complex -> [..., length] real, exact for an unmodified spectrogram."""
    shape = spec.shape
    frames = spec.reshape(-1, shape[-2], shape[-1]).transpose(-1, -2)
    signal = torch.istft(
        frames,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        window=analysis_window(config, spec.device),
        center=True,
        length=length,
    )
    return signal.reshape(*shape[:-2], length)


def power_spectrogram(signal: torch.Tensor | np.ndarray, config: StftConfig) -> torch.Tensor:
    """|STFT|^2, [..., N, F] float32."""
    return stft(signal, config).abs().square()
