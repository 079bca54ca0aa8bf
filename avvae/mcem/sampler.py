"""The E-step sampler: Gaussian random-walk Metropolis-Hastings on every speaker's latents, one accept/reject per
frame (frames are independent given the parameters), warm-started from the previous chain state.

A draw proposes z'_j = z_j + eps * n for every speaker and decodes all proposals in one decoder pass (one call per
distinct model). The decoded variances of accepted proposals become the chain's state, so nothing accepted is ever
decoded twice. With scan "in_turn", speaker j's proposal is accepted or rejected given the other speakers' current
state (speakers before it in this draw already updated): a valid Metropolis-within-Gibbs sweep, since z_j's proposal
depends only on z_j, which nothing before its turn changes. With "joint", one decision per frame for all speakers.

Random numbers come from one generator per utterance, drawn on the utterance's own frames, so a batch reproduces
each utterance's single run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from avvae.mcem.m_step import Params
from avvae.mcem.problem import Problem, pad_frames


@dataclass
class ChainState:
    """Current latents [J, B, N, L] and their decoded variances [J, B, N, F]."""

    z: torch.Tensor
    variance: torch.Tensor


def frame_log_likelihood(speech: torch.Tensor, noise: torch.Tensor, power: torch.Tensor, floor: float) -> torch.Tensor:
    """-sum_f [log V + |x|^2 / V] per frame, V = sum_j speech_j + noise: [B, N]."""
    variance = (speech.sum(0) + noise).clamp_min(floor)
    return -(torch.log(variance) + power / variance).sum(-1)


def _random_numbers(problem: Problem, generators: list[torch.Generator], latent: int) -> tuple[torch.Tensor, ...]:
    """Proposal steps [J, B, N, L] and log-uniforms [J, B, N], each utterance from its own generator."""
    num_speakers, _, frames, _ = problem.shape
    steps, uniforms = [], []
    device = problem.power.device
    for length, generator in zip(problem.lengths, generators):
        steps.append(torch.randn(length, num_speakers, latent, generator=generator, device=device))
        uniforms.append(torch.rand(length, num_speakers, generator=generator, device=device))
    step = pad_frames(steps, frames).permute(2, 0, 1, 3)
    log_uniform = torch.log(pad_frames(uniforms, frames).permute(2, 0, 1))
    return step, log_uniform


def run_chain(
    problem: Problem,
    params: Params,
    state: ChainState,
    draws: int,
    burn_in: int,
    generators: list[torch.Generator],
    proposal_std: float,
    scan: str,
    floor: float,
    keep: Callable[[torch.Tensor], None],
) -> tuple[ChainState, torch.Tensor]:
    """Run `draws` MH steps from `state`; pass the variances of each draw after `burn_in` to `keep`.

    Returns the final state and the acceptance rate of each speaker in each mixture [J, B] over all draws.
    """
    noise = params.noise_variance()
    gain = params.g[..., None]
    z, variance = state.z, state.variance
    log_prior = problem.log_prior(z)
    accepted = torch.zeros(problem.shape[:2], device=z.device)
    for draw in range(draws):
        step, log_uniform = _random_numbers(problem, generators, z.shape[-1])
        proposal = z + proposal_std * step
        proposed_variance = problem.decode(proposal, floor)
        proposed_prior = problem.log_prior(proposal)
        speech = gain * variance
        if scan == "joint":
            current = frame_log_likelihood(speech, noise, problem.power, floor)
            proposed = frame_log_likelihood(gain * proposed_variance, noise, problem.power, floor)
            log_ratio = proposed - current + (proposed_prior - log_prior).sum(0)
            accept = (log_uniform[0] < log_ratio).expand(problem.num_speakers, -1, -1)
        else:
            accept = torch.zeros_like(log_prior, dtype=torch.bool)
            for j in range(problem.num_speakers):
                # Summed afresh, not as total - speech_j, which cancels badly when one speaker dominates.
                others = sum((speech[k] for k in range(problem.num_speakers) if k != j), noise)
                current = frame_log_likelihood(speech[j : j + 1], others, problem.power, floor)
                proposed = frame_log_likelihood(gain[j : j + 1] * proposed_variance[j : j + 1], others,
                                                problem.power, floor)
                accept[j] = log_uniform[j] < proposed - current + proposed_prior[j] - log_prior[j]
                speech[j] = torch.where(accept[j, ..., None], gain[j] * proposed_variance[j], speech[j])
        z = torch.where(accept[..., None], proposal, z)
        variance = torch.where(accept[..., None], proposed_variance, variance)
        log_prior = torch.where(accept, proposed_prior, log_prior)
        accepted += (accept * problem.mask).sum(-1)
        if draw >= burn_in:
            keep(variance)
    frames = problem.mask.sum(-1).clamp_min(1.0)
    return ChainState(z, variance), accepted / (frames * max(draws, 1))
