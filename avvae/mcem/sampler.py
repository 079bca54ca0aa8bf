"""The E-step samplers: Gaussian random-walk Metropolis-Hastings (published) or MALA on every speaker's latents,
one accept/reject per frame (frames are independent given the parameters), warm-started from the previous state.

MH: a draw proposes z'_j = z_j + eps * n for every speaker and decodes all proposals in one decoder pass (one call
per distinct model); the decoded variances of accepted proposals become the chain's state, so nothing accepted is
decoded twice. With scan "in_turn", speaker j's proposal is accepted or rejected given the other speakers' current
state (speakers before it in this draw already updated): a valid Metropolis-within-Gibbs sweep, since z_j's
proposal depends only on z_j, which nothing before its turn changes. With "joint", one decision per frame for all.

MALA: z' = z + eps^2/2 grad log p(z | x) + eps * n for all speakers jointly, accepted per frame with the
Metropolis-Hastings correction; a draw costs one decoder pass with its backward pass.

Step adaptation (MH, optional): during burn-in draws, each speaker's step in each frame (and chain) follows a
Robbins-Monro update of log eps toward a target acceptance rate, and it is frozen for the kept draws. Per frame
rather than per speaker because the posterior's width varies by orders of magnitude between frames: where the speaker
dominates, hundreds of bins pin z, while where it is silent only the prior holds it, so one step per speaker would
be too long for the first and too short for the second. Frames are independent given the parameters, so a product of
per-frame kernels with frozen steps is a valid kernel; the acceptance is tallied per frame already, and the update
touches [J, B, N] values, nothing per bin.

Random numbers come from one generator per utterance, drawn on the utterance's own frames, so a batch reproduces
each utterance's single run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from avvae.mcem.m_step import Params
from avvae.mcem.problem import Problem, pad_frames

# Bounds of an adapted step: far below any useful move, and far beyond the prior's scale of 1.
LOG_STEP_RANGE = (math.log(1e-4), math.log(10.0))


@dataclass
class ChainState:
    """Current latents [J, B, N, L], their decoded variances [J, B, N, F] and, once adapted, the log random-walk
    step of every speaker and frame [J, B, N] (None: the fixed proposal_std)."""

    z: torch.Tensor
    variance: torch.Tensor
    log_step: torch.Tensor | None = None


@dataclass
class StepAdaptation:
    """Robbins-Monro adaptation during burn-in: log eps += rate * (accepted - target) after each draw."""

    target: float
    rate: float


def frame_log_likelihood(speech: torch.Tensor, noise: torch.Tensor, power: torch.Tensor, floor: float) -> torch.Tensor:
    """-sum_f [log V + |x|^2 / V] per frame, V = sum_j speech_j + noise: [B, N]."""
    variance = (speech.sum(0) + noise).clamp_min(floor)
    return -(torch.log(variance) + power / variance).sum(-1)


def _log_likelihood_(variance: torch.Tensor, power: torch.Tensor) -> torch.Tensor:
    """-sum_f [log V + |x|^2 / V] per frame of a mixture variance [..., N, F] already at least the floor (made
    from _Target.mixture): two passes and the sum."""
    return -torch.log(variance).addcdiv_(power, variance).sum(-1)


def random_numbers(
    problem: Problem, generators: list[torch.Generator], latent: int, leading: int = 0, chains: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian steps [(R,) J, B, N, L] and log-uniforms [J, B, N] ([R, J, B, N] for R parallel `chains`), each
    utterance from its own generator."""
    num_speakers, _, frames, _ = problem.shape
    steps, uniforms = [], []
    device = problem.power.device
    shape = (leading,) if leading else ()
    for length, generator in zip(problem.lengths, generators):
        steps.append(torch.randn(length, *shape, num_speakers, latent, generator=generator, device=device))
        uniforms.append(
            torch.rand(length, *(shape if chains else ()), num_speakers, generator=generator, device=device)
        )
    step = steps[0][None] if len(steps) == 1 else pad_frames(steps, frames)
    uniform = uniforms[0][None] if len(uniforms) == 1 else pad_frames(uniforms, frames)
    step = step.permute(2, 3, 0, 1, 4) if leading else step.permute(2, 0, 1, 3)
    uniform = uniform.permute(2, 3, 0, 1) if chains else uniform.permute(2, 0, 1)
    return step, torch.log(uniform)


class _Target:
    """log p(x | z) + log p(z | v) per frame [B, N] for fixed parameters, and its gradient for MALA."""

    def __init__(self, problem: Problem, params: Params, floor: float):
        self.problem, self.floor = problem, floor
        self.noise, self.gain = params.noise_variance(), params.speech_gain()
        self.gains = self.gain.unbind(0)
        # MH's mixture variances start from max(WH, floor): at least the floor without a clamp per proposal, and
        # within the floor (1e-10) of max(WH + speech, floor), which the M-step and the Wiener filters use.
        self.floored_noise = self.noise.clamp_min(floor)

    def likelihood(self, speech: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
        return frame_log_likelihood(speech, others, self.problem.power, self.floor)

    def mixture(self, variances: tuple[torch.Tensor, ...], skip: int = -1) -> torch.Tensor:
        """A new buffer holding max(WH, floor) + sum_{k != skip} g_k sigma2_k, [..., B, N, F] from each speaker's
        variances [..., B, N, F] (`variance.unbind(-4)`; one fused pass per speaker)."""
        speakers = [k for k in range(len(variances)) if k != skip]
        if not speakers:
            return self.floored_noise.expand_as(variances[0]).clone()
        out = torch.addcmul(self.floored_noise, self.gains[speakers[0]], variances[speakers[0]])
        for k in speakers[1:]:
            out.addcmul_(self.gains[k], variances[k])
        return out

    def likelihood_with(self, others: torch.Tensor, j: int, variance_j: torch.Tensor) -> torch.Tensor:
        """Per-frame log-likelihood [B, N] with speaker j's variance added to `others` (which this overwrites)."""
        return _log_likelihood_(others.addcmul_(self.gains[j], variance_j), self.problem.power)

    def with_gradient(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Variances, log target [B, N] and its gradient w.r.t. z, from one decoder pass and its backward."""
        with torch.enable_grad():
            z = z.detach().requires_grad_()
            variance = self.problem.decode(z, self.floor)
            target = self.likelihood(self.gain * variance, self.noise) + self.problem.log_prior(z).sum(0)
            (gradient,) = torch.autograd.grad(target.sum(), z)
        return variance.detach(), target.detach(), gradient


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
    keep: Callable[[torch.Tensor, torch.Tensor | None], None],
    sampler: str = "mh",
    chains: int = 1,
    adaptation: StepAdaptation | None = None,
) -> tuple[ChainState, torch.Tensor]:
    """Run `draws` steps from `state`; pass the variances of each draw after `burn_in` to `keep`, with their
    per-frame log-likelihood [B, N] when the sampler has it (MH) or None. The state's variances may be updated in
    place, so `keep` must copy what it stores.

    With `adaptation` (MH), the step of each speaker and frame starts from the state's (proposal_std the first
    time), adapts after each of the first `burn_in` draws and stays fixed for the kept ones.

    With `chains` K > 1 (MH only), the state holds K independent chains [K, J, B, N, ...] stepped together (one
    decoder pass per draw for all of them), and `keep` is called for each chain's draw in turn.

    Returns the final state and the acceptance rate of each speaker in each mixture [J, B] over all draws.
    """
    target = _Target(problem, params, floor)
    step_function = _mala_step if sampler == "mala" else _mh_joint_step if scan == "joint" else _mh_in_turn_step
    z, variance = state.z, state.variance
    if sampler == "mala":
        extra = target.with_gradient(z)[1:]
    else:  # the current state's log-prior per speaker and log-likelihood per frame, updated as proposals are taken
        extra = (problem.log_prior(z), _log_likelihood_(target.mixture(variance.unbind(-4)), problem.power))
    accepted = torch.zeros(z.shape[:-1], device=z.device)
    log_step = state.log_step
    if adaptation is not None and log_step is None:
        log_step = torch.full(z.shape[:-1], math.log(proposal_std), device=z.device)
    step_size = proposal_std if log_step is None else log_step.exp().unsqueeze(-1)
    for draw in range(draws):
        if chains > 1:
            step, log_uniform = random_numbers(problem, generators, z.shape[-1], leading=chains, chains=True)
        else:
            step, log_uniform = random_numbers(problem, generators, z.shape[-1])
        z, variance, extra, accept = step_function(target, z, variance, extra, step, log_uniform, step_size)
        accepted += accept
        if adaptation is not None and draw < burn_in:
            log_step.add_(accept.to(log_step.dtype).sub_(adaptation.target), alpha=adaptation.rate)
            step_size = log_step.clamp_(*LOG_STEP_RANGE).exp().unsqueeze(-1)
        if draw >= burn_in:  # MH's state carries its per-frame log-likelihood; MALA's carries the full target
            for k in range(chains):
                chain = (k,) if chains > 1 else ()
                keep(variance[chain], None if sampler == "mala" else extra[1][chain])
    frames = problem.mask.sum(-1).clamp_min(1.0)
    accepted = accepted.reshape(-1, *problem.shape[:3]).sum(0)
    return ChainState(z, variance, log_step), (accepted * problem.mask).sum(-1) / (frames * max(draws * chains, 1))


def _mh_joint_step(target: _Target, z, variance, extra, step, log_uniform, proposal_std):
    """All speakers accepted together per frame; `proposal_std` is a number or per-frame steps [..., J, B, N, 1]."""
    log_prior, current = extra
    proposal = z + proposal_std * step
    proposed_variance = target.problem.decode(proposal, target.floor)
    proposed_prior = target.problem.log_prior(proposal)
    proposed = _log_likelihood_(target.mixture(proposed_variance.unbind(-4)), target.problem.power)
    accept = log_uniform[..., 0, :, :] < proposed - current + (proposed_prior - log_prior).sum(-3)
    accept = accept.unsqueeze(-3).expand_as(log_prior)
    extra = (torch.where(accept, proposed_prior, log_prior), torch.where(accept[..., 0, :, :], proposed, current))
    return _update(accept, (z, proposal), (variance, proposed_variance)) + (extra, accept)


def _mh_in_turn_step(target: _Target, z, variance, extra, step, log_uniform, proposal_std):
    """Speakers in turn; the state's variances are updated in place (a per-frame blend, no new buffer).
    `proposal_std` is a number or per-frame steps [..., J, B, N, 1]."""
    log_prior, current = extra
    proposal = z + proposal_std * step
    proposed_variance = target.problem.decode(proposal, target.floor)
    proposed_prior = target.problem.log_prior(proposal)
    threshold = log_uniform - (proposed_prior - log_prior)  # accept where log u < delta log-lik. + delta log-prior
    speakers, proposed_speakers, thresholds = variance.unbind(-4), proposed_variance.unbind(-4), threshold.unbind(-3)
    accepts = []
    for j, (speaker, proposed_speaker) in enumerate(zip(speakers, proposed_speakers)):
        # The others summed afresh, not as total - g_j sigma2_j, which cancels badly when one speaker dominates.
        proposed = target.likelihood_with(target.mixture(speakers, skip=j), j, proposed_speaker)
        accepts.append(torch.lt(thresholds[j], proposed - current))
        speaker.lerp_(proposed_speaker, accepts[j].unsqueeze(-1).to(variance.dtype))
        current = torch.where(accepts[j], proposed, current)
    accept = torch.stack(accepts, -3)
    extra = (torch.where(accept, proposed_prior, log_prior), current)
    return _where(accept, proposal, z), variance, extra, accept


def _mala_step(target: _Target, z, variance, extra, step, log_uniform, proposal_std):
    log_target, gradient = extra
    half = proposal_std**2 / 2
    proposal = z + half * gradient + proposal_std * step
    proposed_variance, proposed_target, proposed_gradient = target.with_gradient(proposal)
    forward = -0.5 * step.square().sum((0, -1))
    backward = -(z - proposal - half * proposed_gradient).square().sum((0, -1)) / (2 * proposal_std**2)
    log_ratio = proposed_target - log_target + backward - forward
    accept = (log_uniform[0] < log_ratio).expand(z.shape[:-1])
    z, variance = _update(accept, (z, proposal), (variance, proposed_variance))
    extra = (torch.where(accept[0], proposed_target, log_target), _where(accept, proposed_gradient, gradient))
    return z, variance, extra, accept


def _where(accept: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Per-frame choice; `accept` [J, B, N] broadcast over any trailing dimension of new/old."""
    while accept.ndim < new.ndim:
        accept = accept[..., None]
    return torch.where(accept, new, old)


def _update(accept, latents, variances) -> tuple[torch.Tensor, torch.Tensor]:
    """New latents (a small where) and variances: a blend by the 0/1 acceptance, exact for finite variances and
    several times faster than torch.where over the [..., N, F] bins."""
    weight = accept[..., None].to(variances[0].dtype)
    return _where(accept, latents[1], latents[0]), torch.lerp(variances[0], variances[1], weight)
