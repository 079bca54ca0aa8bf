"""MCEM separation on mixtures drawn from small speaker VAEs' own generative process."""

import dataclasses

import numpy as np
import pytest
import torch

from avvae.mcem import McemConfig, mcem_method, run_mcem, run_mcem_batch, separate
from avvae.mcem.m_step import Params, log_likelihood, m_step, mixture_variance
from avvae.mcem.problem import Problem
from avvae.mcem.separate import _Estep
from avvae.mcem.synthetic import sample_mixture, speaker_model
from avvae.separation.decode import Mixture
from avvae.stft import StftConfig, stft

FAST = McemConfig(iterations=20, draws=20, burn_in=10, final_draws=30, final_burn_in=20, threads=1)


def sdr(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Spectral SDR in dB of each [.., N, F] estimate."""
    error = (reference - estimate).abs().square().sum((-1, -2))
    return 10 * torch.log10(reference.abs().square().sum((-1, -2)) / error)


def trivial_sdr(reference: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
    """What an estimate that does nothing scores: the better of the mixture itself and of an all-zero output (0 dB,
    an SDR that attenuation alone raises towards)."""
    return torch.clamp(sdr(reference, mixture.expand_as(reference)), min=0.0)


@pytest.fixture(scope="module")
def mixture(speakers):
    return sample_mixture(speakers, 100, 0.1, torch.Generator().manual_seed(1))


@pytest.mark.parametrize("sqrt_updates", [True, False])
def test_m_step_increases_the_likelihood_given_the_draws(sqrt_updates):
    generator = torch.Generator().manual_seed(0)
    draws, speakers, frames, freqs, rank = 5, 2, 30, 16, 3
    samples = torch.rand(draws, speakers, 1, frames, freqs, generator=generator) ** 4 + 1e-3
    power = torch.rand(1, frames, freqs, generator=generator) * 3
    mask = torch.ones(1, frames)
    params = Params(
        torch.rand(1, freqs, rank, generator=generator),
        torch.rand(1, rank, frames, generator=generator),
        torch.ones(speakers, 1, frames),
    )
    config = McemConfig(sqrt_updates=sqrt_updates)
    previous = log_likelihood(mixture_variance(samples, params, config.floor), power, mask)
    for _ in range(20):
        params = m_step(samples, params, power, mask, config.power, config.floor)
        current = log_likelihood(mixture_variance(samples, params, config.floor), power, mask)
        assert current >= previous - 1e-3 * abs(previous)
        previous = current
    start = Params(
        torch.rand(1, freqs, rank, generator=generator),
        torch.rand(1, rank, frames, generator=generator),
        torch.ones(speakers, 1, frames),
    )
    assert previous > log_likelihood(mixture_variance(samples, start, config.floor), power, mask) + 1.0


def test_mcem_recovers_the_sources_far_better_than_the_mixture(speakers, mixture):
    result = run_mcem(mixture.stft, None, speakers, FAST)
    unprocessed = trivial_sdr(mixture.sources, mixture.stft)
    separated = sdr(mixture.sources, result.separation.sources)
    assert (separated > unprocessed + 6.0).all(), (unprocessed, separated)
    assert sdr(mixture.noise, result.separation.noise) > trivial_sdr(mixture.noise, mixture.stft) + 5.0
    # The estimates with the noise add up to the mixture (the Wiener shares sum to one).
    total = result.separation.sources.sum(0) + result.separation.noise
    assert torch.allclose(total, mixture.stft, rtol=1e-3, atol=1e-4 * mixture.stft.abs().max())
    likelihoods = [entry.log_likelihood for entry in result.history]
    assert len(likelihoods) == FAST.iterations and likelihoods[-1] > likelihoods[0]
    acceptance = np.array([entry.acceptance for entry in result.history])
    assert acceptance.shape == (FAST.iterations, 2) and ((acceptance > 0.2) & (acceptance < 0.99)).all()


@pytest.mark.parametrize("change", [{"scan": "joint"}, {"sampler": "mala"}, {"sampler": "variational"}])
def test_other_e_steps_separate_too(speakers, mixture, change):
    result = run_mcem(mixture.stft, None, speakers, dataclasses.replace(FAST, **change))
    separated = sdr(mixture.sources, result.separation.sources)
    assert (separated > trivial_sdr(mixture.sources, mixture.stft) + 6.0).all()
    acceptance = np.array([entry.acceptance for entry in result.history])
    if change.get("sampler") == "variational":
        assert np.isnan(acceptance).all()
    else:
        assert ((acceptance > 0.2) & (acceptance < 0.999)).all()


def test_one_speaker_is_enhancement(speakers):
    noisy = sample_mixture(speakers[:1], 80, 0.5, torch.Generator().manual_seed(2))
    separation = separate(noisy.stft, None, speakers[:1], FAST)
    assert separation.sources.shape == (1, 80, 64) and separation.noise.shape == (80, 64)
    assert sdr(noisy.sources[0], separation.sources[0]) > trivial_sdr(noisy.sources[0], noisy.stft) + 3.0


def test_same_seed_same_output_and_another_seed_differs(speakers, mixture):
    config = dataclasses.replace(FAST, iterations=3)
    first = separate(mixture.stft, None, speakers, config)
    again = separate(mixture.stft, None, speakers, config)
    other = separate(mixture.stft, None, speakers, dataclasses.replace(config, seed=1))
    assert torch.equal(first.sources, again.sources) and torch.equal(first.noise, again.noise)
    assert not torch.equal(first.sources, other.sources)


def degenerate_inputs(frames: int = 40) -> dict[str, torch.Tensor]:
    config = StftConfig(n_fft=126, hop_length=63)
    time = torch.arange(frames * config.hop_length, dtype=torch.float64)
    clipped = torch.clamp(50 * torch.sin(2 * np.pi * 0.05 * time), -1, 1)
    return {
        "silence": torch.zeros(frames, 64, dtype=torch.complex64),
        "clipping": stft(clipped.numpy(), config)[:frames].to(torch.complex64) * 1e3,
        "tiny": torch.full((frames, 64), 1e-20, dtype=torch.complex64),
    }


@pytest.mark.parametrize("name", ["silence", "clipping", "tiny", "noise"])
def test_degenerate_inputs_give_finite_outputs(speakers, name):
    if name == "noise":
        noise = sample_mixture(speakers, 40, 1.0, torch.Generator().manual_seed(3)).noise
        x = noise * 100
    else:
        x = degenerate_inputs()[name]
    result = run_mcem(x, None, speakers, dataclasses.replace(FAST, iterations=5))
    for tensor in (result.separation.sources, result.separation.noise, result.W, result.H, result.g):
        assert torch.isfinite(tensor).all()
    assert all(np.isfinite(entry.log_likelihood) for entry in result.history)


def count_calls(module: torch.nn.Module) -> list[int]:
    calls = [0]
    module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_one_decoder_call_per_draw_per_distinct_model():
    shared, first, second = speaker_model(5), speaker_model(6), speaker_model(7)
    x = sample_mixture([first, second], 20, 0.1, torch.Generator().manual_seed(0)).stft
    counts = {name: count_calls(model.decoder) for name, model in (("si", shared), ("a", first), ("b", second))}
    config = dataclasses.replace(FAST, iterations=2, draws=5, burn_in=2, final_draws=4, final_burn_in=1)
    passes = 1 + config.iterations * config.draws + config.final_draws
    separate(x, None, [shared, shared], config)
    separate(x, None, [first, second], config)
    assert [counts[name][0] for name in ("si", "a", "b")] == [passes, passes, passes]


def test_visual_context_is_computed_once_per_speaker_and_lips_must_match():
    model = speaker_model(8, kind="avvae", lip_size=8)
    lip_calls = count_calls(model.lips)
    generator = torch.Generator().manual_seed(0)
    x = sample_mixture([speaker_model(9)] * 2, 30, 0.1, generator).stft
    lips = [torch.rand(30, 8, 8, generator=generator) for _ in range(2)]
    separation = separate(x, lips, [model, model], dataclasses.replace(FAST, iterations=3))
    assert lip_calls[0] == 2 and torch.isfinite(separation.sources).all()
    with pytest.raises(ValueError, match="lips have 29 frames"):
        separate(x, [lips[0][:29], lips[1]], [model, model], FAST)
    with pytest.raises(ValueError, match="needs the speaker's lips"):
        separate(x, None, [model, model], FAST)


def test_method_picks_models_by_speaker_and_returns_cpu_estimates(speakers, mixture):
    asked = []

    def models_for(ids):
        asked.append(list(ids))
        return [{"s01": speakers[0], "s02": speakers[1]}[spk] for spk in ids]

    frames = mixture.stft.shape[0]
    item = Mixture(
        key="m1",
        stft=mixture.stft,
        lips=[torch.zeros(frames, 8, 8)] * 2,
        speakers=["s01", "s02"],
        condition="snr0",
        num_samples=0,
        scale=1.0,
        sources=mixture.sources,
        noise=mixture.noise,
    )
    config = dataclasses.replace(FAST, iterations=3)
    separation = mcem_method(models_for, config)(item)
    assert asked == [["s01", "s02"]] and separation.sources.device.type == "cpu"
    assert torch.equal(separation.sources, separate(mixture.stft, None, speakers, config).sources)


def test_config_rejects_inconsistent_values():
    with pytest.raises(ValueError, match="burn_in"):
        McemConfig(draws=10, burn_in=10)
    with pytest.raises(ValueError, match="scan"):
        McemConfig(scan="random")
    with pytest.raises(ValueError, match="sampler"):
        McemConfig(sampler="gibbs")
    with pytest.raises(ValueError, match="init"):
        McemConfig(init="zero")


def test_prior_init_starts_each_speaker_at_its_visual_prior_mean_and_the_audio_only_model_at_zero():
    model, audio_only = speaker_model(8, kind="avvae", lip_size=8), speaker_model(9)
    generator = torch.Generator().manual_seed(0)
    x = sample_mixture([audio_only] * 2, 30, 0.1, generator).stft
    lips = [torch.rand(30, 8, 8, generator=generator) for _ in range(2)]
    config = dataclasses.replace(FAST, init="prior")
    with torch.no_grad():
        problem = Problem([x], [lips], [[model, audio_only]], torch.device("cpu"))
        start = _Estep(problem, [torch.Generator()], config).state.z
        encoder = _Estep(problem, [torch.Generator()], FAST).state.z
        want = model.prior(model.visual_context(lips[0][None]))[0][0]
    torch.testing.assert_close(start[0, 0], want)
    assert torch.equal(start[1], torch.zeros_like(start[1]))
    assert (start[0] - encoder[0]).abs().mean() > 0.1 and (start[1] - encoder[1]).abs().mean() > 0.1
    separation = separate(x, lips, [model, audio_only], dataclasses.replace(config, iterations=3))
    assert torch.isfinite(separation.sources).all()


@pytest.mark.parametrize("sampler,init", [("mh", "encoder"), ("variational", "encoder"), ("mh", "prior")])
def test_a_padded_batch_reproduces_each_single_run(speakers, sampler, init):
    generator = torch.Generator().manual_seed(4)
    stfts = [sample_mixture(speakers, frames, 0.1, generator).stft for frames in (30, 45, 17)]
    config = dataclasses.replace(
        FAST, iterations=4, draws=6, burn_in=3, final_draws=6, final_burn_in=3, sampler=sampler, init=init
    )
    batched = run_mcem_batch(stfts, [[None, None]] * 3, [speakers] * 3, config)
    for x, result in zip(stfts, batched):
        single = run_mcem(x, None, speakers, config)
        assert result.separation.sources.shape == single.separation.sources.shape
        assert torch.allclose(result.separation.sources, single.separation.sources, rtol=1e-4, atol=1e-6)
        assert torch.allclose(result.separation.noise, single.separation.noise, rtol=1e-4, atol=1e-6)
        assert torch.allclose(result.H, single.H, rtol=1e-4) and torch.allclose(result.g, single.g, rtol=1e-4)
        if sampler == "mh":
            assert [e.acceptance for e in result.history] == [e.acceptance for e in single.history]
