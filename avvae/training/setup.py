"""From feature files to a ready training run: the samplers of the SI and SD protocols and the initial model."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from avvae.models import SpeechVAE, load_model
from avvae.training.config import TrainConfig
from avvae.training.data import MixtureSampler, Utterance, load_utterances
from avvae.training.trainer import Schedule

log = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    model: torch.nn.Module
    train: MixtureSampler
    dev: MixtureSampler
    schedule: Schedule


def _sampler(config: TrainConfig, targets: list[Utterance], interferers: list[Utterance],
             noises: list[Utterance], repeats: int) -> MixtureSampler:
    return MixtureSampler(targets, interferers, noises, config.mixing, config.segment_frames, repeats)


def _fresh_model(config: TrainConfig, sampler: MixtureSampler) -> SpeechVAE:
    """A new model whose encoder input statistics and decoder output bias come from the first epoch's data
    (accumulated batch by batch, so a large corpus is never held in memory at once)."""
    torch.manual_seed(config.seed)
    model = SpeechVAE(config.model)
    source = "clean" if config.model.encoder_input == "clean" else "mixture"
    count, total, squares, clean_power = 0, 0.0, 0.0, 0.0
    for batch in sampler.batches(config.seed, 0, config.batch_size):
        log_power = model.log_power(getattr(batch, source)[batch.mask]).double()
        count += len(log_power)
        total, squares = total + log_power.sum(0), squares + log_power.square().sum(0)
        clean_power = clean_power + batch.clean[batch.mask].double().sum(0)
    mean = total / count
    model.set_input_statistics(mean.float(), (squares / count - mean.square()).clamp_min(0).sqrt().float())
    model.set_output_bias(model.log_power((clean_power / count).float()))
    return model


def training_noises(config: TrainConfig, noise: Path) -> list[Utterance]:
    """The noise recordings training may use: those whose type (utt2spk of the noise dir) is not excluded."""
    excluded = set(config.mixing.exclude_noise_types)
    noises = [u for u in load_utterances(noise, lips=False) if u.speaker not in excluded]
    if not noises:
        raise ValueError(f"{noise}: every noise type is in mixing.exclude_noise_types ({', '.join(sorted(excluded))})")
    return noises


def speaker_independent(config: TrainConfig, train: Path, dev: Path, noise: Path) -> TrainingRun:
    """SI: targets and interferers from all training speakers; dev mixtures from the dev speakers."""
    lips = config.model.uses_lips
    targets, dev_targets = load_utterances(train, lips=lips), load_utterances(dev, lips=lips)
    noises = training_noises(config, noise)
    sampler = _sampler(config, targets, targets, noises, config.segments_per_utterance)
    dev_sampler = _sampler(config, dev_targets, dev_targets + targets, noises, 1)
    speakers = len({u.speaker for u in targets})
    log.info("SI training: %d utterances of %d speakers, %d dev utterances", len(targets), speakers, len(dev_targets))
    return TrainingRun(_fresh_model(config, sampler), sampler, dev_sampler,
                       Schedule(config.epochs, config.learning_rate, f"{config.model.kind} SI",
                                config.kl_warmup_epochs))


def speaker_dependent(config: TrainConfig, train: Path, speaker: str, interferers: Path, noise: Path,
                      init: Path | None) -> TrainingRun:
    """SD: one speaker's utterances (the last `sd.dev_fraction` of them held out for early stopping),
    interferers from the SI training speakers; fine-tuned from the SI model when `sd.init` is "si"."""
    lips = config.model.uses_lips
    own = load_utterances(train, speakers={speaker}, lips=lips)
    held_out = max(1, round(config.sd.dev_fraction * len(own)))
    if len(own) <= held_out:
        raise ValueError(f"{train}: speaker {speaker} has {len(own)} utterance(s), too few to hold out a dev part")
    targets, dev_targets = own[:-held_out], own[-held_out:]
    others = load_utterances(interferers, lips=False)
    noises = training_noises(config, noise)
    repeats = config.segments_per_utterance
    sampler = _sampler(config, targets, others, noises, repeats)
    dev_sampler = _sampler(config, dev_targets, others, noises, repeats)
    if config.sd.init == "si":
        if init is None:
            raise ValueError("sd.init is 'si': give the SI model with --init")
        model = load_model(init).train().requires_grad_(True)
        if model.config != config.model:
            raise ValueError(f"{init}: its model config differs from the training config's model section")
    else:
        model = _fresh_model(config, sampler)
    log.info("SD training of %s: %d utterances, %d held out for dev, init %s", speaker, len(targets),
             len(dev_targets), init if config.sd.init == "si" else "scratch")
    title = f"{config.model.kind} SD {speaker}"
    schedule = Schedule(config.sd.epochs, config.sd.learning_rate, title, config.kl_warmup_epochs)
    return TrainingRun(model, sampler, dev_sampler, schedule)
