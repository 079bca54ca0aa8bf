"""Test-time adaptation of each speaker's prior p(z | v) to its own voice (`prior_adaptation_frames`).

A speaker-independent visual prior is the same for every voice: the lips say when a speaker talks and roughly what,
not how the voice sounds (its pitch and timbre), which the latents also carry. After each variational E-step the
prior's mean and spread are refitted, as further M-step parameters, to that speaker's posterior:
- its mean moves by a slowly varying offset u_jn, the precision-weighted mean of (posterior mean - visual prior
  mean) over the frames n - w .. n + w (w = `prior_adaptation_frames`), which follows the voice along the utterance;
- its variance is scaled per latent dimension by the mean over the utterance of the posterior's squared deviation
  from the shifted mean (plus its own variance) in units of the visual prior's variance, within [0.1, 10].
Both start from the visual prior, so the first E-step is the unadapted one."""

from __future__ import annotations

import torch

from avvae.mcem.problem import Problem
from avvae.mcem.smoothing import moving_average

SCALE_RANGE = (0.1, 10.0)


class PriorAdaptation:
    """Keeps the visual prior of a Problem and refits the Problem's prior mean and precision [J, B, N, L]."""

    def __init__(self, problem: Problem, half_width: int):
        self.visual_mean = problem.prior_mean.clone()
        self.visual_precision = problem.prior_precision.clone()
        self.half_width = half_width

    def update(self, problem: Problem, mean: torch.Tensor, logvar: torch.Tensor) -> None:
        """Refit the prior to the posterior q = N(mean, exp(logvar)), both [J, B, N, L]."""
        mask = problem.mask[None, :, :, None]
        weights = (self.visual_precision * mask).transpose(-1, -2)
        offset = moving_average((mean - self.visual_mean).transpose(-1, -2), weights, self.half_width)
        problem.prior_mean = self.visual_mean + offset.transpose(-1, -2)
        deviation = ((mean - problem.prior_mean).square() + logvar.exp()) * self.visual_precision
        scale = (deviation * mask).sum(2, keepdim=True) / mask.sum(2, keepdim=True).clamp_min(1.0)
        problem.prior_precision = self.visual_precision / scale.clamp(*SCALE_RANGE)
