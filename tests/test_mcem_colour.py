"""Each speaker's spectral colour (McemConfig.speaker_colour): fitted by the M-step, smoothed over frequency, and
what it buys when a voice's long-term spectrum differs from what its decoder says."""

import dataclasses

import pytest
import torch

from avvae.mcem import McemConfig, run_mcem, run_mcem_batch
from avvae.mcem.m_step import Params, log_likelihood, m_step, mixture_variance
from avvae.mcem.smoothing import moving_average
from avvae.mcem.synthetic import SyntheticMixture, complex_gaussian, sample_mixture
from tests.test_mcem_adaptation import ADAPTED
from tests.test_mcem_fast import random_problem, sdr

COLOURED = dataclasses.replace(ADAPTED, speaker_colour=True, colour_smoothing_bins=1)


def _tilts(freqs: int) -> torch.Tensor:
    """Two long-term spectra of mean 1 that a decoder does not know: one rising, one falling with frequency."""
    ramp = torch.linspace(-1.0, 1.0, freqs)
    tilts = torch.stack([torch.exp(1.2 * ramp), torch.exp(-1.2 * ramp)])
    return tilts / tilts.mean(-1, keepdim=True)


def test_the_m_step_recovers_each_speakers_long_term_spectrum():
    generator = torch.Generator().manual_seed(0)
    frames, freqs = 1000, 24
    samples = torch.rand(1, 2, 1, frames, freqs, generator=generator) ** 4 + 1e-3
    colour = _tilts(freqs)[:, None]  # [J, B, F]
    W, H = torch.rand(1, freqs, 2, generator=generator), torch.rand(1, 2, frames, generator=generator) * 0.01
    truth = Params(W, H, torch.ones(2, 1, frames), colour)
    power = complex_gaussian(mixture_variance(samples, truth, 1e-10)[0], generator).abs().square()
    mask = torch.ones(1, frames)
    start = Params(W.clone(), torch.full_like(H, 0.01), torch.ones(2, 1, frames), torch.ones(2, 1, freqs))
    params = start
    for _ in range(200):
        params = m_step(samples, params, power, mask, 0.5, 1e-10)
    assert torch.allclose(params.colour.mean(-1), torch.ones(2, 1))
    error = (params.colour / colour - 1).abs()
    assert error.mean() < 0.1 and error.max() < 0.3, params.colour / colour
    fitted, uncoloured = (
        log_likelihood(mixture_variance(samples, p, 1e-10), power, mask)
        for p in (params, dataclasses.replace(params, colour=None))
    )
    assert (fitted > uncoloured).all()


def test_the_smoothed_colour_is_the_moving_average_of_the_free_update_renormalised():
    samples, power, params = random_problem(torch.Generator().manual_seed(1), freqs=16)
    params = dataclasses.replace(params, colour=torch.rand(2, 2, 16, generator=torch.Generator().manual_seed(2)) + 0.5)
    mask = torch.ones(2, 12)
    free = m_step(samples, params, power, mask, 0.5, 1e-10)
    smoothed = m_step(samples, params, power, mask, 0.5, 1e-10, colour_smoothing_bins=2)
    assert torch.equal(free.W, smoothed.W) and torch.equal(free.H, smoothed.H)
    average = moving_average(free.colour, torch.ones_like(free.colour), 2)
    level = average.mean(-1, keepdim=True)
    assert torch.allclose(smoothed.colour, average / level, rtol=1e-5)
    # the gains take the colour's level, so that g c is the smoothed update's
    assert torch.allclose(smoothed.g, free.g * level, rtol=1e-5)


def _coloured_mixture(speakers, frames: int, generator: torch.Generator) -> SyntheticMixture:
    """A mixture of the synthetic speakers whose voices are tilted away from their decoders' spectra."""
    plain = sample_mixture(speakers, frames, 0.1, generator)
    tilts = _tilts(plain.sources.shape[-1])[:, None, :]
    sources = plain.sources * tilts.sqrt()
    return SyntheticMixture(sources.sum(0) + plain.noise, sources, plain.noise, plain.latents)


def test_mcem_with_colours_separates_voices_their_decoders_do_not_know(speakers):
    mixture = _coloured_mixture(speakers, 100, torch.Generator().manual_seed(3))
    result = run_mcem(mixture.stft, None, speakers, COLOURED)
    unprocessed = torch.clamp(sdr(mixture.sources, mixture.stft.expand_as(mixture.sources)), min=0.0)
    assert (sdr(mixture.sources, result.separation.sources) > unprocessed + 6.0).all()
    assert result.colour.shape == (2, mixture.stft.shape[-1])
    assert torch.allclose(result.colour.mean(-1), torch.ones(2))
    assert run_mcem(mixture.stft, None, speakers, ADAPTED).colour is None


@pytest.mark.parametrize("sampler", ["mh", "variational"])
def test_a_padded_batch_with_colours_reproduces_each_single_run(speakers, sampler):
    generator = torch.Generator().manual_seed(4)
    stfts = [_coloured_mixture(speakers, frames, generator).stft for frames in (30, 45, 17)]
    config = dataclasses.replace(COLOURED, iterations=4, final_draws=6, final_burn_in=3)
    if sampler == "mh":
        config = dataclasses.replace(config, sampler="mh", prior_adaptation_frames=0, latent_smoothness=0.0)
    batched = run_mcem_batch(stfts, [[None, None]] * 3, [speakers] * 3, config)
    for x, result in zip(stfts, batched):
        single = run_mcem(x, None, speakers, config)
        assert torch.allclose(result.separation.sources, single.separation.sources, rtol=1e-4, atol=1e-6)
        assert torch.allclose(result.g, single.g, rtol=1e-4)


def test_colour_smoothing_without_colours_is_an_error():
    with pytest.raises(ValueError, match="colour_smoothing_bins needs speaker_colour"):
        McemConfig(colour_smoothing_bins=2)
    with pytest.raises(ValueError, match="colour_smoothing_bins"):
        McemConfig(speaker_colour=True, colour_smoothing_bins=-1)
