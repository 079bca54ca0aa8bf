"""MCEM's convergence stopping (McemConfig.tolerance): off keeps the fixed count, on stops once the log-likelihood
settles, and stopping early only truncates the run."""

import dataclasses

import pytest
import torch

from avvae.mcem import McemConfig, run_mcem, run_mcem_batch
from avvae.mcem.convergence import has_converged, relative_change
from avvae.mcem.synthetic import fit_encoders, sample_mixture, speaker_model

CONFIG = McemConfig(iterations=60, draws=20, burn_in=10, final_draws=30, final_burn_in=20, threads=1)


def sdr(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    """Spectral SDR in dB of each [.., N, F] estimate."""
    error = (reference - estimate).abs().square().sum((-1, -2))
    return 10 * torch.log10(reference.abs().square().sum((-1, -2)) / error)


@pytest.fixture(scope="module")
def speakers():
    torch.set_num_threads(1)
    models = [speaker_model(1), speaker_model(2)]
    fit_encoders(models, 300, torch.Generator().manual_seed(0))
    return models


@pytest.fixture(scope="module")
def mixture(speakers):
    return sample_mixture(speakers, 100, 0.1, torch.Generator().manual_seed(1))


def test_relative_change_compares_with_the_value_a_window_back():
    assert relative_change([-100.0, -90.0, -99.0], 2) == pytest.approx(0.01)
    assert relative_change([-100.0, -99.0], 2) == float("inf")  # not enough iterations yet
    assert has_converged([-100.0, -90.0, -99.5], 0.01, 2)
    assert not has_converged([-100.0, -90.0, -98.0], 0.01, 2)
    assert not has_converged([-100.0] * 10, 0.0, 2)  # tolerance 0 is off, however flat


@pytest.mark.parametrize("key, value", [("tolerance", -0.1), ("tolerance", 1.0), ("tolerance_window", 0)])
def test_out_of_range_settings_are_errors_naming_the_key(key, value):
    with pytest.raises(ValueError, match=f"{key} must be"):
        McemConfig(**{key: value})


def test_off_runs_the_full_count(speakers, mixture):
    result = run_mcem(mixture.stft, None, speakers, CONFIG)
    assert result.iterations == CONFIG.iterations and not result.converged
    # A tolerance never met checks every iteration and changes nothing: the same result bit for bit.
    checked = run_mcem(mixture.stft, None, speakers, dataclasses.replace(CONFIG, tolerance=1e-12))
    assert checked.iterations == CONFIG.iterations and not checked.converged
    assert torch.equal(result.separation.sources, checked.separation.sources)


def test_stops_early_on_an_easy_mixture_and_only_truncates_the_run(speakers, mixture):
    result = run_mcem(mixture.stft, None, speakers, dataclasses.replace(CONFIG, tolerance=0.01))
    assert result.converged and 10 < result.iterations < CONFIG.iterations
    likelihoods = [entry.log_likelihood for entry in result.history]
    assert relative_change(likelihoods, CONFIG.tolerance_window) < 0.01
    assert all(relative_change(likelihoods[:i], CONFIG.tolerance_window) >= 0.01 for i in range(1, len(likelihoods)))
    # The same as a fixed run of that many iterations, bit for bit: the check changes nothing but where it stops.
    fixed = run_mcem(mixture.stft, None, speakers, dataclasses.replace(CONFIG, iterations=result.iterations))
    assert torch.equal(result.separation.sources, fixed.separation.sources)
    assert [e.log_likelihood for e in fixed.history] == likelihoods
    unprocessed = sdr(mixture.sources, mixture.stft.expand(2, -1, -1))
    assert (sdr(mixture.sources, result.separation.sources) > unprocessed + 6.0).all()


def test_a_batch_stops_when_all_its_mixtures_have_converged(speakers, mixture):
    config = dataclasses.replace(CONFIG, tolerance=0.01)
    alone = run_mcem(mixture.stft, None, speakers, config)
    other = sample_mixture(speakers, 60, 0.1, torch.Generator().manual_seed(2))
    other_alone = run_mcem(other.stft, None, speakers, config)
    results = run_mcem_batch([mixture.stft, other.stft], [[None, None]] * 2, [speakers] * 2, config)
    expected = max(alone.iterations, other_alone.iterations)
    assert [result.iterations for result in results] == [expected, expected]
    assert all(result.converged for result in results)
