"""A variational E-step (the `sampler: variational` alternative to MCMC): a diagonal Gaussian q(z_jn) per speaker
and frame, warm-started across iterations, fitted by a few Adam steps on the reparameterised ELBO
E_q[log p(x | z) + log p(z | v)] + H(q); its draws are then decoded in a single decoder call. With a
`smoothness` lambda > 0 the ELBO also takes -lambda/2 sum_n |z_n - z_(n-1)|^2 for each speaker: a Gaussian random
walk that ties each frame's latent to its neighbours', as a voice changes little from one STFT frame to the next."""

from __future__ import annotations

import math

import torch

from avvae.mcem.m_step import Params
from avvae.mcem.problem import Problem
from avvae.mcem.sampler import frame_log_likelihood, random_numbers


class VariationalPosterior:
    """q(z) = N(mean, diag exp(logvar)), [J, B, N, L] each."""

    def __init__(self, mean: torch.Tensor, std: float):
        self.mean = mean.clone()
        self.logvar = torch.full_like(mean, 2.0 * math.log(std))

    def fit(
        self,
        problem: Problem,
        params: Params,
        steps: int,
        lr: float,
        generators: list[torch.Generator],
        floor: float,
        smoothness: float = 0.0,
    ) -> None:
        """`steps` Adam steps (fresh moments, warm parameters) on the ELBO with one draw per step."""
        noise, gain = params.noise_variance(), params.speech_gain()
        with torch.enable_grad():
            mean = self.mean.detach().requires_grad_()
            logvar = self.logvar.detach().requires_grad_()
            optimiser = torch.optim.Adam([mean, logvar], lr=lr)
            for _ in range(steps):
                step, _ = random_numbers(problem, generators, mean.shape[-1])
                z = mean + torch.exp(0.5 * logvar) * step
                variance = problem.decode(z, floor)
                elbo = (
                    frame_log_likelihood(gain * variance, noise, problem.power, floor)
                    + problem.log_prior(z).sum(0)
                    + 0.5 * logvar.sum((0, -1))
                ) * problem.mask
                if smoothness > 0:
                    elbo = elbo - 0.5 * smoothness * _frame_steps(z, problem.mask)
                optimiser.zero_grad()
                (-elbo.sum()).backward()
                optimiser.step()
        self.mean, self.logvar = mean.detach(), logvar.detach().clamp(-20.0, 5.0)

    def sample_variances(
        self, problem: Problem, count: int, generators: list[torch.Generator], floor: float
    ) -> torch.Tensor:
        """Decoded variances of `count` draws from q, [count, J, B, N, F], in one decoder call."""
        step, _ = random_numbers(problem, generators, self.mean.shape[-1], leading=count)
        return problem.decode(self.mean + torch.exp(0.5 * self.logvar) * step, floor)


def _frame_steps(z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """|z_n - z_(n-1)|^2 summed over speakers, [B, N] (0 at each mixture's first frame and past its end)."""
    steps = (z[..., 1:, :] - z[..., :-1, :]).square().sum((0, -1)) * mask[:, 1:]
    return torch.nn.functional.pad(steps, (1, 0))
