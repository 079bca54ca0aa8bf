"""The "oracle latent" reference row: MCEM's mixture model and Wiener filter, with each speaker's latents fitted to
that speaker's true clean source instead of inferred from the mixture. It measures model error apart from MCEM's
inference error (docs/design.md, "Reference rows"), as the ideal ratio mask (avvae.separation.oracle) bounds every
method.

For each speaker j: z_j = avvae.models.latent_fit.fit_latent(model_j, |s_j|^2, context_j) (the decoder's best
latent per frame for the clean source), sigma2_j = sigma2(z_j) decoded and clamped as in MCEM. Then, with those
speech variances fixed, the noise NMF W, H, the gains g (and the speakers' colours, with `speaker_colour`) are
fitted to the mixture by MCEM's own M-step updates (its initialisation, `iterations`, `noise_rank`,
`noise_smoothing_frames`, `colour_smoothing_bins`, `sqrt_updates`, `floor`, `seed`), and the same Wiener filters
share the mixture out. So the row differs from MCEM only in where the latents come from:
- the noise variance is the NMF fit, not the true noise power |b|^2, which would be exact in every bin (an oracle
  mask for the noise) while the speech gets only its model's variance;
- the gains are fitted, not fixed at 1: the references are at the mixture's scale, so g = 1 would be the decoder's
  own scale, but MCEM with perfect latents would still fit g, and fitting it takes nothing from the references.
"""

from __future__ import annotations

from typing import Callable

import torch

from avvae.mcem.config import McemConfig
from avvae.mcem.problem import Problem
from avvae.mcem.separate import configured_m_step, initial_params
from avvae.mcem.wiener import WienerAverage
from avvae.models import SpeechVAE
from avvae.models.latent_fit import fit_latent
from avvae.separation.decode import Method, Mixture, Separation


def oracle_latents(problem: Problem, sources: torch.Tensor) -> torch.Tensor:
    """Each speaker's latents [J, 1, N, L] fitted to its clean source STFT (sources [J, N, F]) with its own model
    and visual context: one fit per distinct model (speakers sharing a model are fitted together)."""
    num_speakers, batch, frames, _ = problem.shape
    if batch != 1 or sources.shape != (num_speakers, frames, problem.shape[-1]):
        raise ValueError(
            f"oracle latents need one mixture's sources [{num_speakers}, {frames}, {problem.shape[-1]}],"
            f" got {tuple(sources.shape)}"
        )
    power = sources.to(problem.power.device, torch.complex64).abs().square()
    latents: torch.Tensor | None = None
    for group in problem.groups:
        z = fit_latent(group.model, power[group.tracks], group.context)
        if latents is None:
            latents = z.new_zeros(num_speakers, frames, z.shape[-1])
        latents[group.tracks] = z
    return latents[:, None]


def separation_at(problem: Problem, z: torch.Tensor, config: McemConfig) -> Separation:
    """MCEM's Wiener estimates of one mixture's speakers [J, N, F] and noise [N, F] with the speech variances fixed
    at the latents z [J, 1, N, L]: W, H and g start as in MCEM and take `iterations` M-steps on that one "draw"."""
    with torch.no_grad():
        speech = problem.decode(z, config.floor)[None]  # [1, J, 1, N, F]
        params = initial_params(
            problem, [torch.Generator(device=problem.power.device).manual_seed(config.seed)], config
        )
        for _ in range(config.iterations):
            params = configured_m_step(speech, params, problem, config)
        wiener = WienerAverage(params, config.floor)
        wiener.keep(speech[0])
        estimates, noise = wiener.apply(problem.stft)
    return Separation(estimates[:, 0].cpu(), noise[0].cpu())


def oracle_latent_separation(
    x_stft: torch.Tensor,
    sources: torch.Tensor,
    lips: list[torch.Tensor | None],
    models: list[SpeechVAE],
    config: McemConfig,
) -> Separation:
    """Estimates of each speaker [J, N, F] and of the noise [N, F] of the mixture x_stft [N, F] at the latents
    fitted to the clean sources [J, N, F] (lips: one [N, H, W] or None per speaker)."""
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    with torch.no_grad():
        problem = Problem([x_stft], [lips], [models], torch.device(config.device))
    return separation_at(problem, oracle_latents(problem, sources), config)


def oracle_latent_method(models_for_speakers: Callable[[list[str]], list[SpeechVAE]], config: McemConfig) -> Method:
    """A Method (avvae.separation.decode) for the oracle-latent row, reading each mixture's references (Mixture.sources,
    at the feature scale) and choosing models as `mcem_method` does. Outputs are on the CPU."""

    def method(mixture: Mixture) -> Separation:
        models = models_for_speakers(mixture.speakers)
        if len(models) != len(mixture.speakers) or len(mixture.sources) != len(mixture.speakers):
            raise ValueError(
                f"{mixture.key}: {len(models)} models and {len(mixture.sources)} references for "
                f"{len(mixture.speakers)} speakers"
            )
        lips = [lips if model.config.uses_lips else None for lips, model in zip(mixture.lips, models)]
        return oracle_latent_separation(mixture.stft, mixture.sources, lips, models, config)

    return method
