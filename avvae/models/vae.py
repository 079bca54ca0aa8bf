"""The speech VAEs: A-VAE, the published AV-VAE (Nguyen et al. 2021) and CVAE, one class whose kind picks the parts.

The interface MCEM needs, batched over utterances B and frames N (and any leading sample dimensions for decode):
- `visual_context(lips [B, N, H, W]) -> context [B, N, C]` or None for the audio-only model;
- `encode(x_power [B, N, F], context) -> (mu, logvar) [B, N, L]`;
- `prior(context) -> (mu, logvar)`, [B, N, L] or [1, 1, L] for N(0, I);
- `decode(z [..., B, N, L], context) -> variance [..., B, N, F]`, sigma2_f(z) = exp(d_f(z)).
"""

from __future__ import annotations

import torch
from torch import nn

from avvae.models.config import ModelConfig
from avvae.models.lip_encoder import LipEncoder


class GaussianHead(nn.Module):
    """input -> hidden (tanh) -> (mu, logvar) of an L-dimensional diagonal Gaussian."""

    def __init__(self, inputs: int, hidden: int, latent: int):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh())
        self.mu = nn.Linear(hidden, latent)
        self.logvar = nn.Linear(hidden, latent)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.hidden(inputs)
        return self.mu(hidden), self.logvar(hidden)


class SpeechVAE(nn.Module):
    """Generative model of one speaker's clean power spectrogram, with its inference and prior networks."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        context = config.lip_embedding if config.uses_lips else 0
        self.lips = LipEncoder(config) if config.uses_lips else None
        self.encoder = GaussianHead(config.num_freqs + context, config.hidden_dim, config.latent_dim)
        self.prior_net = GaussianHead(context, config.hidden_dim, config.latent_dim) if config.uses_lips else None
        decoder_inputs = config.latent_dim + (context if config.kind == "cvae" else 0)
        self.decoder = nn.Sequential(
            nn.Linear(decoder_inputs, config.hidden_dim), nn.Tanh(), nn.Linear(config.hidden_dim, config.num_freqs)
        )
        # Encoder input normalisation: per-bin mean and deviation of log-power over the training data.
        self.register_buffer("input_mean", torch.zeros(config.num_freqs))
        self.register_buffer("input_std", torch.ones(config.num_freqs))

    def set_input_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-bin mean and deviation of the training encoder inputs' log-powers, kept in the state dict."""
        self.input_mean.copy_(mean)
        self.input_std.copy_(std.clamp_min(1e-3))

    def set_output_bias(self, log_mean_power: torch.Tensor) -> None:
        """Start the decoder at the log of the training speech's mean power per bin (the best constant variance
        under the IS divergence) rather than at 0 dB, so that no epochs are spent learning the overall scale."""
        with torch.no_grad():
            self.decoder[-1].bias.copy_(log_mean_power)

    def log_power(self, power: torch.Tensor) -> torch.Tensor:
        return torch.log(power + self.config.log_floor)

    def visual_context(self, lips: torch.Tensor | None) -> torch.Tensor | None:
        if self.lips is None:
            return None
        if lips is None:
            raise ValueError(f"the {self.config.kind} model needs the speaker's lips")
        return self.lips(lips)

    def encode(self, x_power: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = (self.log_power(x_power) - self.input_mean) / self.input_std
        if context is not None:
            inputs = torch.cat([inputs, context], dim=-1)
        return self.encoder(inputs)

    def prior(self, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.prior_net is None:
            zeros = self.input_mean.new_zeros(1, 1, self.config.latent_dim)
            return zeros, zeros
        return self.prior_net(context)

    def log_variance(self, z: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """d(z): log sigma2 of every bin, [..., B, N, F]."""
        if self.config.kind == "cvae":
            z = torch.cat([z, context.expand(*z.shape[:-1], context.shape[-1])], dim=-1)
        return self.decoder(z)

    def decode(self, z: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        return torch.exp(self.log_variance(z, context))
