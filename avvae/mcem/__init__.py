"""Monte Carlo EM separation with per-speaker VAEs and an NMF noise model (docs/design.md, "Mixture model at
separation time")."""

from avvae.mcem.config import McemConfig
from avvae.mcem.method import mcem_method
from avvae.mcem.oracle_latent import oracle_latent_method
from avvae.mcem.separate import IterationLog, McemResult, run_mcem, run_mcem_batch, separate

__all__ = [
    "IterationLog",
    "McemConfig",
    "McemResult",
    "mcem_method",
    "oracle_latent_method",
    "run_mcem",
    "run_mcem_batch",
    "separate",
]
