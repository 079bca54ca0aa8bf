"""From feature files to a ready training run: the samplers of the SI and SD protocols, the initial model and how
it is trained (its ModelSpec), for each part of a training: `joint` (the papers' training), or the two parts of
two-stage training, `decoder` (a clean-speech VAE with a N(0, I) prior, whose decoder is kept) and `encoder` (the
model's own encoder and prior trained against that decoder, frozen)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from avvae.config import ConfigError
from avvae.errors import UsageError
from avvae.fileio.feature_files import FeatureFileError
from avvae.models import ModelConfig, SpeechVAE, load_model
from avvae.models.files import ModelFileError
from avvae.training.config import TrainConfig
from avvae.training.data import MixtureSampler, Utterance, load_utterances
from avvae.training.objective import VaeObjective
from avvae.training.trainer import VAE, ModelSpec, Schedule

DECODER_DIR = "decoder"  # the decoder part's exp dir, inside the model's exp dir

log = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    model: torch.nn.Module
    train: MixtureSampler
    dev: MixtureSampler
    schedule: Schedule
    spec: ModelSpec


def model_spec(part: str) -> ModelSpec:
    """How each part trains a SpeechVAE: `decoder` sees clean speech, `encoder` keeps the decoder frozen."""
    objective = {
        "joint": VaeObjective,
        "decoder": functools.partial(VaeObjective, encoder_input="clean"),
        "encoder": functools.partial(VaeObjective, freeze_decoder=True),
    }[part]
    return dataclasses.replace(VAE, objective=objective)


def si_start(init: Path, part: str) -> Path:
    """The SI model file that a part of SD training starts from, given the SI model `init`."""
    return init.parent / DECODER_DIR / "model.pt" if part == "decoder" else init


def parts(config: TrainConfig) -> list[str]:
    """The parts of a training, in order."""
    return ["decoder", "encoder"] if config.mode == "two_stage" else ["joint"]


def _part_model_config(config: TrainConfig, part: str) -> ModelConfig:
    """The decoder part learns an audio-only VAE (prior N(0, I)) of the same audio sizes; the lip settings, which
    it has no use for, stay at their defaults, so that A-VAE and AV-VAE decoder parts are the same model."""
    if part != "decoder":
        return config.model
    model = config.model
    return ModelConfig(
        kind="avae",
        num_freqs=model.num_freqs,
        latent_dim=model.latent_dim,
        hidden_dim=model.hidden_dim,
        log_floor=model.log_floor,
    )


def _schedule(config: TrainConfig, part: str, title: str, epochs: int, learning_rate: float) -> Schedule:
    return Schedule(
        epochs,
        learning_rate,
        f"{title} ({part} part)" if part != "joint" else title,
        config.kl_warmup_epochs,
        config.lr_decay,
        config.lr_patience,
        config.min_learning_rate,
    )


def _sampler(
    config: TrainConfig,
    targets: list[Utterance],
    interferers: list[Utterance],
    noises: list[Utterance],
    repeats: int,
    augment: bool = False,
) -> MixtureSampler:
    return MixtureSampler(
        targets,
        interferers,
        noises,
        config.mixing,
        config.segment_frames,
        repeats,
        config.lip_augment if augment else None,
    )


def _fresh_model(
    config: TrainConfig, sampler: MixtureSampler, part: str = "joint", decoder: Path | None = None
) -> SpeechVAE:
    """A new model whose encoder input statistics and decoder output bias come from the first epoch's data
    (accumulated batch by batch, so a large corpus is never held in memory at once). For the encoder part the
    decoder is the one learnt by the decoder part (file `decoder`)."""
    torch.manual_seed(config.seed)
    model = SpeechVAE(_part_model_config(config, part))
    source = "clean" if part == "decoder" or model.config.encoder_input == "clean" else "mixture"
    count, total, squares, clean_power = 0, 0.0, 0.0, 0.0
    for batch in sampler.batches(config.seed, 0, config.batch_size):
        log_power = model.log_power(getattr(batch, source)[batch.mask]).double()
        count += len(log_power)
        total, squares = total + log_power.sum(0), squares + log_power.square().sum(0)
        clean_power = clean_power + batch.clean[batch.mask].double().sum(0)
    mean = total / count
    model.set_input_statistics(mean.float(), (squares / count - mean.square()).clamp_min(0).sqrt().float())
    model.set_output_bias(model.log_power((clean_power / count).float()))
    if part == "encoder":
        _start_from_decoder_part(model, _load_decoder_part(decoder, config))
    return model


def _start_from_decoder_part(model: SpeechVAE, clean_vae: SpeechVAE) -> None:
    """The decoder part's decoder, and its clean-speech encoder as the starting point of the encoder's audio
    inputs (the lip inputs start at zero): at first the encoder reads the mixture as if it were clean."""
    model.decoder.load_state_dict(clean_vae.decoder.state_dict())
    with torch.no_grad():
        first, clean_first = model.encoder.hidden[0], clean_vae.encoder.hidden[0]
        audio = clean_first.in_features
        # same pre-activation for the same log-power under the mixture's input normalisation
        first.weight[:, :audio] = clean_first.weight * (model.input_std / clean_vae.input_std)[None, :]
        first.weight[:, audio:] = 0.0
        shift = (model.input_mean - clean_vae.input_mean) / clean_vae.input_std
        first.bias.copy_(clean_first.bias + clean_first.weight @ shift)
        model.encoder.mu.load_state_dict(clean_vae.encoder.mu.state_dict())
        model.encoder.logvar.load_state_dict(clean_vae.encoder.logvar.state_dict())


def _load_decoder_part(path: Path | None, config: TrainConfig) -> SpeechVAE:
    if path is None:
        raise UsageError("the encoder part of two-stage training needs the decoder part's model file")
    model = load_model(path)
    if model.config != _part_model_config(config, "decoder"):
        raise ModelFileError(f"{path}: its model config is not the decoder part of the training config's model")
    return model


def training_noises(config: TrainConfig, noise: Path) -> list[Utterance]:
    """The noise recordings training may use: those whose type (utt2spk of the noise dir) is not excluded."""
    excluded = set(config.mixing.exclude_noise_types)
    every = load_utterances(noise, lips=False)
    unknown = sorted(excluded - {u.speaker for u in every})
    if unknown:  # a typo would silently let the "unseen" noise into training
        raise ConfigError(
            f"mixing.exclude_noise_types: {', '.join(unknown)} is not a noise type of {noise} "
            f"(its types: {', '.join(sorted({u.speaker for u in every}))})"
        )
    noises = [u for u in every if u.speaker not in excluded]
    if not noises:
        raise ConfigError(f"{noise}: every noise type is in mixing.exclude_noise_types ({', '.join(sorted(excluded))})")
    return noises


def speaker_independent(
    config: TrainConfig, train: Path, dev: Path, noise: Path, part: str = "joint", decoder: Path | None = None
) -> TrainingRun:
    """SI: targets and interferers from all training speakers; dev mixtures from the dev speakers. `part` and
    `decoder` (the decoder part's model file, for the encoder part) select a part of two-stage training."""
    lips = _part_model_config(config, part).uses_lips  # the decoder part reads no lips
    targets, dev_targets = load_utterances(train, lips=lips), load_utterances(dev, lips=lips)
    noises = training_noises(config, noise)
    sampler = _sampler(config, targets, targets, noises, config.segments_per_utterance, augment=True)
    dev_sampler = _sampler(config, dev_targets, dev_targets + targets, noises, 1)
    speakers = len({u.speaker for u in targets})
    log.info("SI training: %d utterances of %d speakers, %d dev utterances", len(targets), speakers, len(dev_targets))
    epochs = config.decoder_epochs if part == "decoder" else config.epochs
    return TrainingRun(
        _fresh_model(config, sampler, part, decoder),
        sampler,
        dev_sampler,
        _schedule(config, part, f"{config.model.kind} SI", epochs, config.learning_rate),
        model_spec(part),
    )


def speaker_dependent(
    config: TrainConfig,
    train: Path,
    speaker: str,
    interferers: Path,
    noise: Path,
    init: Path | None,
    part: str = "joint",
    decoder: Path | None = None,
) -> TrainingRun:
    """SD: one speaker's utterances (the last `sd.dev_fraction` of them held out for early stopping),
    interferers from the SI training speakers; fine-tuned from the SI model `init` when `sd.init` is "si".
    Two-stage parts: the decoder part fine-tunes the SI decoder part (`init`'s folder/decoder/model.pt) on the
    speaker's clean speech; the encoder part fine-tunes `init` with the SD decoder (`decoder`) in place, frozen."""
    lips = _part_model_config(config, part).uses_lips  # the decoder part reads no lips
    own = load_utterances(train, speakers={speaker}, lips=lips)
    held_out = max(1, round(config.sd.dev_fraction * len(own)))
    if len(own) <= held_out:
        raise FeatureFileError(
            f"{train}: speaker {speaker} has {len(own)} utterance(s), too few to hold out a dev part"
        )
    targets, dev_targets = own[:-held_out], own[-held_out:]
    others = load_utterances(interferers, lips=False)
    noises = training_noises(config, noise)
    repeats = config.sd.segments_per_utterance or config.segments_per_utterance
    if config.sd.segments_per_epoch:
        repeats = math.ceil(config.sd.segments_per_epoch / len(targets))
    sampler = _sampler(config, targets, others, noises, repeats, augment=True)
    dev_sampler = _sampler(config, dev_targets, others, noises, repeats)
    if config.sd.init == "si":
        if init is None:
            raise UsageError("sd.init is 'si': give the SI model with --init")
        source = si_start(init, part)
        model = load_model(source).train().requires_grad_(True)
        if model.config != _part_model_config(config, part):
            raise ModelFileError(f"{source}: its model config differs from the training config's model section")
        if part == "encoder":
            model.decoder.load_state_dict(_load_decoder_part(decoder, config).decoder.state_dict())
    else:
        model = _fresh_model(config, sampler, part, decoder)
    log.info(
        "SD training of %s: %d utterances, %d held out for dev, init %s",
        speaker,
        len(targets),
        len(dev_targets),
        init if config.sd.init == "si" else "scratch",
    )
    schedule = _schedule(config, part, f"{config.model.kind} SD {speaker}", config.sd.epochs, config.sd.learning_rate)
    return TrainingRun(model, sampler, dev_sampler, schedule, model_spec(part))
