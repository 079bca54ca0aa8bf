"""Monte Carlo EM separation (docs/design.md, "Mixture model at separation time") of one mixture or a padded batch.

1. z_j <- encoder mean from (|x|^2, v_j) (or, with init: prior, the prior mean of p(z | v_j)); W, H seeded uniform
   (floored); g = 1 (and each speaker's colour c = 1 with speaker_colour).
2-4. `iterations` times: E-step (MH chain, `draws` draws, `burn_in` discarded, the step adapted during burn-in with
   adapt_step; or the variational posterior's refit, then each speaker's prior adapted to it with
   prior_adaptation_frames), M-step on the kept variances (the noise activations smoothed over time with
   noise_smoothing_frames, the colours over frequency with colour_smoothing_bins); with a `tolerance`, fewer once
   the log-likelihood has settled.
5. A fresh chain (`final_draws`, `final_burn_in`) from the last state; Wiener filters averaged over it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import torch

from avvae.mcem.config import McemConfig
from avvae.mcem.convergence import has_converged
from avvae.mcem.m_step import Params, log_likelihood, m_step, mixture_variance
from avvae.mcem.prior_adaptation import PriorAdaptation
from avvae.mcem.problem import Problem
from avvae.mcem.sampler import ChainState, StepAdaptation, run_chain
from avvae.mcem.variational import VariationalPosterior
from avvae.mcem.wiener import WienerAverage
from avvae.models import SpeechVAE
from avvae.separation.decode import Separation

log = logging.getLogger(__name__)


@dataclass
class IterationLog:
    """One EM iteration: acceptance rate per speaker [J], the log-likelihood averaged over the kept draws, and its
    wall-clock seconds (E- and M-step, shared by the mixtures of a batch)."""

    iteration: int
    acceptance: list[float]
    log_likelihood: float
    seconds: float


@dataclass
class McemResult:
    """A mixture's estimates, its fitted parameters (W [F, K], H [K, N], g [J, N], the speakers' colours [J, F] or
    None), the per-iteration log and whether the run stopped early on the convergence tolerance."""

    separation: Separation
    W: torch.Tensor
    H: torch.Tensor
    g: torch.Tensor
    history: list[IterationLog] = field(default_factory=list)
    converged: bool = False
    colour: torch.Tensor | None = None

    @property
    def iterations(self) -> int:
        """EM iterations run."""
        return len(self.history)


def initial_params(problem: Problem, generators: list[torch.Generator], config: McemConfig) -> Params:
    """W, H uniform in [0, 1) floored, from each utterance's generator; g = 1 (H and g zero past the end)."""
    num_speakers, batch, frames, freqs = problem.shape
    device = problem.power.device
    W = torch.empty(batch, freqs, config.noise_rank, device=device)
    H = torch.full((batch, config.noise_rank, frames), config.floor, device=device)
    for b, (length, generator) in enumerate(zip(problem.lengths, generators)):
        W[b] = torch.rand(freqs, config.noise_rank, generator=generator, device=device)
        H[b, :, :length] = torch.rand(config.noise_rank, length, generator=generator, device=device)
    g = torch.ones(num_speakers, batch, frames, device=device)
    colour = torch.ones(num_speakers, batch, freqs, device=device) if config.speaker_colour else None
    return Params(W.clamp_min(config.floor), H.clamp_min(config.floor), g, colour)


def configured_m_step(samples: torch.Tensor, params: Params, problem: Problem, config: McemConfig) -> Params:
    """MCEM's M-step (avvae.mcem.m_step) on the kept draws [R, J, B, N, F] with the config's settings."""
    return m_step(
        samples,
        params,
        problem.power,
        problem.mask,
        config.power,
        config.floor,
        config.noise_smoothing_frames,
        config.colour_smoothing_bins,
    )


class _Samples:
    """The kept draws of one E-step, copied into one buffer [R, J, B, N, F] reused across iterations (the chain
    updates its state in place), with their per-frame log-likelihoods [B, N] where the sampler has them."""

    def __init__(self) -> None:
        self.buffer: torch.Tensor | None = None
        self.count = 0
        self.likelihoods: list[torch.Tensor | None] = []

    def start(self, draws: int, shape: tuple[int, ...], device: torch.device) -> None:
        if self.buffer is None or self.buffer.shape != (draws, *shape):
            self.buffer = torch.empty(draws, *shape, device=device)
        self.count, self.likelihoods = 0, []

    def keep(self, variance: torch.Tensor, likelihood: torch.Tensor | None = None) -> None:
        self.buffer[self.count].copy_(variance)
        self.count += 1
        self.likelihoods.append(likelihood)

    def log_likelihood(self, params: Params, problem: Problem, floor: float) -> torch.Tensor:
        """sum_fn [-log V - |x|^2 / V] over each mixture's real frames averaged over the draws, [B]: from the
        sampler's own per-frame values when it kept them, else computed afresh."""
        samples = self.buffer[: self.count]
        if any(item is None for item in self.likelihoods):
            return log_likelihood(mixture_variance(samples, params, floor), problem.power, problem.mask)
        return (torch.stack(self.likelihoods) * problem.mask).sum(-1).mean(0)


class _Estep:
    """The configured E-step: `run(params, draws, burn_in, keep)` -> acceptance [J, B] (NaN for variational)."""

    def __init__(self, problem: Problem, generators: list[torch.Generator], config: McemConfig):
        self.problem, self.generators, self.config = problem, generators, config
        z = problem.encoder_mean() if config.init == "encoder" else problem.prior_mean.clone()
        if config.chains > 1:
            z = z.expand(config.chains, *z.shape).clone()
        self.state = ChainState(z, problem.decode(z, config.floor))
        self.posterior = VariationalPosterior(z, config.proposal_std) if config.sampler == "variational" else None
        self.prior_adaptation = (
            PriorAdaptation(problem, config.prior_adaptation_frames) if config.prior_adaptation_frames > 0 else None
        )
        self.adaptation = StepAdaptation(config.target_acceptance, config.adapt_rate) if config.adapt_step else None

    def run(self, params: Params, draws: int, burn_in: int, keep) -> torch.Tensor:
        config, problem = self.config, self.problem
        if self.posterior is not None:
            self.posterior.fit(
                problem,
                params,
                config.variational_steps,
                config.variational_lr,
                self.generators,
                config.floor,
                config.latent_smoothness,
            )
            if self.prior_adaptation is not None:
                self.prior_adaptation.update(problem, self.posterior.mean, self.posterior.logvar)
            for variance in self.posterior.sample_variances(problem, draws - burn_in, self.generators, config.floor):
                keep(variance)
            return torch.full(problem.shape[:2], float("nan"))
        draws, burn_in, _ = config.schedule(draws, burn_in)
        self.state, acceptance = run_chain(
            problem,
            params,
            self.state,
            draws,
            burn_in,
            self.generators,
            config.proposal_std,
            config.scan,
            config.floor,
            keep,
            config.sampler,
            config.chains,
            self.adaptation,
        )
        return acceptance


def run_mcem_batch(
    stfts: list[torch.Tensor],
    lips: list[list[torch.Tensor | None]],
    models: list[list[SpeechVAE]],
    config: McemConfig,
) -> list[McemResult]:
    """Separate B mixtures together (padded, masked); each result equals that mixture's `run_mcem`.

    MH needs no gradients, so it runs under torch.inference_mode (less bookkeeping per operation); MALA and the
    variational E-step take gradients inside, so they run under no_grad. The results are ordinary tensors."""
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    with torch.inference_mode() if config.sampler == "mh" else torch.no_grad():
        results = _run(stfts, lips, models, config)
    return [
        McemResult(
            Separation(r.separation.sources.clone(), r.separation.noise.clone()),
            r.W.clone(),
            r.H.clone(),
            r.g.clone(),
            r.history,
            r.converged,
            None if r.colour is None else r.colour.clone(),
        )
        for r in results
    ]


def _run(stfts, lips, models, config: McemConfig) -> list[McemResult]:
    device = torch.device(config.device)
    problem = Problem(stfts, lips, models, device)
    generators = [torch.Generator(device=device).manual_seed(config.seed) for _ in stfts]
    params = initial_params(problem, generators, config)
    e_step = _Estep(problem, generators, config)
    histories: list[list[IterationLog]] = [[] for _ in stfts]
    converged = False
    samples = _Samples()
    for iteration in range(1, config.iterations + 1):
        start = time.perf_counter()
        samples.start(config.schedule(config.draws, config.burn_in)[2], problem.shape, device)
        acceptance = e_step.run(params, config.draws, config.burn_in, samples.keep)
        likelihood = samples.log_likelihood(params, problem, config.floor)
        params = configured_m_step(samples.buffer, params, problem, config)
        seconds = time.perf_counter() - start
        for b, history in enumerate(histories):
            history.append(IterationLog(iteration, acceptance[:, b].tolist(), float(likelihood[b]), seconds))
        converged = all(
            has_converged([entry.log_likelihood for entry in history], config.tolerance, config.tolerance_window)
            for history in histories
        )
        if iteration % config.log_every == 0 or iteration == config.iterations or converged:
            log.info(
                "MCEM iteration %d/%d: log-likelihood %s, acceptance %s (%.3f s)",
                iteration,
                config.iterations,
                " ".join(f"{value:.4g}" for value in likelihood.tolist()),
                " ".join(f"{value:.2f}" for value in acceptance.mean(1).tolist()),
                seconds,
            )
        if converged:
            log.info(
                "MCEM converged after %d of %d iterations (log-likelihood change over %d iterations below %g)",
                iteration,
                config.iterations,
                config.tolerance_window,
                config.tolerance,
            )
            break
    wiener = WienerAverage(params, config.floor)
    e_step.run(params, config.final_draws, config.final_burn_in, wiener.keep)
    sources, noise = wiener.apply(problem.stft)
    results = []
    for b, (length, history) in enumerate(zip(problem.lengths, histories)):
        separation = Separation(sources[:, b, :length], noise[b, :length])
        colour = None if params.colour is None else params.colour[:, b]
        results.append(
            McemResult(
                separation, params.W[b], params.H[b, :, :length], params.g[:, b, :length], history, converged, colour
            )
        )
    return results


def run_mcem(
    x_stft: torch.Tensor, lips: list[torch.Tensor | None] | None, models: list[SpeechVAE], config: McemConfig
) -> McemResult:
    """Separate one mixture STFT [N, F] into len(models) speakers (lips: one [N, H, W] or None per speaker)."""
    if x_stft.ndim != 2:
        raise ValueError(f"expected a mixture STFT [frames, bins], got shape {tuple(x_stft.shape)}")
    if not models:
        raise ValueError("MCEM needs at least one speaker model")
    lips = [None] * len(models) if lips is None else list(lips)
    if len(lips) != len(models):
        raise ValueError(f"{len(lips)} lip streams for {len(models)} speaker models")
    return run_mcem_batch([x_stft], [lips], [models], config)[0]


def separate(
    x_stft: torch.Tensor, lips: list[torch.Tensor | None] | None, models: list[SpeechVAE], config: McemConfig
) -> Separation:
    """MCEM estimates of each speaker [J, N, F] and of the noise [N, F] (complex64, on config.device)."""
    return run_mcem(x_stft, lips, models, config).separation
