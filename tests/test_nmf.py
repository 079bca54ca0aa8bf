"""IS-NMF: a divergence that never increases, normalised dictionaries, SD separation that beats the mixture,
the SI dictionary shared by both speakers, dictionary files, and the train_nmf command line."""

import numpy as np
import pytest
import torch

from avvae.bin import train_nmf
from avvae.cli import run_main
from avvae.evaluation.metrics import separation_scores
from avvae.features import FeatureConfig, dump_features
from avvae.separation.nmf import (
    SI_KEY,
    NmfConfig,
    NmfMethod,
    is_nmf,
    learn_dictionary,
    load_dictionaries,
    random_factors,
    save_dictionaries,
)
from avvae.stft import power_spectrogram
from tests.datadirs import RATE, make_speech_dir, voiced_utterance
from tests.signals import PITCHES, STFT, two_speaker_mixture, waveforms

CONFIG = NmfConfig(rank=16, train_iterations=100, separate_iterations=100)


@pytest.fixture(scope="module")
def dictionaries():
    """SD dictionaries of the two pitches of tests.signals, learned on other utterances than the test's."""
    rng = np.random.default_rng(100)
    return {
        name: learn_dictionary([power_spectrogram(voiced_utterance(rng, 2.0, f0), STFT) for _ in range(3)], CONFIG)
        for name, f0 in zip(("low", "high"), PITCHES)
    }


def test_divergence_never_increases_when_learning_or_separating(dictionaries):
    rng = np.random.default_rng(5)
    v = power_spectrogram(voiced_utterance(rng, 1.5, 150.0), STFT).double().T
    w, h = random_factors(v, 8, torch.Generator().manual_seed(0))
    trace: list[float] = []
    is_nmf(v, w, h, 60, CONFIG, trace=trace)
    fixed = torch.cat([dictionaries["low"], dictionaries["high"], w], dim=1)
    h = torch.rand(fixed.shape[1], v.shape[1], generator=torch.Generator().manual_seed(1), dtype=v.dtype)
    separation_trace: list[float] = []
    is_nmf(v, fixed, h * float(v.mean()), 60, CONFIG, free=slice(2 * CONFIG.rank, None), trace=separation_trace)
    for values in (trace, separation_trace):
        steps = np.diff(values)
        assert np.all(steps <= 1e-9 * np.abs(values[:-1])), steps.max()
        assert values[-1] < 0.5 * values[0]


def test_dictionaries_are_positive_with_unit_sum_columns(dictionaries):
    for w in dictionaries.values():
        assert w.shape == (STFT.num_bins, CONFIG.rank)
        assert torch.all(w > 0)
        torch.testing.assert_close(w.sum(0), torch.ones(CONFIG.rank, dtype=w.dtype))


def test_sd_nmf_separates_two_pitches_better_than_the_mixture(dictionaries):
    references, mixture = two_speaker_mixture(seed=7)
    separation = NmfMethod(dictionaries, CONFIG)(mixture)
    assert separation.sources.shape == (2, *mixture.stft.shape) and separation.sources.dtype == mixture.stft.dtype
    torch.testing.assert_close(separation.sources.sum(0) + separation.noise, mixture.stft, rtol=1e-4, atol=1e-5)
    scores = separation_scores(references, waveforms(separation, references.shape[1]), references.sum(0), RATE)
    for score in scores:
        assert score["sdr_imp"] > 5 and score["si_sdr_imp"] > 5


def test_si_dictionary_serves_every_speaker_and_sd_needs_each(dictionaries, tmp_path):
    si = NmfMethod({SI_KEY: dictionaries["low"]}, CONFIG)
    assert si.dictionary("anyone") is dictionaries["low"]
    sd = NmfMethod(dictionaries, CONFIG, source="exp/nmf_sd/dictionaries.npz")
    with pytest.raises(ValueError, match="exp/nmf_sd/dictionaries.npz: no dictionary for speaker 'other'"):
        sd.dictionary("other")
    save_dictionaries(tmp_path / "d.npz", {k: v.numpy() for k, v in dictionaries.items()})
    loaded = load_dictionaries(tmp_path / "d.npz")
    assert sorted(loaded) == ["high", "low"]
    torch.testing.assert_close(loaded["low"], dictionaries["low"])
    with pytest.raises(ValueError, match="missing.npz: NMF dictionaries do not exist"):
        load_dictionaries(tmp_path / "missing.npz")


def test_train_nmf_writes_sd_and_si_dictionaries(tmp_path):
    speech = make_speech_dir(tmp_path, speakers=2, utts=2)
    feats = tmp_path / "dump" / "feats.h5"
    dump_features(speech, feats, FeatureConfig())
    config = tmp_path / "nmf.yaml"
    config.write_text("rank: 4\ntrain_iterations: 10\n")
    run_main(train_nmf.build_parser, train_nmf.main, [str(feats), str(tmp_path / "sd"), "--config", str(config)])
    run_main(
        train_nmf.build_parser,
        train_nmf.main,
        [str(feats), str(tmp_path / "si"), "--config", str(config), "--speaker-independent"],
    )
    sd, si = (load_dictionaries(tmp_path / name / "dictionaries.npz") for name in ("sd", "si"))
    assert sorted(sd) == ["spk0", "spk1"] and list(si) == [SI_KEY]
    assert sd["spk0"].shape == (STFT.num_bins, 4)
    assert "rank: 4" in (tmp_path / "sd" / "nmf.yaml").read_text()
    with pytest.raises(SystemExit) as exit_info:
        run_main(
            train_nmf.build_parser,
            train_nmf.main,
            [str(feats), str(tmp_path / "x"), "--config", str(config), "--speakers", "nobody"],
        )
    assert exit_info.value.code == 1
