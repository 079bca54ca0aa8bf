"""MCEM settings (conf/mcem.yaml): every key defaults to the published value (docs/design.md,
"Mixture model at separation time")."""

from __future__ import annotations

from dataclasses import dataclass

from avvae.config import ConfigValueError, check_ranges

SCANS = ("in_turn", "joint")
SAMPLERS = ("mh", "mala", "variational")
INITS = ("encoder", "prior")
# Optimal random-walk acceptance runs from 0.234 (many dimensions) to 0.44 (one dimension) (Roberts, Gelman and
# Gilks 1997; Roberts and Rosenthal 2001); each proposal moves one speaker's L-dimensional latent of one frame.
TARGET_ACCEPTANCE = (0.2, 0.45)


@dataclass
class McemConfig:
    """Monte Carlo EM for x = sum_j sqrt(g_j) s_j + b, b ~ N_c(0, WH).

    iterations: EM iterations. draws / burn_in: Metropolis-Hastings draws per E-step and how many are discarded
    (the chain is warm-started from the previous iteration). proposal_std: random-walk step eps (eps^2 = 0.01).
    noise_rank: K of the noise NMF. final_draws / final_burn_in: the fresh chain whose average gives the Wiener
    filters. sqrt_updates: raise each multiplicative ratio to the power 1/2 (the published code's safer step).
    floor: lower bound of W, H, g and of the mixture variance V. scan: "in_turn" accepts each speaker's proposal
    in turn given the others' current state (Metropolis-within-Gibbs; all proposals still share one decoder pass),
    "joint" accepts all speakers' proposals together per frame. seed: seeds each utterance's own generator, so an
    utterance gives the same result alone or in a batch. device: where the models and tensors live. threads: torch
    intra-op threads per process (1, the default: MCEM's small operations run fastest on one thread a job, and a core
    that another program takes then costs its share of the time, where torch's threads would wait for each other and
    slow 20-30 times; 0: torch's own setting, a thread per core).
    log_every: iterations between INFO log lines.
    sampler: the E-step, "mh" (published random-walk Metropolis-Hastings), "mala" (Langevin proposals with step
    proposal_std, all speakers jointly) or "variational" (a Gaussian q per frame fitted by `variational_steps` Adam
    steps of rate `variational_lr`, then draws - burn_in draws from it, decoded in one call).
    chains: K independent MH chains stepped together (one decoder pass per draw for all); each runs
    ceil(draws / K) draws and discards burn_in // K, so the sequential chain is K times shorter for about the same
    number of kept draws. 1 (default) is the published single chain; K > 1 changes the results (a speed switch for
    wide hardware, reported with its SDR by local/bench_mcem.py).
    init: where each speaker's latents start, "encoder" (published: the encoder mean from the mixture and the
    speaker's lips) or "prior" (the visual prior's mean p(z | v_j), as the CVAE line of work, Sadeghi et al. 2020,
    whose encoder saw clean speech in training). For the audio-only model the prior mean is 0 in every frame; that is
    allowed: a start that knows nothing of the mixture, as symmetric between speakers sharing an SI A-VAE as that
    model's encoder start (which sees only the mixture), and scoring takes the best permutation anyway.
    adapt_step: adapt the MH random-walk step during burn-in (sampler mh only); false is the published fixed
    eps = proposal_std. Each speaker's step in each frame (and chain) starts at proposal_std and, after every
    burn-in draw, moves as log eps += adapt_rate * (accepted - target_acceptance) (Robbins-Monro); it is frozen
    for the kept draws, so they come from a fixed kernel, and carried to the next E-step and the final chain.
    target_acceptance: the acceptance rate the adaptation aims at, in [0.2, 0.45]. adapt_rate: its gain per draw.
    tolerance: stop before `iterations` once the log-likelihood's relative change over the last
    `tolerance_window` iterations is below it (avvae.mcem.convergence; a batch stops when all its mixtures have);
    0 (default) is off, the published fixed iteration count. `iterations` stays the upper bound.
    prior_adaptation_frames: w > 0 adapts each speaker's prior to its voice after every variational E-step (the mean
    moved by the posterior's precision-weighted offset averaged over frames n - w .. n + w, the variance rescaled per
    dimension; avvae.mcem.prior_adaptation); 0 (default, published) keeps the visual prior as it is.
    latent_smoothness: lambda > 0 adds a Gaussian random walk -lambda/2 |z_n - z_(n-1)|^2 between each speaker's
    consecutive latents to the variational ELBO; 0 (default, published) leaves the frames independent.
    noise_smoothing_frames: w > 0 replaces the noise activations H by their moving average over frames n - w .. n + w
    after every M-step (the noise varies slowly; also in the oracle-latent row's M-steps); 0 (default, published)
    leaves H free in every frame.
    speaker_colour: true gives each speaker a spectral colour c_jf, constant over the utterance and fitted in every
    M-step (also the oracle-latent row's), that multiplies its decoded variances: what a speaker-independent decoder
    cannot know of one voice's (and one channel's) long-term spectrum; false (default, published) is c = 1.
    colour_smoothing_bins: w > 0 averages the colour over frequency bins f - w .. f + w after each update; needs
    speaker_colour.
    """

    iterations: int = 100
    draws: int = 40
    burn_in: int = 30
    proposal_std: float = 0.1
    noise_rank: int = 10
    final_draws: int = 100
    final_burn_in: int = 75
    sqrt_updates: bool = True
    floor: float = 1.0e-10
    scan: str = "in_turn"
    seed: int = 0
    device: str = "cpu"
    threads: int = 1
    log_every: int = 10
    sampler: str = "mh"
    variational_steps: int = 5
    variational_lr: float = 0.05
    chains: int = 1
    init: str = "encoder"
    adapt_step: bool = False
    target_acceptance: float = 0.3
    adapt_rate: float = 0.05
    tolerance: float = 0.0
    tolerance_window: int = 5
    prior_adaptation_frames: int = 0
    latent_smoothness: float = 0.0
    noise_smoothing_frames: int = 0
    speaker_colour: bool = False
    colour_smoothing_bins: int = 0

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ConfigValueError(f"mcem sampler {self.sampler!r} is not one of {', '.join(SAMPLERS)}")
        if self.scan not in SCANS:
            raise ConfigValueError(f"mcem scan {self.scan!r} is not one of {', '.join(SCANS)}")
        if self.init not in INITS:
            raise ConfigValueError(f"mcem init {self.init!r} is not one of {', '.join(INITS)}")
        if self.adapt_step and self.sampler != "mh":
            raise ConfigValueError(f"mcem adapt_step needs the mh sampler (a random-walk step), not {self.sampler!r}")
        low, high = TARGET_ACCEPTANCE
        if not low <= self.target_acceptance <= high or self.adapt_rate <= 0:
            raise ConfigValueError(
                f"mcem target_acceptance must be in [{low}, {high}] and adapt_rate > 0, got "
                f"{self.target_acceptance} and {self.adapt_rate}"
            )
        for name, draws, burn_in in (("", self.draws, self.burn_in), ("final_", self.final_draws, self.final_burn_in)):
            if not 0 <= burn_in < draws:
                raise ConfigValueError(f"mcem {name}burn_in must be in [0, {name}draws), got {burn_in} of {draws}")
        for name in ("prior_adaptation_frames", "latent_smoothness"):
            if getattr(self, name) and self.sampler != "variational":
                raise ConfigValueError(
                    f"mcem {name} needs the variational sampler (a posterior mean per frame), not {self.sampler!r}"
                )
        if self.colour_smoothing_bins and not self.speaker_colour:
            raise ConfigValueError("mcem colour_smoothing_bins needs speaker_colour: true (no colour to smooth)")
        if self.chains < 1 or (self.chains > 1 and self.sampler != "mh"):
            raise ConfigValueError(f"mcem chains must be >= 1, and 1 unless the sampler is mh, got {self.chains}")
        check_ranges(
            self,
            {
                "iterations": ">= 0",
                "noise_rank": ">= 1",
                "proposal_std": "> 0",
                "floor": "> 0",
                "threads": ">= 0",
                "log_every": ">= 1",
                "variational_steps": ">= 1",
                "variational_lr": "> 0",
                "tolerance": ">= 0, < 1",
                "tolerance_window": ">= 1",
                "prior_adaptation_frames": ">= 0",
                "latent_smoothness": ">= 0",
                "noise_smoothing_frames": ">= 0",
                "colour_smoothing_bins": ">= 0",
            },
        )

    def schedule(self, draws: int, burn_in: int) -> tuple[int, int, int]:
        """(draws, burn-in) of each chain and the number of draws kept over all chains."""
        per_chain, discarded = -(-draws // self.chains), burn_in // self.chains
        return per_chain, discarded, self.chains * (per_chain - discarded)

    @property
    def power(self) -> float:
        """Exponent of the multiplicative updates."""
        return 0.5 if self.sqrt_updates else 1.0
