"""The slowly varying parts of the mixture model: each speaker's prior adapted to its voice, the random walk between
consecutive latents and the smoothed noise activations (avvae.mcem.prior_adaptation, .smoothing, .variational)."""

import dataclasses

import pytest
import torch

from avvae.mcem import McemConfig, run_mcem, run_mcem_batch
from avvae.mcem.m_step import m_step
from avvae.mcem.prior_adaptation import PriorAdaptation
from avvae.mcem.problem import Problem
from avvae.mcem.separate import _Estep, initial_params
from avvae.mcem.smoothing import moving_average, window_sum
from avvae.mcem.synthetic import sample_mixture
from avvae.mcem.variational import _frame_steps
from tests.test_mcem_fast import random_problem, sdr

ADAPTED = McemConfig(
    iterations=20,
    draws=20,
    burn_in=10,
    final_draws=30,
    final_burn_in=20,
    threads=1,
    sampler="variational",
    prior_adaptation_frames=3,
    latent_smoothness=2.0,
    noise_smoothing_frames=2,
)


def test_moving_average_is_the_weighted_mean_over_each_window():
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(3, 17, generator=generator, dtype=torch.float64)
    weights = torch.rand(3, 17, generator=generator, dtype=torch.float64)
    weights[:, 12:] = 0.0  # padded frames
    for half_width in (1, 4, 30):
        want = torch.empty_like(values)
        for n in range(17):
            window = slice(max(0, n - half_width), n + half_width + 1)
            want[:, n] = (values[:, window] * weights[:, window]).sum(-1) / weights[:, window].sum(-1)
        assert torch.allclose(moving_average(values, weights, half_width)[:, :12], want[:, :12])
        assert torch.allclose(
            window_sum(torch.ones(17, dtype=torch.float64), half_width)[8],
            torch.tensor(float(min(17, 2 * half_width + 1)), dtype=torch.float64),
        )


def test_smoothed_noise_activations_are_the_moving_average_of_the_free_update():
    samples, power, params = random_problem(torch.Generator().manual_seed(1), frames=12)
    mask = torch.ones(2, 12)
    mask[1, 9:] = 0.0
    free = m_step(samples, params, power, mask, 0.5, 1e-10)
    smoothed = m_step(samples, params, power, mask, 0.5, 1e-10, noise_smoothing_frames=2)
    assert torch.equal(free.W, smoothed.W) and torch.equal(free.g, smoothed.g)
    assert torch.allclose(smoothed.H[0], moving_average(free.H[0], mask[0], 2))
    assert torch.allclose(smoothed.H[1, :, :9], moving_average(free.H[1, :, :9], mask[1, :9], 2))
    assert (smoothed.H[1, :, 9:] == 1e-10).all()
    whole = m_step(samples, params, power, mask, 0.5, 1e-10, noise_smoothing_frames=50)
    assert torch.allclose(whole.H[0], free.H[0].mean(-1, keepdim=True).expand(-1, 12))
    # the smoothed activations vary less from frame to frame than the free ones
    assert (smoothed.H[0].diff(dim=-1).abs().mean() < 0.5 * free.H[0].diff(dim=-1).abs().mean()).item()


def test_the_adapted_prior_follows_a_constant_offset_and_the_posterior_spread(speakers):
    mixture = sample_mixture(speakers, 40, 0.1, torch.Generator().manual_seed(2))
    with torch.no_grad():
        problem = Problem([mixture.stft], [[None, None]], [speakers], torch.device("cpu"))
    visual_mean, visual_precision = problem.prior_mean.clone(), problem.prior_precision.clone()
    offset = torch.randn(2, 1, 1, visual_mean.shape[-1], generator=torch.Generator().manual_seed(3))
    logvar = torch.log(0.5 / visual_precision)
    PriorAdaptation(problem, 5).update(problem, visual_mean + offset, logvar)
    assert torch.allclose(problem.prior_mean, visual_mean + offset, atol=1e-5)
    # the posterior's variance is half the visual prior's and its mean on the shifted prior mean: precision doubled
    assert torch.allclose(problem.prior_precision, 2.0 * visual_precision, rtol=1e-4)


def test_the_random_walk_shortens_the_latents_steps_between_frames(speakers):
    mixture = sample_mixture(speakers, 60, 0.1, torch.Generator().manual_seed(4))
    steps = {}
    for smoothness in (0.0, 20.0):
        config = dataclasses.replace(ADAPTED, prior_adaptation_frames=0, latent_smoothness=smoothness)
        with torch.no_grad():
            problem = Problem([mixture.stft], [[None, None]], [speakers], torch.device("cpu"))
            generators = [torch.Generator().manual_seed(0)]
            e_step = _Estep(problem, generators, config)
            params = initial_params(problem, generators, config)
            for _ in range(10):
                e_step.run(params, config.draws, config.burn_in, lambda variance: None)
        steps[smoothness] = float(_frame_steps(e_step.posterior.mean, problem.mask).sum())
    assert steps[20.0] < 0.5 * steps[0.0], steps


def test_adapted_mcem_separates_and_a_padded_batch_reproduces_each_single_run(speakers):
    mixture = sample_mixture(speakers, 100, 0.1, torch.Generator().manual_seed(1))
    result = run_mcem(mixture.stft, None, speakers, ADAPTED)
    unprocessed = torch.clamp(sdr(mixture.sources, mixture.stft.expand_as(mixture.sources)), min=0.0)
    assert (sdr(mixture.sources, result.separation.sources) > unprocessed + 6.0).all()
    generator = torch.Generator().manual_seed(5)
    stfts = [sample_mixture(speakers, frames, 0.1, generator).stft for frames in (30, 45, 17)]
    config = dataclasses.replace(ADAPTED, iterations=4, final_draws=6, final_burn_in=3)
    batched = run_mcem_batch(stfts, [[None, None]] * 3, [speakers] * 3, config)
    for x, result in zip(stfts, batched):
        single = run_mcem(x, None, speakers, config)
        assert torch.allclose(result.separation.sources, single.separation.sources, rtol=1e-4, atol=1e-6)
        assert torch.allclose(result.H, single.H, rtol=1e-4) and torch.allclose(result.g, single.g, rtol=1e-4)


@pytest.mark.parametrize("key", ["prior_adaptation_frames", "latent_smoothness"])
def test_adaptation_and_the_random_walk_need_the_variational_e_step(key):
    with pytest.raises(ValueError, match=f"{key} needs the variational sampler"):
        McemConfig(**{key: 2})


@pytest.mark.parametrize("key", ["prior_adaptation_frames", "latent_smoothness", "noise_smoothing_frames"])
def test_negative_settings_are_errors_naming_the_key(key):
    with pytest.raises(ValueError, match=key):
        McemConfig(sampler="variational", **{key: -1})
