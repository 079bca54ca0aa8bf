"""Model configuration (the `model:` section of conf/train_*.yaml): which VAE, and its layer sizes."""

from __future__ import annotations

from dataclasses import dataclass

from avvae.config import ConfigValueError, check_ranges

KINDS = ("avae", "avvae", "cvae")
LIP_NORMALISATIONS = ("none", "mean")


@dataclass
class ModelConfig:
    """Sizes default to the published ones (docs/design.md, "Speech models"): L = 32, hidden 128 tanh, lips
    4489 -> 512 -> 128.

    kind: "avae" (audio-only, prior N(0, I)), "avvae" (encoder on mixture + lips, visual prior) or "cvae"
    (Sadeghi et al. 2020: encoder on clean speech + lips, visual prior, decoder conditioned on the lips).
    lip_context: lip frames on each side of an STFT frame that its lip embedding sees.
    lip_normalise: "none" (published) or "mean": each sequence's mean mouth image (over its non-blank frames) is
    subtracted from every frame, so that the network sees how the mouth moves, not the face it belongs to.
    log_floor: added to powers before logs and IS ratios (features are peak-normalised, so this is about -60 dB
    re full scale per bin): the model is not asked to fit digital silence, which real recordings never have.
    """

    kind: str = "avvae"
    num_freqs: int = 513
    latent_dim: int = 32
    hidden_dim: int = 128
    lip_size: int = 67
    lip_hidden: int = 512
    lip_embedding: int = 128
    lip_context: int = 2
    lip_normalise: str = "none"
    log_floor: float = 1.0e-4

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigValueError(f"model kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.lip_normalise not in LIP_NORMALISATIONS:
            raise ConfigValueError(
                f"model lip_normalise {self.lip_normalise!r} is not one of {', '.join(LIP_NORMALISATIONS)}"
            )
        check_ranges(
            self,
            {
                "num_freqs": ">= 2",
                "latent_dim": ">= 1",
                "hidden_dim": ">= 1",
                "lip_size": ">= 1",
                "lip_hidden": ">= 1",
                "lip_embedding": ">= 1",
                "lip_context": ">= 0",
                "log_floor": "> 0",
            },
        )

    @property
    def uses_lips(self) -> bool:
        return self.kind != "avae"

    @property
    def encoder_input(self) -> str:
        """What the encoder sees in training: the mixture (A-VAE, AV-VAE) or the clean target (CVAE)."""
        return "clean" if self.kind == "cvae" else "mixture"
