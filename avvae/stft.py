"""STFT / inverse STFT pair with exact-length reconstruction (docs/design.md, "Signals and features").

Frames are centred: frame n is centred on sample n * hop and sits at time n * hop / sample_rate. A signal of
L >= 1 samples gets N = 1 + ceil((L - 1) / hop) frames, the fewest that put the last sample at or before the
last frame's centre: every sample then lies between two frame centres (or on one), under full overlap, so the
summed squared window never drops towards zero, also at the end and with hop > n_fft / 2 (the default 533 > 512
would otherwise leave up to (L mod hop) - n_fft / 2 samples uncovered and divide masked spectrograms by a
vanishing window envelope). The signal is zero-padded at the end up to the last frame's centre before the STFT
and the inverse trims back to L. Spectrograms are frames-major: shape [..., N, F], F = n_fft // 2 + 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from avvae.config import ConfigValueError
from avvae.fileio.feature_files import FeatureFileError


@dataclass(frozen=True)
class StftConfig:
    """STFT settings; stored with every feature file so that a later stage can check it uses the same ones."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 533
    window: str = "sine"

    def __post_init__(self) -> None:
        if not 1 <= self.hop_length <= self.n_fft:
            raise ConfigValueError(
                f"STFT hop_length must be in 1..n_fft={self.n_fft} (frames must overlap or touch), "
                f"got {self.hop_length}"
            )

    @property
    def num_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def frame_rate(self) -> float:
        """STFT frames per second."""
        return self.sample_rate / self.hop_length

    def num_frames(self, num_samples: int) -> int:
        """Frames of a signal of `num_samples` >= 1 samples: 1 + ceil((num_samples - 1) / hop)."""
        if num_samples < 1:
            raise ValueError(f"an STFT needs at least one sample, got {num_samples}")
        return 1 + -(-(num_samples - 1) // self.hop_length)

    def padded_length(self, num_samples: int) -> int:
        """Samples the signal is zero-padded to before the STFT: up to the last frame's centre, at least L."""
        return max(num_samples, (self.num_frames(num_samples) - 1) * self.hop_length)

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
        raise ConfigValueError(f"unknown STFT window {config.window!r} (expected 'sine' or 'hann')")
    return window.float()


def stft(signal: torch.Tensor | np.ndarray, config: StftConfig) -> torch.Tensor:
    """Complex STFT of [..., L] real signals -> [..., N, F] complex64, N = config.num_frames(L)."""
    x = torch.as_tensor(signal, dtype=torch.float32)
    shape = x.shape
    length = shape[-1]
    frames = config.num_frames(length)
    padded = torch.nn.functional.pad(x.reshape(-1, length), (0, config.padded_length(length) - length))
    spec = torch.stft(
        padded,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        window=analysis_window(config, x.device),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )[..., :frames]
    return spec.transpose(-1, -2).reshape(*shape[:-1], frames, spec.shape[-2])


def istft(spec: torch.Tensor, config: StftConfig, length: int) -> torch.Tensor:
    """Inverse of `stft`: [..., N, F] complex -> [..., length] real, exact for an unmodified spectrogram.

    N must be config.num_frames(length): a spectrogram with another frame count (e.g. features dumped before the
    frame count changed) would be silently misaligned with its samples, so it is an error.
    """
    shape = spec.shape
    expected = config.num_frames(length)
    if shape[-2] != expected:
        raise FeatureFileError(
            f"spectrogram has {shape[-2]} frames, a signal of {length} samples has {expected} "
            f"(1 + ceil((L - 1) / hop), hop {config.hop_length}); features of an older dump? redump"
        )
    frames = spec.reshape(-1, shape[-2], shape[-1]).transpose(-1, -2)
    signal = torch.istft(
        frames,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        window=analysis_window(config, spec.device),
        center=True,
        length=config.padded_length(length),
    )
    return signal[..., :length].reshape(*shape[:-2], length)


def power_spectrogram(signal: torch.Tensor | np.ndarray, config: StftConfig) -> torch.Tensor:
    """|STFT|^2, [..., N, F] float32."""
    return stft(signal, config).abs().square()
