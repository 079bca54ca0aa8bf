"""Training configuration (conf/train_<model>.yaml): the model, the optimiser, the on-the-fly training mixtures,
and how speaker-dependent training differs. A copy is kept in exp/<model>/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field

from avvae.config import ConfigValueError, check_ranges
from avvae.models.config import ModelConfig
from avvae.training.lip_augment import LipAugmentConfig


@dataclass
class MixingConfig:
    """Training mixtures drawn on the fly: target + interfering speaker at an SIR drawn uniformly from `sir_db`
    (a [low, high] range), + noise at an SNR (below the sum of the speech) drawn from `snr_db`. Noise types in
    `exclude_noise_types` are never used, so that test mixtures can measure robustness to an unseen noise."""

    sir_db: list[float] = field(default_factory=lambda: [-5.0, 5.0])
    snr_db: list[float] = field(default_factory=lambda: [-5.0, 10.0])
    interferer_probability: float = 1.0
    noise_probability: float = 1.0
    exclude_noise_types: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("sir_db", "snr_db"):
            low_high = getattr(self, name)
            if len(low_high) != 2 or low_high[0] > low_high[1]:
                raise ConfigValueError(f"mixing.{name} must be [low, high] in dB, got {low_high}")
        check_ranges(self, {"interferer_probability": ">= 0, <= 1", "noise_probability": ">= 0, <= 1"})


@dataclass
class SpeakerDependentConfig:
    """Speaker-dependent training: fine-tuned from the SI model (`init: si`) or from scratch (`init: scratch`),
    on one speaker's utterances, a fraction of which is held out for early stopping. `segments_per_utterance`:
    segments drawn from each of the speaker's utterances per epoch (0: the SI setting), so that a speaker's
    minute or two of speech still gives an epoch of several steps. `segments_per_epoch` (0: off) instead sizes the
    epoch whatever the speaker's amount of speech: at least this many segments, at least one per utterance, so
    that one config serves a speaker with 30 utterances and one with 900."""

    init: str = "si"
    epochs: int = 20
    learning_rate: float = 1.0e-4
    dev_fraction: float = 0.2
    segments_per_utterance: int = 0
    segments_per_epoch: int = 0

    def __post_init__(self) -> None:
        if self.init not in ("si", "scratch"):
            raise ConfigValueError(f"sd.init must be 'si' or 'scratch', not {self.init!r}")
        check_ranges(
            self,
            {
                "epochs": ">= 1",
                "learning_rate": "> 0",
                "dev_fraction": "> 0, < 1",
                "segments_per_utterance": ">= 0",
                "segments_per_epoch": ">= 0",
            },
        )
        if self.segments_per_utterance and self.segments_per_epoch:
            raise ConfigValueError("sd: give segments_per_utterance or segments_per_epoch, not both")


TRAINING_MODES = ("joint", "two_stage")
TRAINING_RANGES = {  # shared by the supervised network's config
    "epochs": ">= 1",
    "batch_size": ">= 1",
    "segment_frames": ">= 1",
    "segments_per_utterance": ">= 1",
    "learning_rate": "> 0",
    "patience": ">= 1",
    "grad_clip": ">= 0",
    "num_threads": ">= 0",
    "lr_decay": "> 0, <= 1",
    "lr_patience": ">= 1",
    "min_learning_rate": "> 0",
}


@dataclass
class TrainConfig:
    """How a model is trained. `mode: joint` is the papers' training (encoder, prior and decoder together);
    `mode: two_stage` first learns the decoder with a clean-speech encoder and a N(0, I) prior for
    `decoder_epochs` (a sharp generative model), then trains the mixture (+ lips) encoder and the visual prior
    against that decoder, frozen, for `epochs`. The learning rate is multiplied by `lr_decay` after `lr_patience`
    epochs without dev improvement (1.0: constant), never below `min_learning_rate`; training stops after
    `patience` such epochs. `lip_augment` changes each training segment's lip appearance at random.
    `diagnostic_utterances` dev utterances measure the model at the end (diagnostics.yaml).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    mixing: MixingConfig = field(default_factory=MixingConfig)
    lip_augment: LipAugmentConfig = field(default_factory=LipAugmentConfig)
    sd: SpeakerDependentConfig = field(default_factory=SpeakerDependentConfig)
    seed: int = 0
    epochs: int = 50
    batch_size: int = 16
    segment_frames: int = 64
    segments_per_utterance: int = 1
    learning_rate: float = 1.0e-3
    patience: int = 10
    lr_decay: float = 1.0
    lr_patience: int = 2
    min_learning_rate: float = 1.0e-5
    mode: str = "joint"
    decoder_epochs: int = 0
    diagnostic_utterances: int = 16
    kl_warmup_epochs: int = 0
    grad_clip: float = 0.0
    num_threads: int = 0

    def __post_init__(self) -> None:
        if self.mode not in TRAINING_MODES:
            raise ConfigValueError(f"training mode {self.mode!r} is not one of {', '.join(TRAINING_MODES)}")
        if self.mode == "two_stage" and (self.decoder_epochs < 1 or self.model.kind == "cvae"):
            raise ConfigValueError(
                "mode two_stage needs decoder_epochs >= 1 and a model whose decoder sees only z "
                f"(avae or avvae), got decoder_epochs {self.decoder_epochs}, kind {self.model.kind}"
            )
        check_ranges(
            self,
            {**TRAINING_RANGES, "decoder_epochs": ">= 0", "diagnostic_utterances": ">= 1", "kl_warmup_epochs": ">= 0"},
        )
