"""Masked moving averages along the last axis, for the slowly varying parts of the mixture model: over frames, the
noise activations and each speaker's prior offset (padded frames, weight 0, take no part, so a padded batch
averages as each mixture alone); over frequency bins, each speaker's spectral colour."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def window_sum(values: torch.Tensor, half_width: int) -> torch.Tensor:
    """Sum over positions n - half_width .. n + half_width along the last axis (zeros beyond both ends), same shape."""
    padded = F.pad(values, (half_width + 1, half_width))
    cumulative = torch.cumsum(padded, dim=-1)
    return cumulative[..., 2 * half_width + 1 :] - cumulative[..., : -2 * half_width - 1]


def moving_average(values: torch.Tensor, weights: torch.Tensor, half_width: int) -> torch.Tensor:
    """Weighted mean of `values` over a window of 2 * half_width + 1 positions along the last axis; weights broadcast
    to values' shape (0 for padded frames). A window without weight gives 0."""
    weights = weights.expand_as(values)
    return window_sum(values * weights, half_width) / window_sum(weights, half_width).clamp_min(1e-12)
