"""Two-stage training through the command line: the decoder part learns an audio-only VAE on clean speech, the
encoder part starts from its clean encoder (renormalised to the mixture's statistics) and trains against its
decoder, frozen; SD training does the same from the SI parts; every part ends with its diagnostics."""

import dataclasses
import math
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from avvae.bin import decode
from avvae.bin.train import build_parser, main
from avvae.config import save_config
from avvae.models import load_model, save_model
from avvae.models.files import CHECKPOINT_FORMAT, load_file
from avvae.training.data import load_utterances
from avvae.training.diagnostics import CURVES
from avvae.training.setup import speaker_dependent, speaker_independent
from tests.training_data import small_config

pytestmark = pytest.mark.slow

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[1]


def _config():
    return small_config("avvae", epochs=2, mode="two_stage", decoder_epochs=2, diagnostic_utterances=8)


def _train(config_path: Path, feats, exp_dir: Path, *extra: str) -> None:
    main(
        build_parser().parse_args(
            [
                "--config",
                str(config_path),
                "--train",
                str(feats.train),
                "--noise",
                str(feats.noise),
                *extra,
                str(exp_dir),
            ]
        )
    )


def _part(state: dict, prefix: str) -> dict:
    return {name: tensor for name, tensor in state.items() if name.startswith(prefix)}


def _assert_equal(first: dict, second: dict) -> None:
    assert first.keys() == second.keys() and first
    for name, tensor in first.items():
        assert torch.equal(tensor, second[name]), name


def _assert_all_differ(first: dict, second: dict) -> None:
    for name, tensor in first.items():
        assert not torch.equal(tensor, second[name]), f"{name} did not change"


def _assert_diagnostics(exp_dir: Path) -> None:
    result = yaml.safe_load((exp_dir / "diagnostics.yaml").read_text())
    numbers = [f"is_per_bin_{name}" for name in CURVES] + [
        "is_per_bin_exact_model",
        "prior_spread_nats",
        "data_spread_nats",
    ]
    assert all(math.isfinite(result[key]) and result[key] >= 0 for key in numbers), result
    assert result["frames"] > 0 and set(result["curves"]) == set(CURVES)
    assert all(len(curve) == 513 and all(math.isfinite(v) for v in curve) for curve in result["curves"].values())
    assert (exp_dir / "diagnostics.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def two_stage_si(training_feats, tmp_path_factory) -> Path:
    """An SI two-stage training: returns its exp dir (the config is beside it, train.yaml)."""
    root = tmp_path_factory.mktemp("two_stage")
    save_config(_config(), root / "train.yaml")
    _train(root / "train.yaml", training_feats, root / "exp_si", "--dev", str(training_feats.dev))
    return root / "exp_si"


def test_two_stage_trains_the_encoder_against_the_frozen_decoder_part(two_stage_si, training_feats):
    exp = two_stage_si
    clean_vae, model = load_model(exp / "decoder" / "model.pt"), load_model(exp / "model.pt")
    assert clean_vae.config.kind == "avae" and model.config.kind == "avvae"
    assert (exp / "decoder" / ".done").is_file() and (exp / ".done").is_file()
    assert len((exp / "decoder" / "history.tsv").read_text().splitlines()) == 3
    _assert_equal(_part(model.state_dict(), "decoder."), _part(clean_vae.state_dict(), "decoder."))
    last = load_file(exp / "checkpoint.pt", CHECKPOINT_FORMAT)["model"]["state_dict"]
    _assert_equal(_part(last, "decoder."), _part(clean_vae.state_dict(), "decoder."))

    start = speaker_independent(
        _config(),
        training_feats.train,
        training_feats.dev,
        training_feats.noise,
        "encoder",
        exp / "decoder" / "model.pt",
    ).model.state_dict()
    trained = model.state_dict()
    _assert_all_differ(_part(trained, "encoder.mu"), _part(start, "encoder.mu"))
    _assert_all_differ(_part(trained, "prior_net."), _part(start, "prior_net."))
    _assert_all_differ(_part(trained, "lips."), _part(start, "lips."))
    for exp_dir in (exp / "decoder", exp):
        _assert_diagnostics(exp_dir)
        assert "si_model" not in yaml.safe_load((exp_dir / "diagnostics.yaml").read_text()), "SI has no SI start"


def test_a_rerun_does_nothing_and_a_done_decoder_part_is_kept(two_stage_si, training_feats, tmp_path):
    config_path = two_stage_si.parent / "train.yaml"
    files = sorted(path for path in two_stage_si.rglob("*") if path.is_file())
    stamps = [path.stat().st_mtime_ns for path in files]
    _train(config_path, training_feats, two_stage_si, "--dev", str(training_feats.dev))
    assert sorted(path for path in two_stage_si.rglob("*") if path.is_file()) == files
    assert [path.stat().st_mtime_ns for path in files] == stamps

    # Only the decoder part done (as after a kill between the parts): the encoder part alone trains, the same.
    exp = tmp_path / "exp_si"
    shutil.copytree(two_stage_si / "decoder", exp / "decoder")
    decoder_stamps = {path: path.stat().st_mtime_ns for path in (exp / "decoder").iterdir()}
    _train(config_path, training_feats, exp, "--dev", str(training_feats.dev))
    assert {path: path.stat().st_mtime_ns for path in (exp / "decoder").iterdir()} == decoder_stamps
    _assert_equal(load_model(exp / "model.pt").state_dict(), load_model(two_stage_si / "model.pt").state_dict())


def test_the_encoder_part_starts_as_the_clean_encoder_reading_the_mixture(training_feats, tmp_path):
    config = _config()
    feats = (training_feats.train, training_feats.dev, training_feats.noise)
    clean_vae = speaker_independent(config, *feats, "decoder").model
    save_model(clean_vae, tmp_path / "decoder.pt")
    run = speaker_independent(config, *feats, "encoder", tmp_path / "decoder.pt")
    model = run.model
    # the mixture is louder than the clean speech: a start without renormalisation would read it differently
    assert float((model.input_mean - clean_vae.input_mean).abs().mean()) > 0.5
    batch = next(run.dev.batches(0, 0, 8)).to(CPU)
    with torch.no_grad():
        mu, logvar = model.encode(batch.mixture, model.visual_context(batch.lips))
        clean_mu, clean_logvar = clean_vae.encode(batch.mixture, None)
    torch.testing.assert_close(mu, clean_mu, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(logvar, clean_logvar, rtol=1e-4, atol=1e-4)
    _assert_equal(_part(model.state_dict(), "decoder."), _part(clean_vae.state_dict(), "decoder."))


def test_sd_two_stage_fine_tunes_both_si_parts(two_stage_si, training_feats, tmp_path):
    config = _config()
    speaker = load_utterances(training_feats.train, lips=False)[0].speaker
    init = two_stage_si / "model.pt"
    si_decoder = load_model(two_stage_si / "decoder" / "model.pt").state_dict()
    start = speaker_dependent(
        config, training_feats.train, speaker, training_feats.dev, training_feats.noise, init, "decoder"
    )
    _assert_equal(start.model.state_dict(), si_decoder)

    exp = tmp_path / "exp_sd"
    _train(
        two_stage_si.parent / "train.yaml",
        training_feats,
        exp,
        "--speaker",
        speaker,
        "--interferers",
        str(training_feats.dev),
        "--init",
        str(init),
    )
    sd_decoder, model = load_model(exp / "decoder" / "model.pt"), load_model(exp / "model.pt")
    assert sd_decoder.config.kind == "avae" and model.config.kind == "avvae"
    _assert_all_differ(_part(sd_decoder.state_dict(), "decoder."), _part(si_decoder, "decoder."))
    _assert_equal(_part(model.state_dict(), "decoder."), _part(sd_decoder.state_dict(), "decoder."))
    si = load_model(init).state_dict()
    _assert_all_differ(_part(model.state_dict(), "prior_net.mu"), _part(si, "prior_net.mu"))
    for exp_dir in (exp / "decoder", exp):
        _assert_diagnostics(exp_dir)
        si_model = yaml.safe_load((exp_dir / "diagnostics.yaml").read_text())["si_model"]
        assert all(math.isfinite(si_model[f"is_per_bin_{name}"]) for name in ("recon", "best_latent", "constant"))


def test_a_vae_and_av_vae_decoder_parts_are_trained_alike(two_stage_si, training_feats, tmp_path):
    """The decoder part reads no lips, so the audio-only model's decoder part is the AV-VAE's, bit for bit: the
    two rows of the results differ only in what the lips add."""
    config = small_config("avae", epochs=2, mode="two_stage", decoder_epochs=2, diagnostic_utterances=8)
    config.model = dataclasses.replace(_config().model, kind="avae")
    save_config(config, tmp_path / "train.yaml")
    run = speaker_independent(config, training_feats.train, training_feats.dev, training_feats.noise, "decoder")
    assert all(utterance.lips is None for utterance in run.train.targets)
    _train(tmp_path / "train.yaml", training_feats, tmp_path / "exp", "--dev", str(training_feats.dev))
    _assert_equal(
        load_model(tmp_path / "exp" / "decoder" / "model.pt").state_dict(),
        load_model(two_stage_si / "decoder" / "model.pt").state_dict(),
    )


def test_decoding_refuses_a_training_folder_that_has_not_finished(two_stage_si, tmp_path):
    """A killed training leaves model.pt (its best epoch so far) beside checkpoint.pt and no .done: decoding with
    it would be kept once training finishes, so it is refused; a finished folder and an exported model are taken."""

    def method(model_dir):
        args = decode.build_parser().parse_args(
            [
                "mix.h5",
                "out",
                "--method",
                "mcem",
                "--config",
                str(ROOT / "egs/mini_av/conf/mcem.yaml"),
                "--model-dir",
                str(model_dir),
            ]
        )
        return decode.vae_models(args)[1](["s1"])

    assert method(two_stage_si)[0].config.kind == "avvae"
    killed = tmp_path / "killed"
    shutil.copytree(two_stage_si, killed)
    (killed / ".done").unlink()
    with pytest.raises(ValueError, match=f"{killed}: training has not finished"):
        method(killed)
    exported = tmp_path / "exported"
    exported.mkdir()
    shutil.copy(killed / "model.pt", exported / "model.pt")
    method(exported)
