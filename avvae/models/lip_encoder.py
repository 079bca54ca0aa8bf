"""The visual branch: each 67x67 lip frame to an embedding (dense, as published), then a temporal convolution so
an STFT frame sees `lip_context` lip frames on each side. Run once per utterance, never inside the sampler."""

from __future__ import annotations

import torch
from torch import nn

from avvae.models.config import ModelConfig


class LipEncoder(nn.Module):
    """lips [B, N, H, W] in [0, 1] -> context [B, N, lip_embedding]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        pixels = config.lip_size * config.lip_size
        self.frame = nn.Sequential(
            nn.Linear(pixels, config.lip_hidden), nn.ReLU(),
            nn.Linear(config.lip_hidden, config.lip_embedding), nn.ReLU(),
        )
        width = 2 * config.lip_context + 1
        self.context = nn.Conv1d(config.lip_embedding, config.lip_embedding, width, padding=config.lip_context)
        self.lip_size = config.lip_size

    def forward(self, lips: torch.Tensor) -> torch.Tensor:
        if lips.shape[-2:] != (self.lip_size, self.lip_size):
            size = self.lip_size
            raise ValueError(f"lip frames are {tuple(lips.shape[-2:])}, the model expects {size}x{size}")
        frames = self.frame(lips.flatten(-2) - 0.5)
        return torch.relu(self.context(frames.transpose(1, 2))).transpose(1, 2)
