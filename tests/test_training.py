"""Training: the reconstruction improves, the lips make an informative prior, a killed run resumes to the same
parameters, a diverging run stops with a clear message and keeps its checkpoint (or says it has none yet), SD
fine-tuning from SI, the learning rate decays on dev plateaus (and resumes where it was), bad training configs are
rejected."""

import dataclasses
import re
import shutil
import signal
import sys
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np
import pytest
import torch

from avvae.bin import export_model
from avvae.bin.train import build_parser as train_parser
from avvae.bin.train import main as train_main
from avvae.config import load_config, save_config
from avvae.models import ModelConfig, ModelFileError, SpeechVAE, load_model
from avvae.models.files import CHECKPOINT_FORMAT, load_file
from avvae.training.config import TrainConfig
from avvae.training.data import Batch, MixtureSampler, load_utterances
from avvae.training.distributed import Placement
from avvae.training.objective import gaussian_kl
from avvae.training.setup import TrainingRun, speaker_dependent, speaker_independent
from avvae.training.trainer import Trainer, TrainingDivergedError
from tests.commands import failure
from tests.training_data import epochs_done, kill_and_resume, run_command, small_config, torch_threads, train_args

CPU = Placement(0, 1, torch.device("cpu"))


class Trained(NamedTuple):
    config: TrainConfig
    run: TrainingRun
    trainer: Trainer
    initial: SpeechVAE  # the model before its first epoch
    model: SpeechVAE  # the best dev epoch's (model.pt)
    exp_dir: Path


@pytest.fixture(scope="module")
def si_avvae(training_feats, tmp_path_factory) -> Trained:
    """One AV-VAE trained SI for 8 epochs, shared by the tests that only read it."""
    config = small_config("avvae", epochs=8)
    run = speaker_independent(config, training_feats.train, training_feats.dev, training_feats.noise)
    initial = SpeechVAE(config.model)
    initial.load_state_dict(run.model.state_dict())
    exp_dir = tmp_path_factory.mktemp("si_avvae") / "exp"
    trainer = Trainer(config, run.schedule, exp_dir, CPU)
    return Trained(config, run, trainer, initial, load_model(trainer.fit(run.model, run.train, run.dev)), exp_dir)


@pytest.mark.slow
def test_reconstruction_improves_and_the_loss_curve_is_written(si_avvae):
    dev, exp_dir = list(si_avvae.run.dev.batches(1, 0, 8)), si_avvae.exp_dir
    before, after = si_avvae.trainer.evaluate(si_avvae.initial, dev), si_avvae.trainer.evaluate(si_avvae.model, dev)
    assert after["recon"] < 0.9 * before["recon"]
    history = (exp_dir / "history.tsv").read_text().splitlines()
    assert len(history) == 9 and history[0].startswith("epoch\ttrain_loss")
    assert (exp_dir / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert (exp_dir / ".done").is_file() and (exp_dir / "config.yaml").is_file()


def _posteriors_and_priors(model: SpeechVAE, batches: list[Batch], shuffle_lips: bool = False):
    mus, logvars, prior_mus, prior_logvars = [], [], [], []
    with torch.no_grad():
        for batch in batches:
            batch = batch.to(torch.device("cpu"))
            context = model.visual_context(batch.lips)
            mu, logvar = model.encode(batch.mixture, context)
            lips = batch.lips.roll(1, dims=0) if shuffle_lips else batch.lips
            prior_mu, prior_logvar = model.prior(model.visual_context(lips))
            for kept, value in zip((mus, logvars, prior_mus, prior_logvars), (mu, logvar, prior_mu, prior_logvar)):
                kept.append(value[batch.mask])
    return [torch.cat(values) for values in (mus, logvars, prior_mus, prior_logvars)]


@pytest.mark.slow
def test_the_visual_prior_beats_any_lip_free_gaussian_on_held_out_speakers(si_avvae, training_feats):
    config, run, model = si_avvae.config, si_avvae.run, si_avvae.model
    mu, logvar, _, _ = _posteriors_and_priors(model, run.train.batches(0, 1, 8))
    # The best lips-free Gaussian prior for these posteriors: moment-matched to their mixture.
    fixed_mu = mu.mean(0)
    fixed_logvar = torch.log((logvar.exp() + (mu - fixed_mu).square()).mean(0))
    held_out = load_utterances(training_feats.test)
    noises = load_utterances(training_feats.noise, lips=False)
    test = list(MixtureSampler(held_out, held_out, noises, config.mixing, config.segment_frames).batches(5, 0, 4))
    mu, logvar, prior_mu, prior_logvar = _posteriors_and_priors(model, test)
    visual = gaussian_kl(mu, logvar, prior_mu, prior_logvar).mean()
    lips_free = gaussian_kl(mu, logvar, fixed_mu, fixed_logvar).mean()
    standard = gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(mu)).mean()
    _, _, wrong_mu, wrong_logvar = _posteriors_and_priors(model, test, shuffle_lips=True)
    wrong_lips = gaussian_kl(mu, logvar, wrong_mu, wrong_logvar).mean()
    assert visual < 0.8 * lips_free and visual < 0.8 * standard
    assert visual < 0.8 * wrong_lips


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_parameters(training_feats, tmp_path):
    config_path = tmp_path / "train.yaml"
    save_config(small_config("avvae", epochs=5, kl_warmup_epochs=2, num_threads=1), config_path)
    kill_and_resume("train", config_path, training_feats, tmp_path, epochs=5)


@pytest.mark.slow
def test_the_last_epoch_exports_to_a_model_file(si_avvae, tmp_path):
    exp_dir = si_avvae.exp_dir
    export_model.main(
        export_model.build_parser().parse_args([str(exp_dir / "checkpoint.pt"), str(tmp_path / "last" / "model.pt")])
    )
    last = load_model(tmp_path / "last" / "model.pt")
    for name, tensor in load_file(exp_dir / "checkpoint.pt", CHECKPOINT_FORMAT)["model"]["state_dict"].items():
        assert torch.equal(last.state_dict()[name], tensor)
    with pytest.raises(ModelFileError, match="expected a avvae-checkpoint-1 file, found 'avvae-model-1'"):
        export_model.main(
            export_model.build_parser().parse_args([str(tmp_path / "last" / "model.pt"), str(tmp_path / "x.pt")])
        )


def test_a_non_finite_loss_stops_naming_the_batch_and_keeps_the_checkpoint(training_feats, tmp_path):
    config = small_config("avae", epochs=1)
    run = speaker_independent(config, training_feats.train, training_feats.dev, training_feats.noise)
    Trainer(config, run.schedule, tmp_path, CPU).fit(run.model, run.train, run.dev)
    (tmp_path / ".done").unlink()
    broken = run.train.targets[3]
    broken.stft = broken.stft.copy()
    broken.stft[5] = np.nan
    longer = type(run.schedule)(3, config.learning_rate, "longer")
    with pytest.raises(TrainingDivergedError, match=rf"at epoch 2, batch \d+ \(utterances .*{broken.key}.*epoch 1\)"):
        Trainer(config, longer, tmp_path, CPU).fit(run.model, run.train, run.dev, resume=True)
    assert load_file(tmp_path / "checkpoint.pt", CHECKPOINT_FORMAT)["epoch"] == 1


@pytest.mark.slow
def test_speaker_dependent_training_fine_tunes_the_si_model(si_avvae, training_feats, tmp_path):
    config, si_model = si_avvae.config, si_avvae.exp_dir / "model.pt"
    speaker = load_utterances(training_feats.train, lips=False)[0].speaker
    run = speaker_dependent(config, training_feats.train, speaker, training_feats.dev, training_feats.noise, si_model)
    assert {u.speaker for u in run.train.targets} == {speaker} and len(run.dev.targets) == 1
    assert len(run.train.interferers) == len(load_utterances(training_feats.dev, lips=False))
    si = load_model(si_model)
    assert all(torch.equal(a, b) for a, b in zip(si.state_dict().values(), run.model.state_dict().values()))
    model = load_model(Trainer(config, run.schedule, tmp_path / "sd", CPU).fit(run.model, run.train, run.dev))
    assert not torch.equal(model.decoder[-1].weight, si.decoder[-1].weight)
    with pytest.raises(ValueError, match="give the SI model with --init"):
        speaker_dependent(config, training_feats.train, speaker, training_feats.dev, training_feats.noise, None)


@pytest.mark.slow
def test_speaker_dependent_epochs_can_be_sized_in_segments_whatever_the_speakers_speech(si_avvae, training_feats):
    config, si_model = si_avvae.config, si_avvae.exp_dir / "model.pt"
    speaker = load_utterances(training_feats.train, lips=False)[0].speaker
    sized = dataclasses.replace(
        config, sd=dataclasses.replace(config.sd, segments_per_utterance=0, segments_per_epoch=10)
    )
    run = speaker_dependent(sized, training_feats.train, speaker, training_feats.dev, training_feats.noise, si_model)
    targets = len(run.train.targets)
    assert run.train.repeats == -(-10 // targets) and targets * run.train.repeats >= 10
    with pytest.raises(ValueError, match="segments_per_utterance or segments_per_epoch, not both"):
        dataclasses.replace(config.sd, segments_per_utterance=2, segments_per_epoch=10)


def _dev_losses(monkeypatch, losses: list[float]) -> None:
    """Make the dev loss of epoch e be losses[e - 1] whatever the model does: plateaus on demand."""
    remaining = iter(losses)

    def evaluate(self, model, batches):
        loss = next(remaining)
        return {"loss": loss, "recon": loss, "kl": 0.0}

    monkeypatch.setattr(Trainer, "evaluate", evaluate)


def _lr_column(exp_dir: Path) -> list[float]:
    rows = [line.split("\t") for line in (exp_dir / "history.tsv").read_text().splitlines()]
    column = rows[0].index("lr")
    return [float(row[column]) for row in rows[1:]]


def _fit(config, feats, exp_dir: Path) -> None:
    run = speaker_independent(config, feats.train, feats.dev, feats.noise)
    Trainer(config, run.schedule, exp_dir, CPU).fit(run.model, run.train, run.dev)


def _last_lr(exp_dir: Path) -> float:
    return load_file(exp_dir / "checkpoint.pt", CHECKPOINT_FORMAT)["optimizer"]["param_groups"][0]["lr"]


@pytest.mark.slow
def test_the_learning_rate_halves_every_epoch_without_improvement_down_to_its_floor(
    training_feats, tmp_path, monkeypatch
):
    _dev_losses(monkeypatch, [1.0] * 5)
    config = small_config("avae", epochs=5, learning_rate=4e-3, lr_decay=0.5, lr_patience=1, min_learning_rate=1.5e-3)
    _fit(config, training_feats, tmp_path)
    assert _lr_column(tmp_path) == pytest.approx([4e-3, 4e-3, 2e-3, 1.5e-3, 1.5e-3])
    assert _last_lr(tmp_path) == pytest.approx(1.5e-3)


@pytest.mark.slow
def test_an_improvement_restarts_the_count_towards_a_decay(training_feats, tmp_path, monkeypatch):
    _dev_losses(monkeypatch, [5.0, 4.0, 4.0, 3.0, 3.0, 3.0])
    config = small_config("avae", epochs=6, learning_rate=4e-3, lr_decay=0.5, lr_patience=2)
    _fit(config, training_feats, tmp_path)
    assert _lr_column(tmp_path) == pytest.approx([4e-3] * 6)
    assert _last_lr(tmp_path) == pytest.approx(2e-3)  # epochs 5 and 6 made the second plateau of two epochs


# The training command with a dev loss that never improves, killing itself (SIGKILL) when the dev loss of epoch
# $KILL_AT_EPOCH is asked for: after the checkpoint of the epoch before, with one epoch towards a decay counted.
_PLATEAU_TRAIN = """
import os, signal
from avvae.cli import run_main
from avvae.bin.train import build_parser, main
from avvae.training.trainer import Trainer
calls = []
def evaluate(self, model, batches):
    calls.append(None)
    if len(calls) == int(os.environ.get("KILL_AT_EPOCH", "0")):
        os.kill(os.getpid(), signal.SIGKILL)
    return {"loss": 1.0, "recon": 1.0, "kl": 0.0}
Trainer.evaluate = evaluate
run_main(build_parser, main)
"""


@pytest.mark.slow
def test_a_killed_run_resumes_its_learning_rate_schedule(training_feats, tmp_path, monkeypatch):
    config_path = tmp_path / "train.yaml"
    save_config(small_config("avae", epochs=5, learning_rate=4e-3, lr_decay=0.5, lr_patience=2), config_path)

    def command(*extra: str) -> list[str]:
        return [
            sys.executable,
            "-c",
            _PLATEAU_TRAIN,
            *train_args(config_path, training_feats, tmp_path / "killed", *extra),
        ]

    _dev_losses(monkeypatch, [1.0] * 5)  # the straight run, in this process, plateaus alike
    train_main(train_parser().parse_args(train_args(config_path, training_feats, tmp_path / "straight")))
    killed = run_command(command(), check=False, KILL_AT_EPOCH="3")
    assert killed.returncode == -signal.SIGKILL and epochs_done(tmp_path / "killed") == 2
    run_command(command("--resume"))

    assert _lr_column(tmp_path / "straight") == pytest.approx([4e-3, 4e-3, 4e-3, 2e-3, 2e-3])
    assert _lr_column(tmp_path / "killed") == _lr_column(tmp_path / "straight")
    assert _last_lr(tmp_path / "killed") == _last_lr(tmp_path / "straight") == pytest.approx(1e-3)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(mode="stagewise"), "training mode 'stagewise' is not one of joint, two_stage"),
        (dict(mode="two_stage"), "two_stage needs decoder_epochs >= 1.*got decoder_epochs 0"),
        (dict(mode="two_stage", decoder_epochs=3, model=ModelConfig(kind="cvae")), "decoder sees only z.*kind cvae"),
        (dict(lr_decay=0.0), "lr_decay must be > 0, <= 1, got 0.0"),
        (dict(lr_decay=1.5), "lr_decay must be > 0, <= 1, got 1.5"),
        (dict(lr_patience=0), "lr_patience must be >= 1, got 0"),
        (dict(min_learning_rate=0.0), "min_learning_rate must be > 0, got 0.0"),
    ],
)
def test_bad_modes_and_decays_are_rejected_naming_the_key(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**overrides)


def test_a_bad_training_config_stops_the_command_before_it_writes(training_feats, tmp_path):
    config_path = tmp_path / "train.yaml"
    config_path.write_text("mode: two_stage\nlr_decay: 0.5\n")
    with pytest.raises(ValueError, match="decoder_epochs >= 1"):
        train_main(train_parser().parse_args(train_args(config_path, training_feats, tmp_path / "exp")))
    assert not (tmp_path / "exp").exists()
    config_path.write_text("mode: two_stage\ndecoder_epochs: 2\nlr_decay: 0.5\nmodel: {kind: avae}\n")
    assert load_config(config_path, TrainConfig).decoder_epochs == 2


def test_a_non_finite_loss_in_the_first_epoch_says_no_checkpoint_was_written(training_feats, tmp_path, caplog):
    train = tmp_path / "train.h5"
    shutil.copy(training_feats.train, train)
    with h5py.File(train, "r+") as handle:
        for group in handle.values():  # every frame of every utterance: the first batch's loss is NaN
            for name in ("stft", "power"):
                group[name][...] = np.nan
    config = tmp_path / "train.yaml"
    save_config(small_config("avae", epochs=1), config)
    exp = tmp_path / "exp"
    with torch_threads():
        message = failure(
            caplog,
            train_parser,
            train_main,
            [
                "--config",
                str(config),
                "--train",
                str(train),
                "--dev",
                str(training_feats.dev),
                "--noise",
                str(training_feats.noise),
                str(exp),
            ],
        )
    assert re.fullmatch(
        rf"{exp}: loss is .*nan.* at epoch 1, batch 0 \(utterances .*\); no checkpoint was written "
        r"\(one is written after each epoch\)",
        message,
    ), message
    assert not (exp / "checkpoint.pt").exists()
