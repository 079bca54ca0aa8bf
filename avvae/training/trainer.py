"""The training loop: Adam, early stopping on the dev loss, an atomic checkpoint every epoch, exact resume.

The loop is the same for every model it trains: a `ModelSpec` says how to wrap the model into its objective (an
nn.Module whose forward(batch, beta, generator) returns {"loss": ..., other terms}), how to write and read its
model file, and how to label its terms; the default is the speech VAE's.

exp_dir holds config.yaml (the config used), checkpoint.pt (the last epoch: model, optimiser, history), model.pt
(the best dev epoch's model, what decoding reads), history.tsv and loss.png, and `.done` when training ended.
Every epoch's batches and reparameterisation noise are drawn from (seed, epoch), so a run resumed from the last
checkpoint after a kill ends with the same parameters as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from avvae.config import save_config
from avvae.errors import AvvaeError, UsageError
from avvae.fileio.atomic import is_done, mark_done, write_text_atomic
from avvae.models.files import CHECKPOINT_FORMAT, ModelFileError, build_model, load_file, model_payload, save_file
from avvae.training.data import Batch, MixtureSampler
from avvae.training.distributed import Placement
from avvae.training.objective import VaeObjective
from avvae.training.plot import plot_losses

log = logging.getLogger(__name__)
DEV_SEED = 2**31 - 1


class TrainingDivergedError(AvvaeError):
    """The loss became NaN or infinite; the last good checkpoint (if an epoch ended) is kept."""


@dataclass
class Schedule:
    """What differs between runs: epochs, learning rate, a title for logs and plots, KL warm-up, and the decay of
    the learning rate by `lr_decay` after `lr_patience` epochs without dev improvement (floored at `min_lr`)."""

    epochs: int
    learning_rate: float
    title: str
    kl_warmup_epochs: int = 0
    lr_decay: float = 1.0
    lr_patience: int = 2
    min_lr: float = 1.0e-5


@dataclass(frozen=True)
class ModelSpec:
    """How the loop handles one kind of model: `objective(model)` gives the loss terms, `payload(model)` the dict
    its model file holds (with its own format tag), `build(payload, path)` the model back; `labels` names the
    terms in the plot (a term without a label is shown under its own name)."""

    objective: Callable[[torch.nn.Module], torch.nn.Module]
    payload: Callable[[torch.nn.Module], dict[str, Any]]
    build: Callable[[dict[str, Any], Path], torch.nn.Module]
    labels: dict[str, str]


VAE = ModelSpec(VaeObjective, model_payload, build_model, {"loss": "total", "recon": "reconstruction (IS)", "kl": "KL"})


@dataclass
class TrainingState:
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    epoch: int = 0
    best_dev: float = math.inf
    bad_epochs: int = 0
    history: list[dict] = dataclasses.field(default_factory=list)
    lr_bad_epochs: int = 0


def _checkpoint_payload(state: TrainingState, config: Any, spec: ModelSpec) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "model": spec.payload(state.model),
        "optimizer": state.optimizer.state_dict(),
        "epoch": state.epoch,
        "best_dev": state.best_dev,
        "bad_epochs": state.bad_epochs,
        "lr_bad_epochs": state.lr_bad_epochs,
        "history": state.history,
        "config": dataclasses.asdict(config),
    }


def _restore(path: Path, config: Any, spec: ModelSpec, learning_rate: float, device: torch.device) -> TrainingState:
    payload = load_file(path, CHECKPOINT_FORMAT, device)
    if payload["config"] != dataclasses.asdict(config):
        raise ModelFileError(
            f"{path}: was written with another config than the one given; resume with the same config "
            f"(its copy is {path.parent / 'config.yaml'}) or train into a new exp dir"
        )
    model = spec.build(payload["model"], path).to(device)
    spec.objective(model)  # the objective may freeze parameters, which the optimiser must then leave alone
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    optimizer.load_state_dict(payload["optimizer"])
    return TrainingState(
        model,
        optimizer,
        payload["epoch"],
        payload["best_dev"],
        payload["bad_epochs"],
        payload["history"],
        payload.get("lr_bad_epochs", 0),
    )


def _beta(schedule: Schedule, epoch: int) -> float:
    """KL weight: linear warm-up from 0 to 1 over `kl_warmup_epochs` (KL annealing), then 1."""
    return 1.0 if schedule.kl_warmup_epochs <= 0 else min(1.0, epoch / schedule.kl_warmup_epochs)


def _decay_on_plateau(state: TrainingState, schedule: Schedule, improved: bool) -> None:
    """Multiply the learning rate by lr_decay after lr_patience epochs without dev improvement."""
    state.lr_bad_epochs = 0 if improved else state.lr_bad_epochs + 1
    if schedule.lr_decay < 1.0 and state.lr_bad_epochs >= schedule.lr_patience:
        for group in state.optimizer.param_groups:
            group["lr"] = max(group["lr"] * schedule.lr_decay, schedule.min_lr)
        state.lr_bad_epochs = 0
        log.info(
            "dev loss stalled for %d epochs: learning rate now %.3g",
            schedule.lr_patience,
            state.optimizer.param_groups[0]["lr"],
        )


def _generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + epoch)


def _mean_terms(terms: list[dict[str, float]]) -> dict[str, float]:
    return {name: sum(t[name] for t in terms) / len(terms) for name in terms[0]}


def _describe(terms: dict[str, float]) -> str:
    """'1.23 (recon 1.1, kl 0.13)': the total, then the other terms."""
    others = ", ".join(f"{name} {value:.3f}" for name, value in terms.items() if name != "loss")
    return f"{terms['loss']:.3f}" + (f" ({others})" if others else "")


class Trainer:
    """Trains one model into `exp_dir` from a training and a dev sampler.

    `config` is the training config (a dataclass with seed, batch_size, patience and grad_clip; saved and
    compared on resume), `spec` the kind of model (default: the speech VAE)."""

    def __init__(
        self, config: Any, schedule: Schedule, exp_dir: str | Path, placement: Placement, spec: ModelSpec = VAE
    ):
        self.config, self.schedule, self.exp_dir, self.placement = config, schedule, Path(exp_dir), placement
        self.spec = spec

    @property
    def checkpoint(self) -> Path:
        return self.exp_dir / "checkpoint.pt"

    def _start(self, model: torch.nn.Module, resume: bool) -> TrainingState:
        device = self.placement.device
        if self.checkpoint.exists():
            if not resume:
                raise UsageError(f"{self.checkpoint} exists: pass --resume to continue it, or remove {self.exp_dir}")
            state = _restore(self.checkpoint, self.config, self.spec, self.schedule.learning_rate, device)
            log.info("resuming %s after epoch %d", self.exp_dir, state.epoch)
            return state
        if self.placement.is_main:
            save_config(self.config, self.exp_dir / "config.yaml")
        model = model.to(device)
        return TrainingState(model, torch.optim.Adam(model.parameters(), lr=self.schedule.learning_rate))

    def _run_epoch(
        self, objective: torch.nn.Module, state: TrainingState, batches: Iterable[Batch], total: int
    ) -> dict[str, float]:
        epoch = state.epoch + 1
        beta = _beta(self.schedule, epoch)
        generator = _generator(self.config.seed, epoch, self.placement.device)
        objective.train()
        terms = []
        progress = tqdm(
            batches,
            desc=f"epoch {epoch}",
            total=total,
            unit="batch",
            mininterval=2.0,
            disable=not self.placement.is_main,
            leave=False,
        )
        for index, batch in enumerate(progress):
            result = objective(batch.to(self.placement.device), beta, generator)
            if not torch.isfinite(result["loss"]):
                values = _describe({name: value.item() for name, value in result.items()})
                kept = (
                    f"the last good checkpoint is kept: {self.checkpoint} (epoch {state.epoch})"
                    if state.epoch
                    else "no checkpoint was written (one is written after each epoch)"
                )
                raise TrainingDivergedError(
                    f"{self.exp_dir}: loss is {values} at epoch {epoch}, batch {index} (utterances "
                    f"{', '.join(batch.keys)}); {kept}"
                )
            state.optimizer.zero_grad()
            result["loss"].backward()
            if self.config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(state.model.parameters(), self.config.grad_clip)
            state.optimizer.step()
            terms.append({name: value.item() for name, value in result.items()})
            progress.set_postfix(loss=f"{terms[-1]['loss']:.2f}")
        return _mean_terms(terms)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, batches: Iterable[Batch]) -> dict[str, float]:
        """Dev terms with beta = 1 and fixed noise, so epochs compare."""
        objective = self.spec.objective(model).eval()
        generator = _generator(DEV_SEED, 0, self.placement.device)
        return _mean_terms(
            [
                {
                    name: value.item()
                    for name, value in objective(batch.to(self.placement.device), 1.0, generator).items()
                }
                for batch in batches
            ]
        )

    def _shard(self, sampler: MixtureSampler, epoch: int) -> Iterator[Batch]:
        """This process's batches of the epoch: every world_size-th, the same count in every process (DDP steps
        together). Every process draws all batches, so that the random draws stay the same whatever the world."""
        world = self.placement.world_size
        usable = sampler.num_batches(self.config.batch_size) // world * world
        if usable == 0:
            raise UsageError(
                f"{sampler.num_batches(self.config.batch_size)} batches per epoch cannot be shared by {world} processes"
            )
        batches = sampler.batches(self.config.seed, epoch, self.config.batch_size)
        return itertools.islice(batches, self.placement.rank, usable, world)

    def _write_epoch(self, state: TrainingState, improved: bool) -> None:
        if not self.placement.is_main:
            return
        if improved:
            save_file(self.spec.payload(state.model), self.exp_dir / "model.pt")
        save_file(_checkpoint_payload(state, self.config, self.spec), self.checkpoint)
        names = list(state.history[0])
        rows = ["\t".join(names)] + ["\t".join(f"{row[n]:.6g}" for n in names) for row in state.history]
        write_text_atomic(self.exp_dir / "history.tsv", "\n".join(rows) + "\n")
        plot_losses(state.history, self.exp_dir / "loss.png", self.schedule.title, self.spec.labels)

    def fit(
        self,
        model: torch.nn.Module,
        train: MixtureSampler,
        dev: MixtureSampler,
        resume: bool = False,
        finish: Callable[[Path], None] | None = None,
    ) -> Path:
        """Train until the epochs are spent or the dev loss stops improving; returns the model file.
        `finish(exp_dir)` runs on the main process once training ended, before the done marker (diagnostics)."""
        if is_done(self.exp_dir):
            log.info("%s is complete, nothing to do", self.exp_dir)
            return self.exp_dir / "model.pt"
        state = self._start(model, resume)
        objective: torch.nn.Module = self.spec.objective(state.model)
        if self.placement.world_size > 1:
            objective = DistributedDataParallel(objective)
        while state.epoch < self.schedule.epochs and state.bad_epochs < self.config.patience:
            started = time.time()
            total = train.num_batches(self.config.batch_size) // self.placement.world_size
            train_terms = self._run_epoch(objective, state, self._shard(train, state.epoch + 1), total)
            dev_terms = self.evaluate(state.model, dev.batches(DEV_SEED, 0, self.config.batch_size))
            state.epoch += 1
            improved = dev_terms["loss"] < state.best_dev
            state.best_dev = min(state.best_dev, dev_terms["loss"])
            state.bad_epochs = 0 if improved else state.bad_epochs + 1
            learning_rate = state.optimizer.param_groups[0]["lr"]
            _decay_on_plateau(state, self.schedule, improved)
            state.history.append(
                {
                    "epoch": state.epoch,
                    **{f"train_{k}": v for k, v in train_terms.items()},
                    **{f"dev_{k}": v for k, v in dev_terms.items()},
                    "lr": learning_rate,
                    "seconds": time.time() - started,
                }
            )
            self._write_epoch(state, improved)
            log.info(
                "epoch %d: train %s, dev %s%s, %.1f s",
                state.epoch,
                _describe(train_terms),
                _describe(dev_terms),
                " *best*" if improved else "",
                time.time() - started,
            )
        if state.bad_epochs >= self.config.patience:
            log.info("early stop: no dev improvement for %d epochs", state.bad_epochs)
        if self.placement.is_main:
            if finish is not None:
                finish(self.exp_dir)
            mark_done(self.exp_dir)
        return self.exp_dir / "model.pt"
