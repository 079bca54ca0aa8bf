"""MCEM as a decoding method (avvae.separation.decode.Method): models chosen by the mixture's speaker ids."""

from __future__ import annotations

import logging
from typing import Callable

from avvae.mcem.config import McemConfig
from avvae.mcem.separate import run_mcem
from avvae.models import SpeechVAE
from avvae.separation.decode import Method, Mixture, Separation

log = logging.getLogger(__name__)


def mcem_method(models_for_speakers: Callable[[list[str]], list[SpeechVAE]], config: McemConfig) -> Method:
    """A Method separating each mixture with the models `models_for_speakers(mixture.speakers)` returns: one
    speaker-dependent model per speaker, or the same speaker-independent model for all. Outputs are on the CPU.
    Each mixture's EM iteration count goes to the log (fewer than the configured one when it converged early)."""

    def method(mixture: Mixture) -> Separation:
        models = models_for_speakers(mixture.speakers)
        if len(models) != len(mixture.speakers):
            raise ValueError(f"{mixture.key}: {len(models)} models for {len(mixture.speakers)} speakers")
        lips = [lips if model.config.uses_lips else None for lips, model in zip(mixture.lips, models)]
        result = run_mcem(mixture.stft, lips, models, config)
        log.info(
            "%s: %d MCEM iterations (%s)",
            mixture.key,
            result.iterations,
            "converged" if result.converged else "the configured count",
        )
        separation = result.separation
        return Separation(separation.sources.cpu(), separation.noise.cpu())

    return method
