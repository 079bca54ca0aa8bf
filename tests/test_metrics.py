"""Metrics: BSS Eval v4 and v3 against museval's own code on speech-like mixtures, pesq and pystoi called directly,
SIR that sees the other sources, SI-SDR's invariances, what an all-zero estimate scores (no crash, no silent NaN),
and improvements over the mixture with the mixture's scores shared by every system."""

import importlib.util
import logging
import math
from functools import cache

import numpy as np
import pesq
import pystoi
import pytest
from scipy.signal import lfilter

from avvae.evaluation.metrics import MixtureScorer, bss_eval, pesq_wb, separation_scores, si_sdr, stoi
from avvae.separation.oracle import ideal_ratio_mask
from tests.datadirs import RATE, voiced_utterance
from tests.signals import two_speaker_mixture, waveforms


@cache
def museval_metrics():
    """museval 0.4.1's metrics module, loaded from its file (`import museval` needs ffmpeg for MUSDB track I/O)."""
    location = f"{importlib.util.find_spec('museval').submodule_search_locations[0]}/metrics.py"
    spec = importlib.util.spec_from_file_location("museval_metrics_for_tests", location)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def museval_v4(references, estimates):
    """museval's BSS Eval v4 as the recipe defines it: the whole signal one window, 512-tap filters, images mode."""
    length = references.shape[1]
    sdr, _, sir, sar, _ = museval_metrics().bss_eval(
        references[..., None].astype(np.float64),
        estimates[..., None].astype(np.float64),
        window=length,
        hop=length,
        compute_permutation=False,
        filters_len=512,
        framewise_filters=False,
        bsseval_sources_version=False,
    )
    return {"sdr": sdr[:, 0], "sir": sir[:, 0], "sar": sar[:, 0]}


def museval_v3_sdr(references, estimates):
    sdr, _, _, _ = museval_metrics().bss_eval_sources(
        references[..., None].astype(np.float64), estimates[..., None].astype(np.float64), compute_permutation=False
    )
    return sdr[:, 0]


@pytest.fixture(scope="module")
def sources():
    """Two speakers of different pitch and a noise, 1.2 s: references [3, L]."""
    rng = np.random.default_rng(3)
    s1, s2 = voiced_utterance(rng, 1.2, 120.0), voiced_utterance(rng, 1.2, 210.0)
    noise = (0.1 * rng.standard_normal(len(s1))).astype(np.float32)
    return np.stack([s1, s2, noise])


def db(num: np.ndarray, den: np.ndarray) -> float:
    return 10 * math.log10(np.sum(num.astype(np.float64) ** 2) / np.sum(den.astype(np.float64) ** 2))


def estimate_sets(seed: int):
    """References [3, L] of a 2 s two-speaker mixture with strong noise, and estimates [3, L] of several kinds:
    the ideal ratio mask's (artefacts of STFT masking), a delayed, filtered and leaky one, and the mixture itself."""
    references, mixture = two_speaker_mixture(seed, seconds=2.0, noise=0.3)
    rng = np.random.default_rng(seed)
    filtered = np.stack(
        [
            lfilter([0, 0, 0, 0, 0.8, -0.3], [1.0], references[j])
            + 0.3 * references[1 - j % 2]
            + 0.02 * rng.standard_normal(references.shape[1])
            for j in range(3)
        ]
    )
    return references, {
        "oracle": waveforms(ideal_ratio_mask(mixture), references.shape[1]),
        "filtered": filtered,
        "mixture": np.broadcast_to(references.sum(0), references.shape),
    }


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_bss_eval_agrees_with_museval_v4_and_v3_to_a_hundredth_of_a_db(seed):
    references, estimates = estimate_sets(seed)
    for name, estimate in estimates.items():
        ours = bss_eval(references, estimate)
        theirs = museval_v4(references, estimate)
        for metric in ("sdr", "sir", "sar"):
            if name == "mixture" and metric == "sar":
                # the mixture is exactly the references' sum: its SAR is rounding noise (~150 dB) in either
                assert np.all(ours["sar"] > 100) and np.all(theirs["sar"] > 100)
                continue
            np.testing.assert_allclose(ours[metric], theirs[metric], atol=0.01, err_msg=f"{name} {metric}")
        np.testing.assert_allclose(ours["sdr_v3"], museval_v3_sdr(references, estimate), atol=0.01, err_msg=name)


def test_v3_sdr_credits_a_filtered_target_and_v4_does_not(sources):
    rng = np.random.default_rng(4)
    estimates = np.stack([lfilter([0, 0, 0, 0, 0.8, -0.3], [1.0], source) for source in sources])
    estimates += 0.001 * rng.standard_normal(estimates.shape)
    scores = bss_eval(sources, estimates)
    assert np.all(scores["sdr_v3"] > 20) and np.all(scores["sdr"] < 5)


def test_v4_sdr_is_the_plain_snr_and_sir_counts_the_other_speaker(sources):
    rng = np.random.default_rng(1)
    leak = 0.1 * sources[1]
    artefact = 0.01 * rng.standard_normal(sources.shape[1])
    estimates = sources.astype(np.float64).copy()
    estimates[0] += leak + artefact
    scores = bss_eval(sources, estimates)
    assert scores["sdr"][0] == pytest.approx(db(sources[0], leak + artefact), abs=1e-9)
    assert scores["sir"][0] == pytest.approx(db(sources[0], leak), abs=0.5)
    assert scores["sar"][0] == pytest.approx(db(sources[0] + leak, artefact), abs=1.0)


def test_an_all_zero_estimate_scores_what_is_defined_and_nan_for_the_rest(sources, caplog):
    mixture = sources.sum(0)
    estimates = sources.copy()
    estimates[:2] = 0
    with caplog.at_level(logging.WARNING):
        rows = separation_scores(sources, estimates, mixture, RATE)
        MixtureScorer(sources, mixture, RATE)  # its own scores of the mixture warn of nothing either
    for j, row in enumerate(rows):
        # the mixture's v4 SDR is its plain SNR against the speaker: the improvement of nothing is minus that
        assert row["sdr"] == 0.0 and row["sdr_imp"] == pytest.approx(-db(sources[j], mixture - sources[j]), abs=1e-6)
        assert row["si_sdr"] == row["si_sdr_imp"] == -math.inf
        assert row["stoi"] == 0.0
        for name in ("sir", "sar", "sdr_v3", "pesq"):
            assert math.isnan(row[name]) and math.isnan(row[f"{name}_imp"])
    assert caplog.text == ""


def test_a_silent_reference_gives_nan_with_a_warning(sources, caplog):
    references = sources.copy()
    references[2] = 0
    with caplog.at_level(logging.WARNING):
        assert all(np.isnan(values).all() for values in bss_eval(references, sources).values())
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
    assert si_sdr(reference, np.zeros_like(reference)) == -math.inf
    assert si_sdr(reference, np.full_like(reference, 0.5)) == -math.inf


def test_pesq_and_stoi_are_the_packages_scores(sources):
    degraded = sources[0] + sources[1] + sources[2]
    assert pesq_wb(sources[0], degraded, RATE) == pytest.approx(pesq.pesq(RATE, sources[0], degraded, "wb"))
    assert stoi(sources[0], degraded, RATE) == pytest.approx(pystoi.stoi(sources[0], degraded, RATE))
    assert pesq_wb(sources[0], sources[0], RATE) > 4.0
    assert stoi(sources[0], sources[0], RATE) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError):  # the package itself fails on a silent estimate: pesq_wb must not call it
        pesq.pesq(RATE, sources[0], np.zeros_like(sources[0]), "wb")


def test_pesq_that_cannot_score_gives_nan_with_a_warning(sources, caplog):
    with caplog.at_level(logging.WARNING):
        assert math.isnan(pesq_wb(sources[0][:2000], sources[1][:2000], RATE))
    assert "PESQ failed" in caplog.text
    with pytest.raises(ValueError, match="16000 Hz"):
        pesq_wb(sources[0], sources[1], 8000)


def plain_si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    s, e = reference - reference.mean(), estimate - estimate.mean()
    target = np.dot(e, s) / np.dot(s, s) * s
    return 10 * math.log10(np.sum(target**2) / np.sum((e - target) ** 2))


def test_improvements_are_relative_to_the_mixture_whose_scores_are_shared(sources):
    mixture = sources.sum(0)
    as_mixture = separation_scores(sources, np.broadcast_to(mixture, sources.shape), mixture, RATE)
    good = sources + 1e-3 * sources[[1, 0, 0]]
    perfect = separation_scores(sources, good, mixture, RATE)
    assert len(as_mixture) == len(perfect) == 2
    for unchanged, better in zip(as_mixture, perfect):
        for name in ("sdr", "sir", "si_sdr", "pesq", "stoi", "sdr_v3"):
            assert unchanged[f"{name}_imp"] == pytest.approx(0.0, abs=1e-9)
            assert better[f"{name}_imp"] == pytest.approx(better[name] - unchanged[name])
    for j in range(2):  # against values computed here, not by the scorer: SNR for v4 SDR, the SI-SDR formula
        assert perfect[j]["sdr_imp"] == pytest.approx(
            db(sources[j], good[j] - sources[j]) - db(sources[j], mixture - sources[j]), abs=1e-6
        )
        assert perfect[j]["si_sdr_imp"] == pytest.approx(
            plain_si_sdr(sources[j], good[j]) - plain_si_sdr(sources[j], mixture), abs=1e-4
        )
        assert better["sdr_imp"] > 20 and better["si_sdr_imp"] > 20 and better["stoi_imp"] > 0.1
    scorer = MixtureScorer(sources, mixture, RATE)
    assert scorer.scores(good) == perfect and scorer.scores(good[:2]) == perfect, "the noise row plays no part"
