"""The final Wiener filters: each speaker's (and the noise's) share of the mixture variance, averaged over the
kept draws of a fresh chain (DESIGN.md step 5), applied to the mixture STFT."""

from __future__ import annotations

import torch

from avvae.mcem.m_step import Params, mixture_variance


class WienerAverage:
    """Running means over draws of g_j sigma2_j / V and WH / V; `keep` is the sampler's callback."""

    def __init__(self, params: Params, floor: float):
        self.params, self.floor = params, floor
        self.noise = params.noise_variance()
        self.speech_sum: torch.Tensor | None = None
        self.noise_sum: torch.Tensor | None = None
        self.count = 0

    def keep(self, variance: torch.Tensor) -> None:
        inverse = 1.0 / mixture_variance(variance, self.params, self.floor)
        speech = self.params.g[..., None] * variance * inverse
        noise = self.noise * inverse
        self.speech_sum = speech if self.speech_sum is None else self.speech_sum + speech
        self.noise_sum = noise if self.noise_sum is None else self.noise_sum + noise
        self.count += 1

    def apply(self, stft: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Estimates of the speakers [J, B, N, F] and of the noise [B, N, F] from the mixture STFT [B, N, F]."""
        return stft * (self.speech_sum / self.count), stft * (self.noise_sum / self.count)
