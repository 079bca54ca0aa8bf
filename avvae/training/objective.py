"""The VAE training objective per frame: Itakura-Saito reconstruction of the target's clean power plus
beta * KL(q(z | encoder input, lips) || p(z | lips)), reparameterised; averaged over the valid frames.

The IS divergence sum_f [s/sigma2 - log(s/sigma2) - 1] is -log p(s | z) up to a constant that does not depend on
the model, and is >= 0 with 0 for a perfect fit, which makes the curves readable.
"""

from __future__ import annotations

import torch
from torch import nn

from avvae.models.latent_fit import itakura_saito_per_frame
from avvae.models.vae import SpeechVAE
from avvae.training.data import Batch


def gaussian_kl(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_q, e^lv_q) || N(mu_p, e^lv_p)) summed over the last (latent) dimension."""
    ratio = torch.exp(logvar_q - logvar_p) + (mu_q - mu_p).square() * torch.exp(-logvar_p)
    return 0.5 * (ratio - 1.0 + logvar_p - logvar_q).sum(-1)


class VaeObjective(nn.Module):
    """Wraps a SpeechVAE so that one forward call gives the loss terms (what DDP needs to sync gradients).

    `encoder_input` overrides what the encoder sees ("clean" or "mixture"; default: the model kind's), and
    `freeze_decoder` keeps the decoder's parameters fixed: the two stages of two-stage training."""

    def __init__(self, model: SpeechVAE, encoder_input: str | None = None, freeze_decoder: bool = False):
        super().__init__()
        self.model = model
        self.encoder_input = encoder_input or model.config.encoder_input
        if freeze_decoder:
            model.decoder.requires_grad_(False)

    def forward(self, batch: Batch, beta: float, generator: torch.Generator | None) -> dict[str, torch.Tensor]:
        model = self.model
        context = model.visual_context(batch.lips)
        encoder_input = batch.clean if self.encoder_input == "clean" else batch.mixture
        mu, logvar = model.encode(encoder_input, context)
        noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * noise
        recon = itakura_saito_per_frame(batch.clean, model.log_variance(z, context), model.config.log_floor)
        kl = gaussian_kl(mu, logvar, *model.prior(context))
        mask = batch.mask.to(recon.dtype)
        frames = mask.sum().clamp_min(1.0)
        recon, kl = (recon * mask).sum() / frames, (kl * mask).sum() / frames
        return {"loss": recon + beta * kl, "recon": recon, "kl": kl}
