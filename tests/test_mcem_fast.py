"""The fast MCEM paths against straightforward formulas (docs/design.md, "Monte Carlo EM"), the parallel-chains
switch, and the step adaptation (with the fixed-step path checked bit for bit against a run saved before adaptation
existed)."""

import dataclasses
import sys
from pathlib import Path

import pytest
import torch

from avvae.mcem import McemConfig, run_mcem, run_mcem_batch
from avvae.mcem.m_step import Params, m_step
from avvae.mcem.problem import Problem
from avvae.mcem.sampler import ChainState, StepAdaptation, _log_likelihood_, _Target, frame_log_likelihood, run_chain
from avvae.mcem.synthetic import sample_mixture, speaker_model
from avvae.mcem.wiener import WienerAverage

FAST = McemConfig(iterations=20, draws=20, burn_in=10, final_draws=30, final_burn_in=20, threads=1)
# Recorded by `python -m tests.test_mcem_fast --record` at commit 4fa3860 (before step adaptation and init existed),
# torch 2.13.0+cpu, 1 thread.
FIXED_STEP_RUNS = Path(__file__).parent / "data" / "mcem_fixed_step.pt"


def sdr(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    error = (reference - estimate).abs().square().sum((-1, -2))
    return 10 * torch.log10(reference.abs().square().sum((-1, -2)) / error)


def random_problem(generator, draws=4, speakers=2, batch=2, frames=12, freqs=16, rank=3):
    samples = torch.rand(draws, speakers, batch, frames, freqs, generator=generator) ** 4 + 1e-3
    power = torch.rand(batch, frames, freqs, generator=generator) * 3
    params = Params(
        torch.rand(batch, freqs, rank, generator=generator) + 0.1,
        torch.rand(batch, rank, frames, generator=generator) + 0.1,
        torch.rand(speakers, batch, frames, generator=generator) + 0.5,
    )
    return samples, power, params


def reference_m_step(samples, params, power, mask, exponent, floor):
    """Step 3 of docs/design.md, "Monte Carlo EM", as written, in float64: W, H, then g, each with V recomputed
    from the latest values."""
    samples, power, mask = samples.double(), power.double(), mask.double()[..., None]
    W, H, g = params.W.double(), params.H.double(), params.g.double()

    def ratio(numerator, denominator):  # masked frames give 0 / 0: a zero ratio, then the floor
        return (numerator / denominator.clamp_min(1e-300)) ** exponent

    def variance(W, H, g):
        return ((g[..., None] * samples).sum(1) + (W @ H).transpose(1, 2)).clamp_min(floor)

    V = variance(W, H, g)
    s1, s2 = (1 / V).mean(0) * mask, (power / V**2).mean(0) * mask
    W = (W * ratio((H @ s2).transpose(1, 2), (H @ s1).transpose(1, 2))).clamp_min(floor)
    V = variance(W, H, g)
    s1, s2 = (1 / V).mean(0) * mask, (power / V**2).mean(0) * mask
    Wt = W.transpose(1, 2)
    H = (H * ratio(Wt @ s2.transpose(1, 2), Wt @ s1.transpose(1, 2))).clamp_min(floor)
    scale = W.sum(1, keepdim=True)
    W, H = (W / scale).clamp_min(floor), (H * scale.transpose(1, 2)).clamp_min(floor)
    V = variance(W, H, g)[:, None]
    numerator = (power * samples / V**2).sum(-1).mean(0)
    denominator = (samples / V).sum(-1).mean(0)
    return W, H, (g * ratio(numerator, denominator)).clamp_min(floor)


@pytest.mark.parametrize("exponent", [0.5, 1.0])
def test_m_step_matches_the_design_formulas(exponent):
    samples, power, params = random_problem(torch.Generator().manual_seed(0))
    mask = torch.ones(2, 12)
    mask[1, 9:] = 0
    power[1, 9:] = 0
    fast = m_step(samples.clone(), params, power, mask, exponent, 1e-10)
    for got, want in zip((fast.W, fast.H, fast.g), reference_m_step(samples, params, power, mask, exponent, 1e-10)):
        assert torch.allclose(got.double(), want, rtol=1e-4, atol=1e-7)


def test_in_place_likelihood_and_wiener_match_the_plain_formulas():
    samples, power, params = random_problem(torch.Generator().manual_seed(1))
    variance = samples[0]
    problem = type("P", (), {"power": power})()
    target = _Target(problem, params, 1e-10)
    plain = frame_log_likelihood(params.g[..., None] * variance, params.noise_variance(), power, 1e-10)
    speakers = variance.unbind(0)
    assert torch.allclose(_log_likelihood_(target.mixture(speakers), power), plain, rtol=1e-5)
    assert torch.allclose(target.likelihood_with(target.mixture(speakers, skip=1), 1, speakers[1]), plain, rtol=1e-5)
    wiener = WienerAverage(params, 1e-10)
    for draw in samples:
        wiener.keep(draw)
    stft = torch.randn(*power.shape, dtype=torch.complex64)
    speech, noise = wiener.apply(stft)
    V = (params.g[..., None] * samples).sum(1) + (params.W @ params.H).transpose(1, 2)
    assert torch.allclose(speech, stft * (params.g[..., None] * samples / V[:, None]).mean(0), rtol=1e-5)
    assert torch.allclose(noise, stft * ((params.W @ params.H).transpose(1, 2) / V).mean(0), rtol=1e-5)


def test_decode_matches_the_clamped_exponential_for_shared_and_distinct_models():
    shared, first, second = speaker_model(5), speaker_model(6), speaker_model(7)
    stfts = [torch.randn(10, 64, dtype=torch.complex64), torch.randn(7, 64, dtype=torch.complex64)]
    # Speaker 1 of mixture 1 shares a model with speaker 2 of mixture 2: a group whose tracks are not consecutive.
    problem = Problem(stfts, [[None, None]] * 2, [[shared, first], [second, shared]], torch.device("cpu"))
    z = 3 * torch.randn(3, 2, 2, 10, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = problem.decode(z, 1e-10)
        models = [[shared, first], [second, shared]]
        for j in range(2):
            for b in range(2):
                want = torch.exp(models[b][j].log_variance(z[:, j, b], None).clamp(-40, 40)).clamp_min(1e-10)
                assert torch.allclose(got[:, j, b], want, rtol=1e-5)


def test_parallel_chains_separate_and_a_padded_batch_reproduces_each_single_run(speakers):
    mixture = sample_mixture(speakers, 100, 0.1, torch.Generator().manual_seed(1))
    config = dataclasses.replace(FAST, chains=4)
    result = run_mcem(mixture.stft, None, speakers, config)
    assert (sdr(mixture.sources, result.separation.sources) > sdr(mixture.sources, mixture.stft) + 6.0).all()
    assert result.history[-1].log_likelihood > result.history[0].log_likelihood
    generator = torch.Generator().manual_seed(4)
    stfts = [sample_mixture(speakers, frames, 0.1, generator).stft for frames in (30, 17)]
    config = dataclasses.replace(FAST, iterations=3, draws=6, burn_in=3, final_draws=6, final_burn_in=3, chains=3)
    for scan in ("in_turn", "joint"):
        config = dataclasses.replace(config, scan=scan)
        batched = run_mcem_batch(stfts, [[None, None]] * 2, [speakers] * 2, config)
        for x, result in zip(stfts, batched):
            single = run_mcem(x, None, speakers, config)
            assert torch.allclose(result.separation.sources, single.separation.sources, rtol=1e-4, atol=1e-6)
            assert torch.allclose(result.g, single.g, rtol=1e-4)
            assert [e.acceptance for e in result.history] == [e.acceptance for e in single.history]


def test_chains_schedule_and_validation():
    assert McemConfig().schedule(40, 30) == (40, 30, 10)
    assert McemConfig(chains=4).schedule(40, 30) == (10, 7, 12)
    assert McemConfig(chains=5).schedule(100, 75) == (20, 15, 25)
    for bad in ({"chains": 0}, {"chains": 2, "sampler": "mala"}, {"chains": 2, "sampler": "variational"}):
        with pytest.raises(ValueError, match="chains"):
            McemConfig(**bad)


def fixed_step_runs() -> dict[str, torch.Tensor]:
    """Short default-config runs (published fixed step; in turn, joint, 2 chains) on a synthetic mixture from
    untrained encoders (no Adam fit, so that few floating-point paths lie between the recording and the test)."""
    torch.set_num_threads(1)
    models = [speaker_model(1), speaker_model(2)]
    mixture = sample_mixture(models, 30, 0.1, torch.Generator().manual_seed(1))
    config = McemConfig(iterations=3, draws=6, burn_in=3, final_draws=6, final_burn_in=3, threads=1)
    runs = {}
    for name, change in (("in_turn", {}), ("joint", {"scan": "joint"}), ("chains", {"chains": 2})):
        result = run_mcem(mixture.stft, None, models, dataclasses.replace(config, **change))
        runs[f"{name}_sources"], runs[f"{name}_noise"] = result.separation.sources, result.separation.noise
        runs[f"{name}_g"] = result.g
        runs[f"{name}_acceptance"] = torch.tensor([entry.acceptance for entry in result.history])
    return runs


def test_the_default_fixed_step_path_is_bit_identical_to_the_recorded_run():
    assert not McemConfig().adapt_step and McemConfig().init == "encoder"
    recorded = torch.load(FIXED_STEP_RUNS, weights_only=True)
    runs = fixed_step_runs()
    assert sorted(runs) == sorted(recorded)
    for name, tensor in runs.items():
        assert torch.equal(tensor, recorded[name]), name


def frozen_chain_acceptance(problem, params, state, adaptation, draws=100):
    """Acceptance of each speaker [J] over `draws` kept draws (no burn-in: the step stays as the state has it)."""
    steps = None if state.log_step is None else state.log_step.clone()
    with torch.inference_mode():
        end, acceptance = run_chain(
            problem,
            params,
            state,
            draws,
            0,
            [torch.Generator().manual_seed(7)],
            0.1,
            "in_turn",
            1e-10,
            lambda *_: None,
            adaptation=adaptation,
        )
    if steps is not None:
        assert torch.equal(end.log_step, steps), "the step moved during kept draws"
    return acceptance[:, 0]


@pytest.mark.parametrize("target", [0.25, 0.4])
def test_the_adapted_step_lands_the_acceptance_near_the_target_where_the_fixed_step_is_far_off(speakers, target):
    mixture = sample_mixture(speakers, 100, 0.1, torch.Generator().manual_seed(1))
    fitted = run_mcem(mixture.stft, None, speakers, dataclasses.replace(FAST, iterations=5))
    params = Params(fitted.W[None], fitted.H[None], fitted.g[:, None])
    with torch.inference_mode():
        problem = Problem([mixture.stft], [[None, None]], [speakers], torch.device("cpu"))
        z = problem.encoder_mean()
        start = ChainState(z, problem.decode(z, 1e-10))
    fixed = frozen_chain_acceptance(problem, params, ChainState(start.z, start.variance.clone()), None)
    assert (fixed > 0.7).all(), fixed
    adaptation = StepAdaptation(target, 0.05)
    with torch.inference_mode():  # burn-in only: the step adapts after every draw
        adapted, _ = run_chain(
            problem,
            params,
            start,
            400,
            400,
            [torch.Generator().manual_seed(3)],
            0.1,
            "in_turn",
            1e-10,
            lambda *_: None,
            adaptation=adaptation,
        )
    acceptance = frozen_chain_acceptance(problem, params, adapted, adaptation)
    assert (acceptance - target).abs().max() < 0.05, acceptance
    assert adapted.log_step.exp().mean() > 0.1  # the published step is too short here: it had to grow


def test_adaptive_mcem_separates_carries_the_step_and_a_padded_batch_reproduces_each_single_run(speakers):
    mixture = sample_mixture(speakers, 100, 0.1, torch.Generator().manual_seed(1))
    config = dataclasses.replace(FAST, adapt_step=True, iterations=40)
    result = run_mcem(mixture.stft, None, speakers, config)
    assert (sdr(mixture.sources, result.separation.sources) > sdr(mixture.sources, mixture.stft) + 6.0).all()
    # Acceptance over all draws of an E-step: it starts near the fixed step's and, the step carried across
    # iterations, ends near the target (the burn-in draws are already close to it by then).
    assert min(result.history[0].acceptance) > 0.7
    assert all(abs(a - config.target_acceptance) < 0.1 for a in result.history[-1].acceptance), result.history[-1]
    generator = torch.Generator().manual_seed(4)
    stfts = [sample_mixture(speakers, frames, 0.1, generator).stft for frames in (30, 17)]
    config = dataclasses.replace(
        FAST, iterations=3, draws=6, burn_in=3, final_draws=6, final_burn_in=3, adapt_step=True
    )
    for change in ({}, {"scan": "joint"}, {"chains": 2}):
        changed = dataclasses.replace(config, **change)
        batched = run_mcem_batch(stfts, [[None, None]] * 2, [speakers] * 2, changed)
        for x, result in zip(stfts, batched):
            single = run_mcem(x, None, speakers, changed)
            assert torch.allclose(result.separation.sources, single.separation.sources, rtol=1e-4, atol=1e-6)
            assert [e.acceptance for e in result.history] == [e.acceptance for e in single.history]


def test_adaptation_config_is_validated():
    for bad, match in (
        ({"adapt_step": True, "sampler": "mala"}, "adapt_step"),
        ({"target_acceptance": 0.6}, "target_acceptance"),
        ({"adapt_rate": 0.0}, "adapt_rate"),
    ):
        with pytest.raises(ValueError, match=match):
            McemConfig(**bad)


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    FIXED_STEP_RUNS.parent.mkdir(exist_ok=True)
    torch.save(fixed_step_runs(), FIXED_STEP_RUNS)
