"""`separate` on a recording at another sample rate (44.1 kHz), with one model per speaker: the outputs are at the
models' 16 kHz, as long as the recording, add up to it, and each speaker is separated with its own model."""

import numpy as np
import scipy.signal
import torch

from avvae.bin import separate as separate_cli
from avvae.fileio.audio import read_wav, write_wav
from avvae.fileio.lips import save_lips
from avvae.models import ModelConfig, SpeechVAE, save_model
from tests.datadirs import FPS, RATE, lips_for, voiced_utterance

RECORDED = 44100


def run(root, out, models) -> list[np.ndarray]:
    separate_cli.main(
        separate_cli.build_parser().parse_args(
            [
                str(root / "mix.wav"),
                "--lips",
                str(root / "first.npz"),
                str(root / "second.npz"),
                "--model",
                *map(str, models),
                "--mcem-config",
                str(root / "mcem.yaml"),
                "--out-dir",
                str(out),
            ]
        )
    )
    outputs = [read_wav(out / f"mix_{name}.wav") for name in ("s1", "s2", "noise")]
    assert all(rate == RATE for _, rate in outputs)
    return [samples for samples, _ in outputs]


def test_a_resampled_recording_separated_with_one_model_per_speaker(tmp_path):
    rng = np.random.default_rng(5)
    first, second = voiced_utterance(rng, 1.5, 120.0), voiced_utterance(rng, 1.5, 210.0)
    mixture = (0.5 * (first + second) + 0.02 * rng.standard_normal(len(first))).astype(np.float32)
    write_wav(tmp_path / "mix.wav", scipy.signal.resample_poly(mixture, 441, 160).astype(np.float32), RECORDED)
    save_lips(tmp_path / "first.npz", lips_for(first), FPS)
    save_lips(tmp_path / "second.npz", lips_for(second), FPS)
    (tmp_path / "mcem.yaml").write_text("iterations: 3\ndraws: 4\nburn_in: 2\nfinal_draws: 4\nfinal_burn_in: 2\n")
    models = []
    for seed in (0, 1):
        torch.manual_seed(seed)  # two different (untrained) models
        models.append(tmp_path / f"model{seed}.pt")
        save_model(SpeechVAE(ModelConfig(kind="avvae", hidden_dim=32, lip_hidden=16, lip_embedding=8)), models[-1])

    outputs = run(tmp_path, tmp_path / "own", models)
    scale = np.abs(mixture).max()
    assert all(len(output) == len(mixture) for output in outputs), "16 kHz, as long as the recording"
    # the estimates add up to the recording brought back to 16 kHz (its first and last 25 ms: resampling edges)
    assert np.max(np.abs(np.sum(outputs, axis=0) - mixture)[400:-400]) < 0.02 * scale
    assert all(np.std(output) > 0.01 * np.std(mixture) for output in outputs[:2])
    for same in ([models[0]] * 2, [models[1]] * 2):  # the second speaker's model is not the first's, nor the reverse
        other = run(tmp_path, tmp_path / same[0].stem, same)
        assert not np.allclose(np.stack(other[:2]), np.stack(outputs[:2]), atol=1e-4), same
