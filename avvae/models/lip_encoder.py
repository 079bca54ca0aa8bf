"""The visual branch: each 67x67 lip frame to an embedding (dense, as published), then a temporal convolution so
an STFT frame sees `lip_context` lip frames on each side. Run once per utterance, never inside the sampler."""

from __future__ import annotations

import torch
from torch import nn

from avvae.errors import InputFileError
from avvae.models.config import ModelConfig


class LipEncoder(nn.Module):
    """lips [B, N, H, W] in [0, 1] -> context [B, N, lip_embedding]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        pixels = config.lip_size * config.lip_size
        self.frame = nn.Sequential(
            nn.Linear(pixels, config.lip_hidden),
            nn.ReLU(),
            nn.Linear(config.lip_hidden, config.lip_embedding),
            nn.ReLU(),
        )
        width = 2 * config.lip_context + 1
        self.context = nn.Conv1d(config.lip_embedding, config.lip_embedding, width, padding=config.lip_context)
        self.lip_size = config.lip_size
        self.normalise = config.lip_normalise == "mean"

    def forward(self, lips: torch.Tensor) -> torch.Tensor:
        if lips.shape[-2:] != (self.lip_size, self.lip_size):
            size = self.lip_size
            raise InputFileError(f"lip frames are {tuple(lips.shape[-2:])}, the model expects {size}x{size}")
        pixels = lips.flatten(-2)
        frames = self.frame(_minus_mean_frame(pixels) if self.normalise else pixels - 0.5)
        return torch.relu(self.context(frames.transpose(1, 2))).transpose(1, 2)


def _minus_mean_frame(pixels: torch.Tensor) -> torch.Tensor:
    """pixels [B, N, P] minus each sequence's mean frame over its non-blank frames (training segments are padded
    with all-zero frames, which no camera gives)."""
    real = (pixels.amax(-1, keepdim=True) > 0).to(pixels.dtype)
    mean = (pixels * real).sum(1, keepdim=True) / real.sum(1, keepdim=True).clamp_min(1.0)
    return pixels - mean
