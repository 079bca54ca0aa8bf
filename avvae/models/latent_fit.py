"""The best latent of a decoder for given clean speech: z_n = argmin_z IS(|s_n|^2, sigma2(z)) per frame.

It measures the decoder alone (how well any latent can explain a frame), apart from the encoder and the prior:
the model-quality diagnostic of training, and the "oracle latent" reference row of the results (Wiener filters
from each speaker's decoder at the latent fitted to its clean source), which separates model error from MCEM's
inference error. Frames are independent, so one Adam run fits every frame of a batch at once.
"""

from __future__ import annotations

import torch

from avvae.models.vae import SpeechVAE


def itakura_saito(power: torch.Tensor, log_variance: torch.Tensor, floor: float) -> torch.Tensor:
    """IS divergence of each (floored) power from exp(log_variance), elementwise."""
    ratio = (power + floor) * torch.exp(-log_variance)
    return ratio - torch.log(ratio) - 1.0


def itakura_saito_per_frame(power: torch.Tensor, log_variance: torch.Tensor, floor: float) -> torch.Tensor:
    """IS divergence of power [..., F] from exp(log_variance), summed over bins: [...]."""
    return itakura_saito(power, log_variance, floor).sum(-1)


def fit_latent(
    model: SpeechVAE, power: torch.Tensor, context: torch.Tensor | None, steps: int = 200, learning_rate: float = 0.05
) -> torch.Tensor:
    """Latents [B, N, L] minimising the IS divergence of the clean power [B, N, F] from the decoded variance.

    Starts at the encoder's mean for the clean power (its best guess, were the mixture clean) and takes `steps`
    Adam steps on the sum over frames (frames do not interact, so this is a per-frame fit)."""
    floor = model.config.log_floor
    with torch.no_grad():
        start, _ = model.encode(power, context)
    z = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=learning_rate)
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad()
            loss = itakura_saito_per_frame(power, model.log_variance(z, context), floor).sum()
            loss.backward()
            optimizer.step()
    return z.detach()
