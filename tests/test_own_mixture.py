"""Separating a user's own recording: wav + lip files (npz or video) + model -> one wav per speaker, noise, figure."""

import numpy as np
import pytest
from imageio_ffmpeg import write_frames

from avvae.bin import separate as separate_cli
from avvae.config import load_config
from avvae.fileio.audio import read_wav, write_wav
from avvae.fileio.lips import save_lips
from avvae.mcem import McemConfig
from avvae.models import ModelConfig, SpeechVAE, save_model
from avvae.separation.own_mixture import default_separation_mcem, separation_configs
from tests.datadirs import FPS, RATE, lips_for, voiced_utterance
from tests.recipe import ROOT


def write_video(path, frames, fps):
    """An mp4 of the lip frames, at 96x96 so the reader has to scale it to the model's size."""
    big = np.stack([np.pad(frame, ((14, 15), (14, 15)), mode="edge") for frame in frames])
    writer = write_frames(str(path), (96, 96), pix_fmt_in="gray", fps=fps, macro_block_size=1)
    writer.send(None)
    for frame in big:
        writer.send(np.ascontiguousarray(frame))
    writer.close()


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    rng = np.random.default_rng(3)
    first, second = voiced_utterance(rng, 1.5, 120.0), voiced_utterance(rng, 1.5, 210.0)
    mixture = 0.5 * (first + second) + 0.02 * rng.standard_normal(len(first)).astype(np.float32)
    write_wav(root / "mix.wav", mixture.astype(np.float32), RATE, subtype="PCM_16")
    save_lips(root / "first.npz", lips_for(first), FPS)
    write_video(root / "second.mp4", lips_for(second), FPS)
    model = SpeechVAE(ModelConfig(kind="avvae", hidden_dim=32, lip_hidden=16, lip_embedding=8))
    save_model(model, root / "model.pt")
    (root / "mcem.yaml").write_text("iterations: 3\ndraws: 4\nburn_in: 2\nfinal_draws: 4\nfinal_burn_in: 2\n")
    return root


def test_outputs_add_up_to_the_mixture_at_its_length_and_level(recording, tmp_path):
    separate_cli.main(
        separate_cli.build_parser().parse_args(
            [
                str(recording / "mix.wav"),
                "--lips",
                str(recording / "first.npz"),
                str(recording / "second.mp4"),
                "--model",
                str(recording / "model.pt"),
                "--mcem-config",
                str(recording / "mcem.yaml"),
                "--out-dir",
                str(tmp_path),
            ]
        )
    )
    mixture, _ = read_wav(recording / "mix.wav")
    outputs = [read_wav(tmp_path / f"mix_{name}.wav")[0] for name in ("s1", "s2", "noise")]
    assert all(len(output) == len(mixture) for output in outputs)
    # Wiener filters of all sources sum to one: the estimates add up to the mixture.
    assert np.max(np.abs(np.sum(outputs, axis=0) - mixture)) < 1e-3
    assert all(np.std(output) > 0.01 * np.std(mixture) for output in outputs[:2])
    assert (tmp_path / "mix_spectrograms.png").read_bytes()[:4] == b"\x89PNG"


def test_missing_lips_and_model_count_are_clear_errors(recording, tmp_path):
    parser = separate_cli.build_parser()
    with pytest.raises(ValueError, match="nowhere.npz: lips file does not exist"):
        separate_cli.main(
            parser.parse_args(
                [
                    str(recording / "mix.wav"),
                    "--lips",
                    str(recording / "first.npz"),
                    str(tmp_path / "nowhere.npz"),
                    "--model",
                    str(recording / "model.pt"),
                    "--mcem-config",
                    str(recording / "mcem.yaml"),
                    "--out-dir",
                    str(tmp_path),
                ]
            )
        )
    with pytest.raises(ValueError, match="3 models for 2 speakers"):
        separate_cli.main(
            parser.parse_args([str(recording / "mix.wav"), "--lips", "a.npz", "b.npz", "--model", "m1", "m2", "m3"])
        )
    assert not list(tmp_path.glob("*.wav"))


def test_separate_defaults_to_the_default_recipes_mcem_on_one_thread():
    """Without --mcem-config, `separate` runs the MCEM the default recipe chose on its dev mixtures, one torch thread
    per process (so a core that another program takes costs only its share)."""
    recipe = load_config(ROOT / "egs" / "mini_av" / "conf" / "mcem.yaml", McemConfig)
    assert default_separation_mcem() == recipe
    args = separate_cli.build_parser().parse_args(["mix.wav", "--lips", "a.npz", "--model", "m.pt"])
    assert separation_configs(args)[0] == recipe and recipe.threads == 1
