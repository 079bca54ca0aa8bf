"""The trainer's policies, each shown on a short real training: early stopping on the dev loss, model.pt = the best
dev epoch, refusal to resume with another config, the KL warm-up, gradient clipping; and SD training from scratch,
its error cases and its resume, and SD fine-tuning that fits the speaker better than the SI model it starts from."""

import dataclasses
import math

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from avvae.models import load_model
from avvae.models.files import CHECKPOINT_FORMAT, load_file
from avvae.training.config import SpeakerDependentConfig
from avvae.training.data import load_utterances
from avvae.training.distributed import Placement
from avvae.training.objective import VaeObjective
from avvae.training.setup import speaker_dependent, speaker_independent
from avvae.training.trainer import VAE, Trainer
from tests.training_data import small_config, torch_threads

pytestmark = pytest.mark.slow

CPU = Placement(0, 1, torch.device("cpu"))


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


def scripted_dev_losses(monkeypatch, losses: list[float]) -> list[dict[str, torch.Tensor]]:
    """Make the dev loss of epoch e be losses[e - 1]; returns the parameters the model had at each evaluation."""
    remaining, seen = iter(losses), []

    def evaluate(self, model, batches):
        seen.append({name: tensor.clone() for name, tensor in model.state_dict().items()})
        loss = next(remaining)
        return {"loss": loss, "recon": loss, "kl": 0.0}

    monkeypatch.setattr(Trainer, "evaluate", evaluate)
    return seen


def fit(config, feats, exp_dir, spec=VAE, resume=False, epochs=None):
    run = speaker_independent(config, feats.train, feats.dev, feats.noise)
    schedule = run.schedule if epochs is None else dataclasses.replace(run.schedule, epochs=epochs)
    return Trainer(config, schedule, exp_dir, CPU, spec).fit(run.model, run.train, run.dev, resume=resume)


def test_early_stopping_and_the_best_dev_epoch_is_the_model(training_feats, tmp_path, monkeypatch):
    seen = scripted_dev_losses(monkeypatch, [5.0, 3.0, 4.0, 3.5, 3.2, 1.0, 1.0])
    model_file = fit(small_config("avae", epochs=7, patience=3), training_feats, tmp_path)
    assert len(seen) == 5, "three epochs without improving on epoch 2: stop after epoch 5"
    assert len((tmp_path / "history.tsv").read_text().splitlines()) == 1 + 5
    best, last = load_model(model_file).state_dict(), load_file(tmp_path / "checkpoint.pt", CHECKPOINT_FORMAT)
    for name, tensor in best.items():
        assert torch.equal(tensor, seen[1][name]), name  # epoch 2, not the last one
    assert any(not torch.equal(best[name], tensor) for name, tensor in last["model"]["state_dict"].items())


def test_resuming_with_another_config_is_refused(training_feats, tmp_path):
    config = small_config("avae", epochs=1)
    fit(config, training_feats, tmp_path)
    (tmp_path / ".done").unlink()
    with pytest.raises(ValueError, match=f"{tmp_path / 'checkpoint.pt'}: was written with another config"):
        fit(dataclasses.replace(config, learning_rate=1e-2), training_feats, tmp_path, resume=True, epochs=2)
    fit(config, training_feats, tmp_path, resume=True, epochs=2)
    assert load_file(tmp_path / "checkpoint.pt", CHECKPOINT_FORMAT)["epoch"] == 2


class Recorder(VaeObjective):
    """The VAE objective, recording the KL weight of every batch and whether it was a training one."""

    betas: list[tuple[float, bool]] = []

    def forward(self, batch, beta, generator):
        Recorder.betas.append((beta, self.training))
        return super().forward(batch, beta, generator)


def test_the_kl_weight_warms_up_linearly_and_weights_the_loss(training_feats, tmp_path):
    Recorder.betas = []
    spec = dataclasses.replace(VAE, objective=Recorder)
    fit(small_config("avae", epochs=3, kl_warmup_epochs=2), training_feats, tmp_path, spec=spec)
    history = [line.split("\t") for line in (tmp_path / "history.tsv").read_text().splitlines()]
    rows = [dict(zip(history[0], map(float, row))) for row in history[1:]]
    training = [beta for beta, train in Recorder.betas if train]
    per_epoch = len(training) // 3
    assert training == [0.5] * per_epoch + [1.0] * 2 * per_epoch
    assert all(beta == 1.0 for beta, train in Recorder.betas if not train), "dev loss at full weight"
    for beta, row in zip((0.5, 1.0, 1.0), rows):
        assert row["train_loss"] == pytest.approx(row["train_recon"] + beta * row["train_kl"], rel=1e-4)


def gradient_norms(config, feats, exp_dir) -> list[float]:
    """The total gradient norm at every optimiser step of a short training."""
    norms = []

    def before_step(optimizer, args, kwargs):
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        norms.append(math.sqrt(sum(float(g.square().sum()) for g in grads)))

    handle = register_optimizer_step_pre_hook(before_step)
    try:
        fit(config, feats, exp_dir)
    finally:
        handle.remove()
    return norms


def test_gradient_clipping_bounds_every_step(training_feats, tmp_path):
    free = gradient_norms(small_config("avae", epochs=1), training_feats, tmp_path / "free")
    clip = 0.5 * min(free)
    clipped = gradient_norms(small_config("avae", epochs=1, grad_clip=clip), training_feats, tmp_path / "clipped")
    assert len(clipped) == len(free) and max(clipped) <= clip * (1 + 1e-5) and min(free) > clip


@pytest.fixture(scope="module")
def si_model(training_feats, tmp_path_factory):
    exp_dir = tmp_path_factory.mktemp("si")
    with torch_threads(1):
        fit(small_config("avae", epochs=2), training_feats, exp_dir)
    return exp_dir / "model.pt"


def sd_config(**sd):
    values = dict(epochs=4, learning_rate=3e-3)
    values.update(sd)
    return small_config("avae", epochs=2, sd=SpeakerDependentConfig(**values))


def test_sd_fine_tuning_fits_the_speaker_better_than_the_si_model(training_feats, si_model, tmp_path):
    config = sd_config()
    speaker = load_utterances(training_feats.train, lips=False)[0].speaker
    run = speaker_dependent(config, training_feats.train, speaker, training_feats.dev, training_feats.noise, si_model)
    trainer = Trainer(config, run.schedule, tmp_path, CPU)
    sd = load_model(trainer.fit(run.model, run.train, run.dev))
    dev = list(run.dev.batches(0, 0, 8))  # the speaker's held-out utterances, mixed
    before, after = trainer.evaluate(load_model(si_model), dev), trainer.evaluate(sd, dev)
    assert after["loss"] < 0.97 * before["loss"], (before, after)


def test_sd_from_scratch_ignores_the_si_model_and_resumes(training_feats, si_model, tmp_path):
    config = sd_config(init="scratch", epochs=3)
    speaker = load_utterances(training_feats.train, lips=False)[1].speaker
    args = (config, training_feats.train, speaker, training_feats.dev, training_feats.noise)
    run = speaker_dependent(*args, si_model)  # the SI model given (as stage 5 does) but not taken
    fresh = speaker_independent(config, training_feats.train, training_feats.dev, training_feats.noise).model
    si = load_model(si_model)
    assert not any(torch.equal(a, b) for a, b in zip(si.decoder.parameters(), run.model.decoder.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(fresh.encoder.parameters(), run.model.encoder.parameters())), (
        "a fresh model, seeded as SI training's"
    )
    straight = Trainer(config, run.schedule, tmp_path / "straight", CPU).fit(run.model, run.train, run.dev)
    # stopped after one epoch (a kill after its checkpoint), then resumed to the end
    first = speaker_dependent(*args, si_model)
    Trainer(config, dataclasses.replace(first.schedule, epochs=1), tmp_path / "resumed", CPU).fit(
        first.model, first.train, first.dev
    )
    (tmp_path / "resumed" / ".done").unlink()
    again = speaker_dependent(*args, si_model)
    resumed = Trainer(config, again.schedule, tmp_path / "resumed", CPU).fit(
        again.model, again.train, again.dev, resume=True
    )
    for (name, a), b in zip(load_model(straight).state_dict().items(), load_model(resumed).state_dict().values()):
        assert torch.equal(a, b), name


def test_sd_errors_name_what_is_wrong(training_feats, si_model, tmp_path):
    speaker = load_utterances(training_feats.train, lips=False)[0].speaker
    feats = (training_feats.train, speaker, training_feats.dev, training_feats.noise)
    with pytest.raises(ValueError, match="sd.init must be 'si' or 'scratch', not 'random'"):
        sd_config(init="random")
    with pytest.raises(ValueError, match="sd.init is 'si': give the SI model with --init"):
        speaker_dependent(sd_config(), *feats, None)
    with pytest.raises(ValueError, match=f"{si_model}: its model config differs from the training config's model"):
        speaker_dependent(small_config("avvae", sd=SpeakerDependentConfig()), *feats, si_model)
    with pytest.raises(ValueError, match=f"{training_feats.train}: no utterances of speaker\\(s\\) spk9"):
        speaker_dependent(sd_config(), training_feats.train, "spk9", training_feats.dev, training_feats.noise, si_model)
