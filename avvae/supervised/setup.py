"""From feature files to a ready supervised training run (SI: all training speakers; dev mixtures from the dev
speakers), with the same on-the-fly mixtures as the VAEs."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from avvae.supervised.config import SupervisedConfig
from avvae.supervised.files import MASK_NET
from avvae.supervised.model import MaskNet
from avvae.training.data import MixtureSampler, load_utterances
from avvae.training.setup import TrainingRun, training_noises
from avvae.training.trainer import Schedule

log = logging.getLogger(__name__)


def _fresh_model(config: SupervisedConfig, sampler: MixtureSampler) -> MaskNet:
    """A new network whose input statistics come from the first epoch's training mixtures (accumulated batch by
    batch, so a large corpus is never held in memory at once)."""
    torch.manual_seed(config.seed)
    model = MaskNet(config.model)
    count, total, squares = 0, 0.0, 0.0
    for batch in sampler.batches(config.seed, 0, config.batch_size):
        log_power = model.log_power(batch.mixture[batch.mask]).double()
        count += len(log_power)
        total, squares = total + log_power.sum(0), squares + log_power.square().sum(0)
    mean = total / count
    model.set_input_statistics(mean.float(), (squares / count - mean.square()).clamp_min(0).sqrt().float())
    return model


def speaker_independent(config: SupervisedConfig, train: Path, dev: Path, noise: Path) -> TrainingRun:
    """SI: targets and interferers from all training speakers; dev targets mixed with dev and training speakers;
    noises of the types that `mixing.exclude_noise_types` leaves."""
    targets, dev_targets = load_utterances(train), load_utterances(dev)
    noises = training_noises(config, noise)
    sampler = MixtureSampler(
        targets,
        targets,
        noises,
        config.mixing,
        config.segment_frames,
        config.segments_per_utterance,
        config.lip_augment,
    )
    dev_sampler = MixtureSampler(dev_targets, dev_targets + targets, noises, config.mixing, config.segment_frames)
    speakers = len({u.speaker for u in targets})
    log.info(
        "supervised SI training: %d utterances of %d speakers, %d dev utterances",
        len(targets),
        speakers,
        len(dev_targets),
    )
    schedule = Schedule(
        config.epochs,
        config.learning_rate,
        "supervised mask network SI",
        0,
        config.lr_decay,
        config.lr_patience,
        config.min_learning_rate,
    )
    return TrainingRun(_fresh_model(config, sampler), sampler, dev_sampler, schedule, MASK_NET)
