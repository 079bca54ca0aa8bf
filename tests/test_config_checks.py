"""Configs: every shipped config of every recipe loads as is; values out of range, typos and YAML's string
numbers end in an error that names the file and the key (one mechanism, avvae.config.check_ranges); a model size
that does not fit the features stops the training command before it trains."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from avvae.bin import train, train_supervised
from avvae.config import ConfigError, load_config
from avvae.features import FeatureConfig, dump_features
from avvae.mcem.config import McemConfig
from avvae.supervised.config import SupervisedConfig
from avvae.training.config import TrainConfig
from avvae.training.setup import training_noises
from tests.commands import failure
from tests.datadirs import make_noise_dir, make_speech_dir
from tests.training_data import TrainingFeats, torch_threads, train_args

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = {
    "train_avae.yaml": TrainConfig,
    "train_avvae.yaml": TrainConfig,
    "train_cvae.yaml": TrainConfig,
    "train_supervised.yaml": SupervisedConfig,
    "mcem.yaml": McemConfig,
    "feats.yaml": FeatureConfig,
}
SHIPPED = sorted(path for path in ROOT.glob("egs/*/conf/*.yaml") if path.name in SCHEMAS)


def test_every_recipe_ships_its_configs():
    assert {path.parent.parent.name for path in SHIPPED} == {"mini_av", "ntcd_timit", "grid"}
    assert len(SHIPPED) == 3 * len(SCHEMAS)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: f"{path.parent.parent.name}/{path.name}")
def test_shipped_configs_load_unmodified(path):
    load_config(path, SCHEMAS[path.name])


def test_mini_av_sd_mcem_is_its_si_mcem_without_the_adaptation_to_the_voice():
    conf = ROOT / "egs" / "mini_av" / "conf"
    si, sd = load_config(conf / "mcem.yaml", McemConfig), load_config(conf / "mcem_sd.yaml", McemConfig)
    assert si.prior_adaptation_frames > 0 and sd.prior_adaptation_frames == 0
    assert si.speaker_colour and not sd.speaker_colour
    assert dataclasses.replace(si, prior_adaptation_frames=0, speaker_colour=False, colour_smoothing_bins=0) == sd


def test_mini_av_keeps_the_published_mcem_as_a_config():
    assert load_config(ROOT / "egs" / "mini_av" / "conf" / "published" / "mcem.yaml", McemConfig) == McemConfig()


def _write(tmp_path, name, values):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, "epochs must be >= 1, got 0"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"segment_frames": 0}, "segment_frames must be >= 1"),
        ({"learning_rate": -1.0}, "learning_rate must be > 0"),
        ({"model": {"latent_dim": 0}}, "latent_dim must be >= 1"),
        ({"mixing": {"sir_db": [5.0, -5.0]}}, r"mixing.sir_db must be \[low, high\]"),
        ({"mixing": {"sir_db": [0.0]}}, r"mixing.sir_db must be \[low, high\]"),
        ({"sd": {"dev_fraction": 1.0}}, "dev_fraction must be > 0, < 1"),
    ],
)
def test_training_values_out_of_range_name_the_file_and_key(tmp_path, changes, message):
    path = _write(tmp_path, "train.yaml", changes)
    with pytest.raises(ConfigError, match=f"{path}.*{message}"):
        load_config(path, TrainConfig)


@pytest.mark.parametrize(
    "schema, changes, message",
    [
        (McemConfig, {"log_every": 0}, "log_every must be >= 1"),
        (McemConfig, {"variational_steps": 0}, "variational_steps must be >= 1"),
        (FeatureConfig, {"hop_length": 2048}, r"hop_length \(2048\) must not exceed n_fft \(1024\)"),
        (FeatureConfig, {"hop_length": 0}, "hop_length must be >= 1"),
        (SupervisedConfig, {"epochs": -2}, "epochs must be >= 1"),
    ],
)
def test_other_configs_out_of_range(tmp_path, schema, changes, message):
    path = _write(tmp_path, "conf.yaml", changes)
    with pytest.raises(ConfigError, match=f"{path}.*{message}"):
        load_config(path, schema)


def test_yaml_string_numbers_are_read_as_numbers(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("learning_rate: 1e-3\nsd:\n  learning_rate: 3e-4\n")
    config = load_config(path, TrainConfig)
    assert config.learning_rate == 1e-3 and config.sd.learning_rate == 3e-4
    path.write_text("learning_rate: fast\n")
    with pytest.raises(ConfigError, match="learning_rate: expected float, got 'fast'"):
        load_config(path, TrainConfig)


def test_a_misspelt_excluded_noise_type_is_an_error(training_feats):
    config = TrainConfig()
    config.mixing.exclude_noise_types = ["babbel"]
    with pytest.raises(ValueError, match=r"exclude_noise_types: babbel is not a noise type of .*\(its types: "):
        training_noises(config, training_feats.noise)


@pytest.mark.parametrize("command", [train, train_supervised], ids=["train", "train_supervised"])
def test_a_model_of_another_number_of_bins_than_the_features_stops_before_training(tmp_path, caplog, command):
    speech, noise = tmp_path / "train.h5", tmp_path / "noise.h5"
    dump_features(make_speech_dir(tmp_path, speakers=2, utts=1), speech, FeatureConfig())  # 1024-point STFT
    dump_features(make_noise_dir(tmp_path, seconds=1.0), noise, FeatureConfig())
    config = _write(tmp_path, "train.yaml", {"model": {"num_freqs": 257}})
    argv = train_args(config, TrainingFeats(speech, speech, speech, noise), tmp_path / "exp")
    with torch_threads():
        message = failure(caplog, command.build_parser, command.main, argv)
    assert message == (
        f"{config}: model.num_freqs is 257, but {speech} has 513 frequency bins: set model.num_freqs "
        "to 513 (or dump the features with n_fft 512)"
    )
    assert not (tmp_path / "exp" / "checkpoint.pt").exists()
