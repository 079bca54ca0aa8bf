"""Feature files for training tests: voiced speakers of distinct pitch whose lips follow their energy, split into
train / dev / held-out speakers, and coloured noise. Small enough to train a small model in seconds. Also the
training commands on them, and the kill-then-resume check that the training entry points share."""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import torch

from avvae.features import FeatureConfig, dump_features
from avvae.models import ModelConfig
from avvae.models.files import CHECKPOINT_FORMAT, load_file
from avvae.training.config import MixingConfig, SpeakerDependentConfig, TrainConfig
from tests.commands import kill_when
from tests.datadirs import make_noise_dir, make_speech_dir

ROOT = Path(__file__).resolve().parents[1]


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
    values = dict(
        model=model,
        mixing=MixingConfig(snr_db=[5.0, 15.0]),
        sd=SpeakerDependentConfig(epochs=2),
        epochs=epochs,
        batch_size=8,
        segment_frames=32,
        segments_per_utterance=2,
        learning_rate=3e-3,
        patience=50,
    )
    values.update(overrides)
    return TrainConfig(**values)


@contextlib.contextmanager
def torch_threads(number: int | None = None) -> Iterator[None]:
    """torch on `number` threads inside the block (None: as it is, for calls that set their own, as the training
    entry points do for their whole process); the number from before is restored after."""
    threads = torch.get_num_threads()
    if number is not None:
        torch.set_num_threads(number)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_args(config: Path, feats: TrainingFeats, exp_dir: Path, *extra: str) -> list[str]:
    """The arguments of an SI training command (avvae.bin.train, avvae.bin.train_supervised) on these feats."""
    return [
        "--config",
        str(config),
        "--train",
        str(feats.train),
        "--dev",
        str(feats.dev),
        "--noise",
        str(feats.noise),
        *extra,
        str(exp_dir),
    ]


def run_command(command: list[str], check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """Run a command in a fresh process that imports this checkout's avvae (text stdout and stderr captured)."""
    return subprocess.run(
        command, env={**os.environ, "PYTHONPATH": str(ROOT), **env}, capture_output=True, text=True, check=check
    )


def history_rows(exp_dir: Path) -> list[str]:
    """The epoch rows of a training folder's history.tsv (none before its first epoch)."""
    history = exp_dir / "history.tsv"
    return history.read_text().splitlines()[1:] if history.is_file() else []


def epochs_done(exp_dir: Path) -> int:
    """The epochs a training has written to its history.tsv (0 before the first)."""
    return len(history_rows(exp_dir))


def kill_and_resume(module: str, config: Path, feats: TrainingFeats, root: Path, epochs: int, after: int = 2) -> None:
    """The resume check of training entry point avvae.bin.<module> (`config`: `epochs` epochs and num_threads set,
    so that every process computes alike): root/straight trains uninterrupted (in this process); root/killed is
    SIGKILLed after `after` epochs, a rerun without --resume is refused, and a rerun with it (a fresh process) must
    end with the same parameters and dev loss as the uninterrupted run."""
    entry = importlib.import_module(f"avvae.bin.{module}")
    straight, killed = root / "straight", root / "killed"

    def command(*extra: str) -> list[str]:
        return [sys.executable, "-m", entry.__name__, *train_args(config, feats, killed, *extra)]

    with torch_threads():  # the entry point sets the config's number for this whole process
        entry.main(entry.build_parser().parse_args(train_args(config, feats, straight)))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        kill_when(command(), ROOT, lambda: epochs_done(killed) >= after or None, env)
        assert after <= epochs_done(killed) < epochs, "the run was not killed midway"
        with pytest.raises(ValueError, match="pass --resume"):
            entry.main(entry.build_parser().parse_args(train_args(config, feats, killed)))
    run_command(command("--resume"))

    reference, resumed = (load_file(path / "checkpoint.pt", CHECKPOINT_FORMAT) for path in (straight, killed))
    assert resumed["epoch"] == reference["epoch"] == epochs
    for name, tensor in reference["model"]["state_dict"].items():
        assert torch.equal(tensor, resumed["model"]["state_dict"][name]), name
    assert reference["history"][-1]["dev_loss"] == resumed["history"][-1]["dev_loss"]
