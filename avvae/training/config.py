"""Training configuration (conf/train_<model>.yaml): the model, the optimiser, the on-the-fly training mixtures,
and how speaker-dependent training differs. A copy is kept in exp/<model>/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field

from avvae.models.config import ModelConfig


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


@dataclass
class SpeakerDependentConfig:
    """Speaker-dependent training: fine-tuned from the SI model (`init: si`) or from scratch (`init: scratch`),
    on one speaker's utterances, a fraction of which is held out for early stopping."""

    init: str = "si"
    epochs: int = 20
    learning_rate: float = 1.0e-4
    dev_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.init not in ("si", "scratch"):
            raise ValueError(f"sd.init must be 'si' or 'scratch', not {self.init!r}")


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    mixing: MixingConfig = field(default_factory=MixingConfig)
    sd: SpeakerDependentConfig = field(default_factory=SpeakerDependentConfig)
    seed: int = 0
    epochs: int = 50
    batch_size: int = 16
    segment_frames: int = 64
    segments_per_utterance: int = 1
    learning_rate: float = 1.0e-3
    patience: int = 10
    kl_warmup_epochs: int = 0
    grad_clip: float = 0.0
    num_threads: int = 0
