"""The final Wiener filters: each speaker's (and the noise's) share of the mixture variance, averaged over the
kept draws of a fresh chain (docs/design.md, "Monte Carlo EM", step 5), applied to the mixture STFT."""

from __future__ import annotations

import torch

from avvae.mcem.m_step import Params


class WienerAverage:
    """Running sums over draws of sigma2_j / V and 1 / V; g_j c_j and WH are fixed during the chain, so they are
    formed once and multiply the averages once at the end. `keep` is the sampler's callback: two fused passes per
    speaker and draw."""

    def __init__(self, params: Params, floor: float):
        self.floor = floor
        self.gain, self.noise = params.speech_gain(), params.noise_variance()
        self.speech_sum: torch.Tensor | None = None
        self.inverse_sum: torch.Tensor | None = None
        self.count = 0

    def keep(self, variance: torch.Tensor, likelihood: torch.Tensor | None = None) -> None:
        mixture = torch.addcmul(self.noise, self.gain[0], variance[0])
        for j in range(1, len(variance)):
            mixture.addcmul_(self.gain[j], variance[j])
        inverse = mixture.clamp_min_(self.floor).reciprocal_()
        if self.speech_sum is None:
            self.speech_sum, self.inverse_sum = variance * inverse, inverse
        else:
            self.speech_sum.addcmul_(variance, inverse)
            self.inverse_sum.add_(inverse)
        self.count += 1

    def apply(self, stft: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Estimates of the speakers [J, B, N, F] and of the noise [B, N, F] from the mixture STFT [B, N, F]."""
        speech = self.speech_sum * (self.gain / self.count)
        return stft * speech, stft * (self.inverse_sum * (self.noise / self.count))
