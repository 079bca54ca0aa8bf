"""Metrics: agreement with museval, pesq and pystoi called directly, SIR that sees the other sources, SI-SDR's
invariances, NaN for what PESQ cannot score, and improvements over the mixture."""

import logging
import math

import numpy as np
import pesq
import pystoi
import pytest

from avvae.metrics import _museval_metrics, bss_eval, pesq_wb, separation_scores, si_sdr, stoi
from tests.datadirs import RATE, voiced_utterance


@pytest.fixture(scope="module")
def sources():
    """Two speakers of different pitch and a noise, 1.2 s: references [3, L]."""
    rng = np.random.default_rng(3)
    s1, s2 = voiced_utterance(rng, 1.2, 120.0), voiced_utterance(rng, 1.2, 210.0)
    noise = (0.1 * rng.standard_normal(len(s1))).astype(np.float32)
    return np.stack([s1, s2, noise])


def db(num: np.ndarray, den: np.ndarray) -> float:
    return 10 * math.log10(np.sum(num.astype(np.float64) ** 2) / np.sum(den.astype(np.float64) ** 2))


def test_bss_eval_is_museval_with_the_whole_signal_as_one_window(sources):
    rng = np.random.default_rng(0)
    estimates = sources + 0.05 * rng.standard_normal(sources.shape) + 0.2 * sources[[1, 0, 0]]
    ours = bss_eval(sources, estimates)
    # museval's own whole-signal wrapper (window = hop = inf), a different path through its framing code
    sdr, _, sir, sar, _ = _museval_metrics().bss_eval_images(sources[..., None], estimates[..., None],
                                                            compute_permutation=False)
    for name, theirs in (("sdr", sdr), ("sir", sir), ("sar", sar)):
        np.testing.assert_allclose(ours[name], theirs[:, 0], rtol=1e-6)


def test_sir_counts_the_other_speaker_and_sdr_the_error_energy(sources):
    rng = np.random.default_rng(1)
    leak = 0.1 * sources[1]
    artefact = 0.01 * rng.standard_normal(sources.shape[1])
    estimates = sources.astype(np.float64).copy()
    estimates[0] += leak + artefact
    scores = bss_eval(sources, estimates)
    assert scores["sir"][0] == pytest.approx(db(sources[0], leak), abs=0.5)
    assert scores["sdr"][0] == pytest.approx(db(sources[0], leak + artefact), abs=0.5)
    assert scores["sar"][0] == pytest.approx(db(sources[0] + leak, artefact), abs=1.0)


def test_bss_eval_of_a_silent_estimate_is_nan(sources, caplog):
    estimates = sources.copy()
    estimates[2] = 0
    with caplog.at_level(logging.WARNING):
        assert np.isnan(bss_eval(sources, estimates)["sdr"]).all()
    assert "silent" in caplog.text


def test_si_sdr_ignores_scale_and_offset_and_matches_its_definition(sources):
    rng = np.random.default_rng(2)
    reference = sources[0].astype(np.float64)
    noise = 0.05 * rng.standard_normal(len(reference))
    estimate = reference + noise
    value = si_sdr(reference, estimate)
    assert si_sdr(reference, 7.5 * estimate) == pytest.approx(value, abs=1e-9)
    assert si_sdr(reference, 0.01 * estimate + 0.3) == pytest.approx(value, abs=1e-9)
    s, e = reference - reference.mean(), estimate - estimate.mean()
    target = np.dot(e, s) / np.dot(s, s) * s
    assert value == pytest.approx(db(target, e - target), abs=1e-6)
    assert value == pytest.approx(db(reference, noise), abs=0.2)


def test_pesq_and_stoi_are_the_packages_scores(sources):
    degraded = sources[0] + sources[1] + sources[2]
    assert pesq_wb(sources[0], degraded, RATE) == pytest.approx(pesq.pesq(RATE, sources[0], degraded, "wb"))
    assert stoi(sources[0], degraded, RATE) == pytest.approx(pystoi.stoi(sources[0], degraded, RATE))
    assert pesq_wb(sources[0], sources[0], RATE) > 4.0
    assert stoi(sources[0], sources[0], RATE) == pytest.approx(1.0, abs=1e-6)


def test_pesq_that_cannot_score_gives_nan_with_a_warning(sources, caplog):
    with caplog.at_level(logging.WARNING):
        assert math.isnan(pesq_wb(sources[0][:2000], sources[1][:2000], RATE))
    assert "PESQ failed" in caplog.text
    with pytest.raises(ValueError, match="16000 Hz"):
        pesq_wb(sources[0], sources[1], 8000)


def test_improvements_are_relative_to_the_mixture(sources):
    mixture = sources.sum(0)
    as_mixture = separation_scores(sources, np.broadcast_to(mixture, sources.shape), mixture, RATE)
    perfect = separation_scores(sources, sources + 1e-3 * sources[[1, 0, 0]], mixture, RATE)
    assert len(as_mixture) == len(perfect) == 2
    for unchanged, good in zip(as_mixture, perfect):
        for name in ("sdr", "sir", "si_sdr", "pesq", "stoi"):
            assert unchanged[f"{name}_imp"] == pytest.approx(0.0, abs=1e-9)
            assert good[f"{name}_imp"] == pytest.approx(good[name] - unchanged[name])
        assert good["sdr_imp"] > 20 and good["si_sdr_imp"] > 20 and good["stoi_imp"] > 0.1
