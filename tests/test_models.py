"""The speech VAEs: shapes of the interface MCEM uses, a finite loss with gradients, and their files."""

import pytest
import torch

from avvae.config import ConfigError, load_config
from avvae.models import ModelConfig, ModelFileError, SpeechVAE, load_model, save_model
from avvae.models.latent_fit import fit_latent, itakura_saito_per_frame
from avvae.training.config import TrainConfig
from avvae.training.data import MixtureSampler, load_utterances
from avvae.training.objective import VaeObjective
from tests.training_data import small_config

KINDS = ("avae", "avvae", "cvae")


@pytest.mark.parametrize("kind", KINDS)
def test_interface_shapes_and_a_finite_loss_with_gradients(kind, training_feats):
    config = small_config(kind)
    uses_lips = config.model.uses_lips
    targets = load_utterances(training_feats.train, lips=uses_lips)
    noises = load_utterances(training_feats.noise, lips=False)
    batch = next(MixtureSampler(targets, targets, noises, config.mixing, 32).batches(0, 1, 4)).to(torch.device("cpu"))
    model = SpeechVAE(config.model)

    context = model.visual_context(batch.lips)
    mu, logvar = model.encode(batch.mixture, context)
    prior_mu, prior_logvar = model.prior(context)
    variance = model.decode(torch.randn(5, *mu.shape), context)

    assert (context is None) == (kind == "avae")
    assert mu.shape == logvar.shape == (4, 32, 8)
    assert torch.broadcast_shapes(prior_mu.shape, mu.shape) == mu.shape
    assert variance.shape == (5, 4, 32, 513) and bool((variance > 0).all())
    terms = VaeObjective(model)(batch, 1.0, torch.Generator().manual_seed(0))
    assert all(torch.isfinite(value) for value in terms.values())
    terms["loss"].backward()
    gradients = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in gradients)
    assert sum(float(g.abs().sum()) for g in gradients) > 0


def test_a_model_file_round_trips(tmp_path):
    model = SpeechVAE(ModelConfig(kind="cvae", hidden_dim=16, lip_hidden=8, lip_embedding=4))
    save_model(model, tmp_path / "model.pt")
    loaded = load_model(tmp_path / "model.pt")
    assert loaded.config == model.config
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name])


def test_a_truncated_model_file_is_rejected_naming_it(tmp_path):
    path = tmp_path / "model.pt"
    save_model(SpeechVAE(ModelConfig(kind="avae")), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ModelFileError, match=f"{path}: corrupt or truncated"):
        load_model(path)


def test_a_checkpoint_is_not_taken_for_a_model(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"format": "something-else"}, path)
    with pytest.raises(ModelFileError, match="expected a avvae-model-1 file, found 'something-else'"):
        load_model(path)


def test_unknown_config_keys_are_rejected_naming_the_file(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("epochs: 3\nlearnin_rate: 0.1\n")
    with pytest.raises(ConfigError, match=f"{path}: unknown key.*learnin_rate"):
        load_config(path, TrainConfig)
    path.write_text("model:\n  kind: avvae\n  latent: 16\n")
    with pytest.raises(ConfigError, match=r"train.yaml.model: unknown key.*latent"):
        load_config(path, TrainConfig)
    path.write_text("model:\n  kind: vae\n")
    with pytest.raises(ValueError, match="model kind 'vae' is not one of avae, avvae, cvae"):
        load_config(path, TrainConfig)


def test_fit_latent_recovers_the_variances_of_a_known_latent():
    """Power drawn as exp(d(z_true)) exactly: the fit must bring the IS divergence near 0 from the encoder's start."""
    torch.manual_seed(0)
    model = SpeechVAE(ModelConfig(kind="avae", num_freqs=65, latent_dim=4, hidden_dim=32)).requires_grad_(False)
    z_true = torch.randn(2, 30, 4)
    power = model.decode(z_true, None)
    start, _ = model.encode(power, None)
    before = itakura_saito_per_frame(power, model.log_variance(start, None), 0.0).mean()
    z = fit_latent(model, power, None, steps=300, learning_rate=0.05)
    after = itakura_saito_per_frame(power, model.log_variance(z, None), 0.0).mean()
    assert z.shape == z_true.shape and not z.requires_grad
    assert float(after) < 0.05 * float(before) and float(after) < 0.05 * 65


def test_the_objective_can_read_clean_speech_and_freeze_the_decoder(training_feats):
    """The two parts of two-stage training: an encoder on the clean target, then a decoder that no step changes."""
    config = small_config("avvae")
    targets = load_utterances(training_feats.train)
    noises = load_utterances(training_feats.noise, lips=False)
    batch = next(MixtureSampler(targets, targets, noises, config.mixing, 32).batches(0, 1, 4)).to(torch.device("cpu"))
    louder = type(batch)(batch.mixture * 10.0, batch.clean, batch.lips, batch.mask, batch.keys)
    model = SpeechVAE(config.model)

    def loss(objective: VaeObjective, which) -> float:
        return float(objective(which, 1.0, torch.Generator().manual_seed(0))["loss"].detach())

    clean = VaeObjective(model, encoder_input="clean")
    assert loss(clean, louder) == loss(clean, batch)
    assert loss(VaeObjective(model), louder) != loss(VaeObjective(model), batch)

    objective = VaeObjective(model, freeze_decoder=True)
    assert objective.encoder_input == "mixture"
    objective(batch, 1.0, torch.Generator().manual_seed(0))["loss"].backward()
    assert all(p.grad is None for p in model.decoder.parameters())
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in model.encoder.mu.parameters())
    assert all(p.grad is not None for p in model.prior_net.parameters())


def test_mean_normalised_lips_see_the_motion_not_the_face(training_feats):
    """With lip_normalise: mean, a face brighter in every frame (another skin, another light) gives the same visual
    context, and blank padding frames do not move the mean; without it, the brightness changes the context."""
    lips = load_utterances(training_feats.train, lips=True)[0].lips[:40]
    frames = torch.from_numpy(lips).float()[None] / 255.0 * 0.8  # room to brighten without clipping
    brighter = frames + 0.15
    padded = torch.cat([frames, torch.zeros(1, 10, *frames.shape[2:])], 1)
    torch.manual_seed(0)
    normalised = SpeechVAE(ModelConfig(lip_normalise="mean"))
    torch.manual_seed(0)
    plain = SpeechVAE(ModelConfig())
    with torch.no_grad():
        context = normalised.visual_context(frames)
        torch.testing.assert_close(normalised.visual_context(brighter), context, atol=1e-5, rtol=1e-5)
        reach = normalised.config.lip_context
        torch.testing.assert_close(normalised.visual_context(padded)[:, : 40 - reach], context[:, : 40 - reach])
        assert not torch.allclose(plain.visual_context(brighter), plain.visual_context(frames), atol=1e-3)
    with pytest.raises(ValueError, match="lip_normalise 'std' is not one of none, mean"):
        ModelConfig(lip_normalise="std")
