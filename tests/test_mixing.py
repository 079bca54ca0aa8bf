"""Mixtures: levels as drawn, references that sum to the mixture, bit-exact rebuild, resumable writing."""

import json

import h5py
import numpy as np
import pytest

from avvae.features import FeatureConfig, dump_features
from avvae.fileio.audio import read_wav
from avvae.fileio.datadir import read_table, validate_data_dir
from avvae.mixing import MixConfig, make_mixtures, mix_sources
from tests.datadirs import make_noise_dir, make_speech_dir

CONFIG = MixConfig(num_mixtures=6, snr_db=[-5.0, 5.0], sir_db=[0.0, 3.0], seed=7)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    return make_speech_dir(root, speakers=3, utts=2), make_noise_dir(root)


@pytest.fixture(scope="module")
def mixed(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("mix")
    make_mixtures(*inputs, out / "data", out / "audio", CONFIG)
    return out


def level_db(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * np.log10(np.mean(a.astype(np.float64) ** 2) / np.mean(b.astype(np.float64) ** 2))


def test_mixture_dir_is_valid_and_levels_are_as_drawn(mixed):
    data = mixed / "data"
    assert validate_data_dir(data) == 6
    manifest = [json.loads(line) for line in (data / "manifest.jsonl").read_text().splitlines()]
    for entry in manifest:
        mixture, _ = read_wav(read_table(data / "wav.scp")[entry["id"]])
        s1, s2, noise = (
            read_wav(read_table(data / name)[entry["id"]])[0] for name in ("spk1.scp", "spk2.scp", "noise1.scp")
        )
        assert entry["sources"][0]["spk"] != entry["sources"][1]["spk"]
        np.testing.assert_allclose(mixture, s1 + s2 + noise, atol=1e-6)
        assert level_db(s1, s2) == pytest.approx(entry["sir_db"], abs=0.01)
        assert level_db(s1 + s2, noise) == pytest.approx(entry["snr_db"], abs=0.01)
        assert np.max(np.abs(mixture)) == pytest.approx(CONFIG.peak, abs=1e-6)
    assert {entry["condition"] for entry in manifest} == {"snr-5", "snr5"}


def test_manifest_rebuilds_every_mixture_bit_for_bit(mixed):
    data = mixed / "data"
    for line in (data / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        mixture, sources, noise = mix_sources(entry)
        assert mixture.tobytes() == read_wav(read_table(data / "wav.scp")[entry["id"]])[0].tobytes()
        assert noise.tobytes() == read_wav(read_table(data / "noise1.scp")[entry["id"]])[0].tobytes()


def test_same_seed_same_bytes_and_rerun_writes_nothing(inputs, mixed, tmp_path):
    make_mixtures(*inputs, tmp_path / "data", tmp_path / "audio", CONFIG)
    for name in ("manifest.jsonl", "utt2cond"):
        assert (tmp_path / "data" / name).read_bytes() == (mixed / "data" / name).read_bytes()
    for path in sorted((mixed / "audio").glob("*.wav")):
        assert (tmp_path / "audio" / path.name).read_bytes() == path.read_bytes()
    before = {path: path.stat().st_mtime_ns for path in (tmp_path / "audio").iterdir()}
    make_mixtures(*inputs, tmp_path / "data", tmp_path / "audio", CONFIG)
    assert before == {path: path.stat().st_mtime_ns for path in (tmp_path / "audio").iterdir()}


def test_speaker_groups_take_turns_and_a_repeated_speaker_says_two_sentences(inputs, tmp_path):
    config = MixConfig(num_mixtures=8, speaker_groups=[["spk0", "spk1"], ["spk0", "spk0"]], snr_db=[-5.0, 5.0], seed=3)
    make_mixtures(*inputs, tmp_path / "data", tmp_path / "audio", config)
    manifest = [json.loads(line) for line in (tmp_path / "data" / "manifest.jsonl").read_text().splitlines()]
    groups = [[source["spk"] for source in entry["sources"]] for entry in manifest]
    assert groups == [["spk0", "spk1"], ["spk0", "spk0"]] * 4
    assert [entry["snr_db"] for entry in manifest] == [-5.0, -5.0, 5.0, 5.0] * 2
    for entry in manifest:
        assert entry["sources"][0]["utt"] != entry["sources"][1]["utt"]
    assert read_table(tmp_path / "data" / "utt2cond")[manifest[1]["id"]] == "spk0+spk0-snr-5"
    assert {entry["condition"] for entry in manifest} == {
        "spk0+spk1-snr-5",
        "spk0+spk1-snr5",
        "spk0+spk0-snr-5",
        "spk0+spk0-snr5",
    }


def test_a_speaker_group_needs_enough_utterances_and_speakers(inputs, tmp_path):
    with pytest.raises(ValueError, match=r"needs 3 utterances of spk0, the set has 2"):
        make_mixtures(
            *inputs,
            tmp_path / "data",
            tmp_path / "audio",
            MixConfig(num_speakers=3, num_mixtures=1, speaker_groups=[["spk0", "spk0", "spk0"]]),
        )
    with pytest.raises(ValueError, match=r"speaker_groups: \['spk0'\] has 1 speakers, num_speakers is 2"):
        MixConfig(speaker_groups=[["spk0"]])


def test_unknown_noise_type_is_rejected(inputs, tmp_path):
    config = MixConfig(num_mixtures=1, noise_types=["cafe"])
    with pytest.raises(ValueError, match=r"noise/utt2spk: no noise of type\(s\) \['cafe'\]"):
        make_mixtures(*inputs, tmp_path / "data", tmp_path / "audio", config)


def test_mixture_features_hold_references_that_sum_to_the_mixture(mixed, tmp_path):
    output = tmp_path / "feats.h5"
    dump_features(mixed / "data", output, FeatureConfig())
    with h5py.File(output) as handle:
        assert handle.attrs["kind"] == "mixture" and handle.attrs["num_speakers"] == 2
        key = sorted(handle)[0]
        group = handle[key]
        assert [group.attrs["spk1"], group.attrs["spk2"]] == key.split("_")[1:3]
        assert group.attrs["condition"] in ("snr-5", "snr5")
        total = group["stft_source1"][()] + group["stft_source2"][()] + group["stft_noise"][()]
        np.testing.assert_allclose(total, group["stft"][()], atol=1e-3)
        assert group["lips1"].shape == group["lips2"].shape == (len(total), 67, 67)
