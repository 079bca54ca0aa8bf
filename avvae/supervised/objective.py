"""The training objective of the mask network: phase-insensitive magnitude MSE between the masked mixture
magnitude and the target's clean magnitude, sum_f (m_fn |x_fn| - |s_fn|)^2, averaged over the valid frames.

Also reported (not optimised): the masked-magnitude SNR in dB over the batch's valid frames, a readable curve.
"""

from __future__ import annotations

import torch
from torch import nn

from avvae.supervised.model import MaskNet
from avvae.training.data import Batch


class MaskObjective(nn.Module):
    """Wraps a MaskNet so that one forward call gives the loss terms; `beta` and `generator` (the VAEs' KL weight
    and reparameterisation noise, part of the trainer's objective interface) are not used."""

    def __init__(self, model: MaskNet):
        super().__init__()
        self.model = model

    def forward(self, batch: Batch, beta: float, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        mask = self.model(batch.mixture, batch.lips)
        target = batch.clean.sqrt()
        error = (mask * batch.mixture.sqrt() - target).square()
        valid = batch.mask.to(error.dtype)[..., None]
        frames = valid.sum().clamp_min(1.0)
        squared_error = (error * valid).sum()
        snr = 10 * torch.log10((target.square() * valid).sum().clamp_min(1e-10) / squared_error.clamp_min(1e-10))
        return {"loss": squared_error / frames, "snr_db": snr.detach()}
