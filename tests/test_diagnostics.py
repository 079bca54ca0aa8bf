"""Model diagnostics: on speech drawn from a known decoder they find an exact variance model, a decoder that ignores
z scores as the constant model, the spreads measure what they say, and lips are read as training reads them."""

import copy
import math

import pytest
import torch

from avvae.models import ModelConfig, SpeechVAE
from avvae.training import diagnostics
from avvae.training.data import Batch, MixtureSampler, load_utterances
from tests.training_data import small_config

LOG_EXP1_STD = math.pi / math.sqrt(6)  # standard deviation of log r for r ~ Exp(1)


def _model_and_its_speech(frames: int = 60) -> tuple[SpeechVAE, Batch]:
    """A random audio-only model whose decoded log-variances move about 1.8 nats with z, and clean power drawn
    from it: variance at z ~ N(0, I) (its prior) times Exp(1), as the model says speech is distributed."""
    torch.manual_seed(0)
    model = SpeechVAE(ModelConfig(kind="avae", num_freqs=65, latent_dim=4, hidden_dim=32)).requires_grad_(False)
    model.decoder[-1].weight.mul_(8.0)
    variance = model.decode(torch.randn(4, frames, 4), None)
    power = variance * torch.empty_like(variance).exponential_(generator=torch.Generator().manual_seed(1))
    return model, Batch(power, power, None, torch.ones(4, frames, dtype=torch.bool), [f"u{i}" for i in range(4)])


def test_the_decoder_that_made_the_speech_scores_as_an_exact_variance_model():
    model, batch = _model_and_its_speech()
    result = diagnostics.measure(model, [batch])
    assert result["frames"] == 240
    assert result["is_per_bin_best_latent"] < 0.65  # 0.577 for the true latents; a fit per frame can go below
    assert result["is_per_bin_constant"] > 3 * result["is_per_bin_best_latent"]
    decoded_spread = float(model.log_variance(torch.randn(4000, 4), None).std(0).mean())
    assert result["prior_spread_nats"] == pytest.approx(decoded_spread, rel=0.1)
    data_spread = math.sqrt(decoded_spread**2 + LOG_EXP1_STD**2)
    assert result["data_spread_nats"] == pytest.approx(data_spread, rel=0.1)
    assert len(result["curves"]["best_latent"]) == 65


def test_a_decoder_that_ignores_z_is_no_better_than_the_constant():
    model, batch = _model_and_its_speech()
    flat = copy.deepcopy(model)
    flat.decoder[-1].weight.zero_()
    flat.decoder[-1].bias.copy_(torch.log(batch.clean.mean((0, 1)) + model.config.log_floor))
    result = diagnostics.measure(flat, [batch])
    assert result["prior_spread_nats"] == 0.0
    for name in ("best_latent", "prior_mean", "recon"):
        assert result[f"is_per_bin_{name}"] == pytest.approx(result["is_per_bin_constant"], rel=1e-4)
    assert result["is_per_bin_constant"] > 3 * diagnostics.measure(model, [batch])["is_per_bin_best_latent"]


def test_lips_are_read_as_in_training_whatever_the_batch_holds(training_feats):
    """Samplers give lips as uint8 (scaled to [0, 1] by Batch.to, as training does): measure must not see 0-255."""
    config = small_config("avvae")
    targets = load_utterances(training_feats.dev)
    noises = load_utterances(training_feats.noise, lips=False)
    batch = next(MixtureSampler(targets, targets, noises, config.mixing, 32).batches(0, 0, 4))
    assert batch.lips.dtype == torch.uint8
    torch.manual_seed(0)
    model = SpeechVAE(config.model)
    as_sampled = diagnostics.measure(model, [batch])
    as_trained = diagnostics.measure(model, [batch.to(torch.device("cpu"))])
    for name in ("recon", "prior_mean", "best_latent"):
        assert as_sampled[f"is_per_bin_{name}"] == pytest.approx(as_trained[f"is_per_bin_{name}"], rel=1e-5), name
