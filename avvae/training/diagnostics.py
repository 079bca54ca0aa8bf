"""How good a trained speech VAE is as a variance model, measured on dev utterances before any MCEM is run.

A weak model cannot separate, so each training run ends by writing these (diagnostics.yaml and diagnostics.png):
- IS divergence per frequency bin of the clean dev speech from the variances decoded at the encoder's mean for the
  dev mixture (`recon`), at the visual prior's mean (`prior_mean`), at the best latent fitted to the clean speech
  (`best_latent`, the decoder alone), and from the best constant variance per bin (`constant`). An exact variance
  model scores Euler's gamma, 0.577, on average (the IS divergence of an exponential draw from its mean); a fit per
  frame can go below it.
- `prior_spread`: how much the decoded log-variances move (nats, standard deviation over draws of z from the
  prior, averaged over bins and frames), against `data_spread`, the frame-to-frame standard deviation of the clean
  log-powers: a decoder that barely responds to z, or a flat prior, shows a small ratio.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from avvae.fileio.atomic import atomic_path, write_text_atomic  # noqa: E402
from avvae.models.latent_fit import fit_latent, itakura_saito  # noqa: E402
from avvae.models.vae import SpeechVAE  # noqa: E402
from avvae.training.data import Batch  # noqa: E402

EXACT_MODEL_IS = 0.5772156649  # Euler's gamma: E[r - log r - 1] for r ~ Exp(1)
PRIOR_DRAWS = 8
CURVES = ("constant", "recon", "prior_mean", "best_latent")


@torch.no_grad()
def _batch_terms(
    model: SpeechVAE, batch: Batch, generator: torch.Generator, encoder_input: str
) -> dict[str, torch.Tensor]:
    """Per-frame quantities of one batch's valid frames, concatenated later."""
    floor = model.config.log_floor
    batch = batch.to(model.input_mean.device)  # lips as training reads them: uint8 from the sampler -> [0, 1]
    mask = batch.mask
    context = model.visual_context(batch.lips)
    encoder_input = batch.clean if encoder_input == "clean" else batch.mixture
    mu, _ = model.encode(encoder_input, context)
    prior_mu, prior_logvar = model.prior(context)
    prior_mu, prior_logvar = prior_mu.expand_as(mu), prior_logvar.expand_as(mu)
    draws = prior_mu + torch.exp(0.5 * prior_logvar) * torch.randn(PRIOR_DRAWS, *mu.shape, generator=generator)
    spread = model.log_variance(draws, context).std(0)
    best = fit_latent(model, batch.clean, context)
    return {
        "clean": batch.clean[mask],
        "recon": model.log_variance(mu, context)[mask],
        "prior_mean": model.log_variance(prior_mu, context)[mask],
        "best_latent": model.log_variance(best, context)[mask],
        "prior_spread": spread[mask],
        "log_clean": torch.log(batch.clean[mask] + floor),
    }


def measure(model: SpeechVAE, batches: list[Batch], seed: int = 0, encoder_input: str | None = None) -> dict:
    """The diagnostics of `model` on `batches` (dev mixtures with their clean targets and lips); `encoder_input`
    says what its encoder reads ("clean" or "mixture", default: what the model's kind reads)."""
    model = model.eval()
    generator = torch.Generator().manual_seed(seed)
    encoder_input = encoder_input or model.config.encoder_input
    parts = [_batch_terms(model, batch, generator, encoder_input) for batch in batches]
    terms = {name: torch.cat([part[name] for part in parts]) for name in parts[0]}
    clean, floor = terms["clean"], model.config.log_floor
    constant = torch.log(clean.mean(0) + floor).expand_as(clean)
    curves = {
        name: itakura_saito(clean, constant if name == "constant" else terms[name], floor).mean(0) for name in CURVES
    }
    result = {f"is_per_bin_{name}": float(curve.mean()) for name, curve in curves.items()}
    result.update(
        {
            "is_per_bin_exact_model": EXACT_MODEL_IS,
            "prior_spread_nats": float(terms["prior_spread"].mean()),
            "data_spread_nats": float(terms["log_clean"].std(0).mean()),
            "frames": int(len(clean)),
        }
    )
    result["curves"] = {name: [round(float(v), 4) for v in curve] for name, curve in curves.items()}
    return result


def summary(result: dict) -> str:
    """One line for logs: the model's numbers, and the SI model's on the same utterances when measured."""
    line = (
        f"IS/bin: recon {result['is_per_bin_recon']:.2f}, prior mean {result['is_per_bin_prior_mean']:.2f}, "
        f"best latent {result['is_per_bin_best_latent']:.2f}, constant {result['is_per_bin_constant']:.2f} "
        f"(exact model {EXACT_MODEL_IS:.2f}); log-variance spread under the prior "
        f"{result['prior_spread_nats']:.2f} nats vs data {result['data_spread_nats']:.2f}"
    )
    if "si_model" in result:
        si = result["si_model"]
        line += (
            f"; the SI model it started from: recon {si['is_per_bin_recon']:.2f}, "
            f"best latent {si['is_per_bin_best_latent']:.2f}"
        )
    return line


def write(result: dict, exp_dir: Path, title: str, sample_rate: int = 16000) -> None:
    """exp_dir/diagnostics.yaml (numbers, curves last) and diagnostics.png (IS per bin against frequency)."""
    write_text_atomic(exp_dir / "diagnostics.yaml", yaml.safe_dump(result, sort_keys=False))
    curves = result["curves"]
    bins = len(curves["recon"])
    frequencies = [index * sample_rate / 2 / (bins - 1) / 1000 for index in range(bins)]
    figure, axis = plt.subplots(figsize=(7, 3.6))
    labels = {
        "constant": "constant per bin",
        "recon": "encoder mean",
        "prior_mean": "prior mean",
        "best_latent": "best latent (decoder alone)",
    }
    for name in CURVES:
        axis.plot(frequencies, curves[name], lw=1, label=f"{labels[name]}: {result[f'is_per_bin_{name}']:.2f}")
    axis.axhline(EXACT_MODEL_IS, color="gray", ls=":", label=f"exact variance model: {EXACT_MODEL_IS:.2f}")
    axis.set_yscale("log")
    axis.set_xlabel("frequency (kHz)")
    axis.set_ylabel("IS divergence per bin")
    axis.set_title(
        f"{title}: prior spread {result['prior_spread_nats']:.2f} nats, data {result['data_spread_nats']:.2f}",
        fontsize=10,
    )
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3, which="both")
    figure.tight_layout()
    with atomic_path(exp_dir / "diagnostics.png") as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    plt.close(figure)
