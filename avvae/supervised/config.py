"""Configuration of the supervised baseline (conf/train_supervised.yaml): the mask network's sizes, the optimiser
and the on-the-fly training mixtures (the VAEs' `mixing` section). A copy is kept in exp/<model>/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field

from avvae.config import check_ranges
from avvae.models.config import ModelConfig
from avvae.training.config import TRAINING_RANGES, MixingConfig
from avvae.training.lip_augment import LipAugmentConfig


@dataclass
class MaskNetConfig:
    """audio_dim: width of the per-frame projection of the mixture's normalised log-power; lip_*: the lip encoder
    (as in the VAEs' model section); hidden_dim and layers: the BLSTM over frames (units per direction);
    log_floor: added to powers before the log."""

    num_freqs: int = 513
    audio_dim: int = 256
    lip_size: int = 67
    lip_hidden: int = 512
    lip_embedding: int = 128
    lip_context: int = 2
    hidden_dim: int = 128
    layers: int = 2
    log_floor: float = 1.0e-4

    def __post_init__(self) -> None:
        check_ranges(
            self,
            {
                "num_freqs": ">= 2",
                "audio_dim": ">= 1",
                "lip_size": ">= 1",
                "lip_hidden": ">= 1",
                "lip_embedding": ">= 1",
                "lip_context": ">= 0",
                "hidden_dim": ">= 1",
                "layers": ">= 1",
                "log_floor": "> 0",
            },
        )

    def lip_encoder_config(self) -> ModelConfig:
        """The VAEs' model config with this network's lip sizes, which is what LipEncoder reads."""
        return ModelConfig(
            kind="avvae",
            lip_size=self.lip_size,
            lip_hidden=self.lip_hidden,
            lip_embedding=self.lip_embedding,
            lip_context=self.lip_context,
        )


@dataclass
class SupervisedConfig:
    model: MaskNetConfig = field(default_factory=MaskNetConfig)
    mixing: MixingConfig = field(default_factory=MixingConfig)
    lip_augment: LipAugmentConfig = field(default_factory=LipAugmentConfig)
    seed: int = 0
    epochs: int = 30
    batch_size: int = 16
    segment_frames: int = 64
    segments_per_utterance: int = 2
    learning_rate: float = 1.0e-3
    patience: int = 5
    lr_decay: float = 1.0
    lr_patience: int = 2
    min_learning_rate: float = 1.0e-5
    grad_clip: float = 5.0
    num_threads: int = 0

    def __post_init__(self) -> None:
        check_ranges(self, TRAINING_RANGES)
