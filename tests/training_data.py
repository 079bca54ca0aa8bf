"""Feature files for training tests: voiced speakers of distinct pitch whose lips follow their energy, split into
train / dev / held-out speakers, and coloured noise. Small enough to train a small model in seconds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from avvae.features import FeatureConfig, dump_features
from avvae.models import ModelConfig
from avvae.training.config import MixingConfig, SpeakerDependentConfig, TrainConfig
from tests.datadirs import make_noise_dir, make_speech_dir


@dataclass(frozen=True)
class TrainingFeats:
    train: Path
    dev: Path
    test: Path
    noise: Path


def make_training_feats(root: Path) -> TrainingFeats:
    paths = {}
    for name, seed, speakers in (("train", 0, 4), ("dev", 1, 2), ("test", 2, 2)):
        data = make_speech_dir(root / name, speakers=speakers, utts=6, seed=seed)
        paths[name] = root / "dump" / name / "feats.h5"
        dump_features(data, paths[name], FeatureConfig())
    noise = make_noise_dir(root, seconds=6.0)
    paths["noise"] = root / "dump" / "noise" / "feats.h5"
    dump_features(noise, paths["noise"], FeatureConfig())
    return TrainingFeats(**paths)


def small_config(kind: str, epochs: int = 4, **overrides) -> TrainConfig:
    """A small model and short schedule: the published layer sizes would only make the tests slower."""
    model = ModelConfig(kind=kind, latent_dim=8, hidden_dim=64, lip_hidden=64, lip_embedding=16, lip_context=1)
    values = dict(model=model, mixing=MixingConfig(snr_db=[5.0, 15.0]), sd=SpeakerDependentConfig(epochs=2),
                  epochs=epochs, batch_size=8, segment_frames=32, segments_per_utterance=2, learning_rate=3e-3,
                  patience=50)
    values.update(overrides)
    return TrainConfig(**values)
