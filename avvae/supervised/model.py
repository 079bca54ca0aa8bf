"""The mask network: the mixture's normalised log-power and the target's lips, fused per frame, a BLSTM over
frames, and a sigmoid mask per bin: mask [B, N, F] from mixture power [B, N, F] and lips [B, N, H, W] in [0, 1]."""

from __future__ import annotations

import torch
from torch import nn

from avvae.models.lip_encoder import LipEncoder
from avvae.supervised.config import MaskNetConfig


class MaskNet(nn.Module):
    """Target-speaker audio-visual mask estimation (docs/design.md, "Supervised audio-visual mask network")."""

    def __init__(self, config: MaskNetConfig):
        super().__init__()
        self.config = config
        self.audio = nn.Sequential(nn.Linear(config.num_freqs, config.audio_dim), nn.ReLU())
        self.lips = LipEncoder(config.lip_encoder_config())
        self.blstm = nn.LSTM(
            config.audio_dim + config.lip_embedding,
            config.hidden_dim,
            num_layers=config.layers,
            batch_first=True,
            bidirectional=True,
        )
        self.mask = nn.Linear(2 * config.hidden_dim, config.num_freqs)
        # Input normalisation: per-bin mean and deviation of the training mixtures' log-power.
        self.register_buffer("input_mean", torch.zeros(config.num_freqs))
        self.register_buffer("input_std", torch.ones(config.num_freqs))

    def log_power(self, power: torch.Tensor) -> torch.Tensor:
        return torch.log(power + self.config.log_floor)

    def set_input_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-bin mean and deviation of the training mixtures' log-powers, kept in the state dict."""
        self.input_mean.copy_(mean)
        self.input_std.copy_(std.clamp_min(1e-3))

    def forward(self, power: torch.Tensor, lips: torch.Tensor) -> torch.Tensor:
        if lips is None or lips.shape[:2] != power.shape[:2]:
            found = None if lips is None else tuple(lips.shape[:2])
            raise ValueError(
                f"the mask network needs the target's lips for each of the {tuple(power.shape[:2])} "
                f"(utterances, frames), got {found}"
            )
        audio = self.audio((self.log_power(power) - self.input_mean) / self.input_std)
        hidden, _ = self.blstm(torch.cat([audio, self.lips(lips)], dim=-1))
        return torch.sigmoid(self.mask(hidden))
