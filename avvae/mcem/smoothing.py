"""Masked moving averages over frames, for the slowly varying parts of the mixture model: the noise activations
and each speaker's prior offset. Padded frames (weight 0) take no part, so a padded batch averages as each mixture
alone."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def window_sum(values: torch.Tensor, half_width: int) -> torch.Tensor:
    """Sum over frames n - half_width .. n + half_width along the last axis (zeros beyond both ends), same shape."""
    padded = F.pad(values, (half_width + 1, half_width))
    cumulative = torch.cumsum(padded, dim=-1)
    return cumulative[..., 2 * half_width + 1 :] - cumulative[..., : -2 * half_width - 1]


def moving_average(values: torch.Tensor, weights: torch.Tensor, half_width: int) -> torch.Tensor:
    """Weighted mean of `values` over a window of 2 * half_width + 1 frames along the last axis; weights broadcast
    to values' shape (0 for padded frames). A window without weight gives 0."""
    weights = weights.expand_as(values)
    return window_sum(values * weights, half_width) / window_sum(weights, half_width).clamp_min(1e-12)
