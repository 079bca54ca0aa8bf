"""The supervised baseline: mask shapes, a loss that decreases in training, model files, exact resume after a
kill, and a decoding method that beats the unprocessed mixture on held-out speakers, and a constant mask by SI-SDR."""

from pathlib import Path

import numpy as np
import pytest
import torch

from avvae.bin.decode import METHODS, build_parser
from avvae.config import load_config, save_config
from avvae.evaluation.metrics import bss_eval, si_sdr
from avvae.fileio.feature_files import open_features
from avvae.models import ModelFileError, load_model
from avvae.separation.decode import Mixture, Separation, stft_config_of, unprocessed_mixture
from avvae.stft import StftConfig, istft
from avvae.supervised.config import MaskNetConfig, SupervisedConfig
from avvae.supervised.files import MASK_NET, load_mask_net
from avvae.supervised.model import MaskNet
from avvae.supervised.objective import MaskObjective
from avvae.supervised.setup import speaker_independent
from avvae.training.config import MixingConfig
from avvae.training.data import Batch
from avvae.training.distributed import Placement
from avvae.training.trainer import Trainer
from tests.training_data import kill_and_resume, torch_threads

ROOT = Path(__file__).resolve().parents[1]
CPU = Placement(0, 1, torch.device("cpu"))


def small(epochs: int = 8) -> SupervisedConfig:
    """A small network and a short schedule for the training feats of tests/training_data.py."""
    model = MaskNetConfig(audio_dim=64, lip_hidden=64, lip_embedding=16, lip_context=1, hidden_dim=32, layers=1)
    return SupervisedConfig(
        model=model,
        mixing=MixingConfig(snr_db=[5.0, 15.0]),
        epochs=epochs,
        batch_size=8,
        segment_frames=32,
        segments_per_utterance=2,
        learning_rate=3e-3,
        patience=50,
        num_threads=1,
    )


@pytest.fixture(scope="module")
def trained(training_feats, tmp_path_factory):
    """A short training run (on one thread): (its samplers, the initial network, the trainer, the exp dir)."""
    with torch_threads(1):
        config = small()
        run = speaker_independent(config, training_feats.train, training_feats.dev, training_feats.noise)
        initial = MaskNet(config.model)
        initial.load_state_dict(run.model.state_dict())
        exp_dir = tmp_path_factory.mktemp("supervised") / "exp"
        trainer = Trainer(config, run.schedule, exp_dir, CPU, MASK_NET)
        trainer.fit(run.model, run.train, run.dev)
    return run, initial, trainer, exp_dir


def test_masks_have_the_mixture_shape_and_only_valid_frames_count():
    model = MaskNet(small().model)
    generator = torch.Generator().manual_seed(0)
    power = torch.rand(2, 12, 513, generator=generator)
    lips = torch.rand(2, 12, 67, 67, generator=generator)
    mask = model(power, lips)
    assert mask.shape == (2, 12, 513) and torch.all((mask > 0) & (mask < 1))
    with pytest.raises(ValueError, match="needs the target's lips"):
        model(power, lips[:, :10])
    valid = torch.ones(2, 12, dtype=torch.bool)
    valid[1, 8:] = False
    clean = torch.rand(2, 12, 513, generator=generator)
    terms = MaskObjective(model)(Batch(power, clean, lips, valid, ["a", "b"]), 1.0, None)
    terms["loss"].backward()
    assert torch.isfinite(terms["loss"]) and model.blstm.weight_ih_l0.grad.abs().sum() > 0
    clean[1, 8:] = 100.0
    changed = MaskObjective(model)(Batch(power, clean, lips, valid, ["a", "b"]), 1.0, None)
    torch.testing.assert_close(changed["loss"], terms["loss"])


def test_the_recipe_config_loads_and_builds_its_network():
    config = load_config(ROOT / "egs" / "mini_av" / "conf" / "train_supervised.yaml", SupervisedConfig)
    model = MaskNet(config.model)
    assert model(torch.ones(1, 3, config.model.num_freqs), torch.zeros(1, 3, 67, 67)).shape == (1, 3, 513)


@pytest.mark.slow
def test_training_lowers_the_loss_and_writes_a_mask_model(trained):
    run, initial, trainer, exp_dir = trained
    dev = list(run.dev.batches(1, 0, 8))
    before, after = trainer.evaluate(initial, dev), trainer.evaluate(load_mask_net(exp_dir / "model.pt"), dev)
    assert after["loss"] < 0.8 * before["loss"] and after["snr_db"] > before["snr_db"] + 1.0
    history = (exp_dir / "history.tsv").read_text().splitlines()
    assert len(history) == 9 and history[0] == "epoch\ttrain_loss\ttrain_snr_db\tdev_loss\tdev_snr_db\tlr\tseconds"
    assert (exp_dir / "loss.png").read_bytes()[:4] == b"\x89PNG" and (exp_dir / ".done").is_file()
    with pytest.raises(ModelFileError, match="expected a avvae-model-1 file, found 'avvae-masknet-1'"):
        load_model(exp_dir / "model.pt")


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_parameters(training_feats, tmp_path):
    config_path = tmp_path / "train_supervised.yaml"
    save_config(small(epochs=4), config_path)
    kill_and_resume("train_supervised", config_path, training_feats, tmp_path, epochs=4)


def _held_out_mixture(feats) -> tuple[Mixture, np.ndarray, StftConfig]:
    """Two held-out speakers' utterances (and noise at 10 dB SNR) mixed in the STFT domain: the Mixture, its
    references [3, L] (speakers, noise) and the STFT settings."""
    with open_features(feats.test) as handle:
        config = stft_config_of(handle)
        groups = [handle[key] for key in ("spk0_000", "spk1_000")]
        frames = min(len(group["stft"]) for group in groups)
        length = min(int(group.attrs["num_samples"]) for group in groups)
        sources = torch.stack([torch.from_numpy(group["stft"][:frames]) for group in groups])
        lips = [torch.from_numpy(group["lips"][:frames]).float() / 255.0 for group in groups]
    with open_features(feats.noise) as handle:
        noise = torch.from_numpy(handle[sorted(handle)[0]]["stft"][:frames])
    noise = noise * (sources.sum(0).abs().square().sum() / noise.abs().square().sum() / 10).sqrt()
    mixture = Mixture("held_out", sources.sum(0) + noise, lips, ["spk0", "spk1"], "snr10", length, 1.0, sources, noise)
    return mixture, istft(torch.cat([sources, noise[None]]), config, length).numpy(), config


@pytest.mark.slow
def test_the_decoding_method_beats_the_mixture_on_held_out_speakers(trained, training_feats):
    _, _, _, exp_dir = trained
    args = build_parser().parse_args(["mix.h5", "out", "--method", "supervised", "--model-dir", str(exp_dir)])
    method = METHODS["supervised"](args)
    mixture, references, config = _held_out_mixture(training_feats)
    separation = method(mixture)
    assert separation.sources.shape == (2, *mixture.stft.shape) and separation.sources.dtype == mixture.stft.dtype
    torch.testing.assert_close(separation.sources.sum(0) + separation.noise, mixture.stft)
    sdr = {}
    for name, result in (("supervised", separation), ("mixture", unprocessed_mixture(mixture))):
        estimates = istft(torch.cat([result.sources, result.noise[None]]), config, mixture.num_samples).numpy()
        sdr[name] = bss_eval(references, estimates)["sdr"][:2]
    assert np.all(sdr["supervised"] > sdr["mixture"] + 3.0), sdr
    with pytest.raises(ValueError, match="needs --model-dir"):
        METHODS["supervised"](build_parser().parse_args(["mix.h5", "out", "--method", "supervised"]))


@pytest.mark.slow
def test_the_network_beats_a_constant_mask_by_si_sdr(trained, training_feats):
    """A constant 0.5 mask (attenuation alone) scores above the mixture by BSS Eval v4 SDR, which rewards it for
    nothing, so the network must beat it by a scale-invariant measure: SI-SDR improvement over the mixture, which a
    constant mask leaves at 0 dB, on held-out speakers."""
    _, _, _, exp_dir = trained
    method = METHODS["supervised"](
        build_parser().parse_args(["m.h5", "out", "--method", "supervised", "--model-dir", str(exp_dir)])
    )
    mixture, references, config = _held_out_mixture(training_feats)
    constant = Separation(0.5 * mixture.stft.expand(2, *mixture.stft.shape), 0.0 * mixture.stft)
    scores = {}
    for name, result in (("supervised", method(mixture)), ("constant", constant)):
        estimates = istft(torch.cat([result.sources, result.noise[None]]), config, mixture.num_samples).numpy()
        scores[name] = (
            bss_eval(references, estimates)["sdr"][:2],
            np.array([si_sdr(references[j], estimates[j]) for j in range(2)]),
        )
    mixed = istft(mixture.stft, config, mixture.num_samples).numpy()
    unprocessed = np.array([si_sdr(references[j], mixed) for j in range(2)])
    # what the constant mask shows: SDR gained by attenuation alone, no SI-SDR gained
    assert np.all(scores["constant"][0] > bss_eval(references, np.stack([mixed] * 3))["sdr"][:2] + 1.0), scores
    assert np.all(np.abs(scores["constant"][1] - unprocessed) < 1e-3)
    assert np.all(scores["supervised"][1] > unprocessed + 3.0), (unprocessed, scores)
