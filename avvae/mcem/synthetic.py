"""Synthetic mixtures drawn from speaker VAEs' own generative process, for tests and the MCEM benchmark: speaker
models with hand-set decoders (distinct spectral envelopes, frame-varying patterns), z ~ N(0, I),
s ~ N_c(0, sigma2(z)), noise ~ N_c(0, W0 H0) from a low-rank NMF; encoders fitted to predict z from the mixture."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from avvae.models import ModelConfig, SpeechVAE


@dataclass
class SyntheticMixture:
    """Mixture STFT [N, F], the sources [J, N, F], the noise [N, F] and the true latents [J, N, L]."""

    stft: torch.Tensor
    sources: torch.Tensor
    noise: torch.Tensor
    latents: torch.Tensor


def speaker_model(
    seed: int,
    num_freqs: int = 64,
    latent_dim: int = 4,
    hidden_dim: int = 32,
    kind: str = "avae",
    lip_size: int = 8,
    contrast: float = 1.0,
) -> SpeechVAE:
    """A VAE whose decoder gives speaker `seed` its own envelope (a bump centred at frequency seed * 0.618 mod 1,
    so that consecutive seeds differ) and z-dependent patterns spanning tens of dB, like speech. `contrast` scales
    the patterns' log-variances: at 1, half the bins lie over 100 dB below the mean power, far beyond what the
    model's log_floor (1e-4) lets a latent fit follow (avvae.models.latent_fit); at 0.25 they stay within 60 dB."""
    config = ModelConfig(
        kind=kind,
        num_freqs=num_freqs,
        latent_dim=latent_dim,
        hidden_dim=hidden_dim,
        lip_size=lip_size,
        lip_hidden=16,
        lip_embedding=8,
        lip_context=1,
    )
    generator = torch.Generator().manual_seed(seed)
    model = SpeechVAE(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))
        hidden, out = model.decoder[0], model.decoder[2]
        # Scaled with the layer widths so that published sizes keep the patterns of the small test models.
        hidden.weight.copy_(1.5 * (4 / latent_dim) ** 0.5 * torch.randn(hidden.weight.shape, generator=generator))
        out.weight.copy_(2.0 * contrast * (32 / hidden_dim) ** 0.5 * torch.randn(out.weight.shape, generator=generator))
        bins = torch.linspace(0.0, 1.0, num_freqs)
        centre = (seed * 0.618034) % 1.0
        out.bias.copy_(-8.0 * (bins - centre).abs())
        # Unit mean power under the prior, so that speakers mixed at equal gains are at equal levels.
        out.bias.sub_(torch.log(model.decode(torch.randn(1024, latent_dim, generator=generator), None).mean()))
    return model.eval()


def sample_mixture(
    models: list[SpeechVAE], frames: int, noise_level: float, generator: torch.Generator, noise_rank: int = 2
) -> SyntheticMixture:
    """x = sum_j s_j + b with z_j ~ N(0, I), s_j ~ N_c(0, sigma2_j(z_j)) and b ~ N_c(0, W0 H0), the noise scaled to
    `noise_level` times the mean speech power (audio-only models: the decoder needs no context)."""
    freqs, latent = models[0].config.num_freqs, models[0].config.latent_dim
    with torch.no_grad():
        latents = torch.randn(len(models), frames, latent, generator=generator)
        variances = torch.stack([model.decode(z[None], None)[0] for model, z in zip(models, latents)])
        sources = complex_gaussian(variances, generator)
        noise_variance = torch.rand(freqs, noise_rank, generator=generator) @ torch.rand(
            noise_rank, frames, generator=generator
        )
        noise_variance = noise_variance.T * noise_level * variances.mean() / noise_variance.mean()
        noise = complex_gaussian(noise_variance, generator)
    return SyntheticMixture(sources.sum(0) + noise, sources, noise, latents)


def complex_gaussian(variance: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Circular complex Gaussian samples of the given variance."""
    real = torch.randn(variance.shape, generator=generator)
    imag = torch.randn(variance.shape, generator=generator)
    return torch.complex(real, imag) * (variance / 2).sqrt()


def fit_encoders(
    models: list[SpeechVAE], steps: int, generator: torch.Generator, frames: int = 256, noise_level: float = 0.1
) -> None:
    """Train each model's encoder mean to predict its speaker's z from the mixture's power (Adam, MSE), so MCEM
    starts where a trained encoder would put it. Input statistics are set from the mixtures first."""
    mixture = sample_mixture(models, 4 * frames, noise_level, generator)
    log_power = models[0].log_power(mixture.stft.abs().square())
    for model in dict.fromkeys(models):
        model.set_input_statistics(log_power.mean(0), log_power.std(0))
    optimisers = {id(model): torch.optim.Adam(model.encoder.parameters(), lr=1e-2) for model in models}
    for _ in range(steps):
        mixture = sample_mixture(models, frames, noise_level, generator)
        power = mixture.stft.abs().square()[None]
        for model, latents in zip(models, mixture.latents):
            mean, _ = model.encode(power, None)
            loss = (mean[0] - latents).square().mean()
            optimisers[id(model)].zero_grad()
            loss.backward()
            optimisers[id(model)].step()
    for model in models:
        model.requires_grad_(False)
