"""Messages that say what is wrong: a CUDA device on a machine without a GPU (separate, decode, train), and a model
or checkpoint write that fails (full disk, file size limit) during training or export."""

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from avvae.bin import decode, separate, train
from avvae.config import save_config
from avvae.models import ModelConfig, SpeechVAE, save_model
from avvae.models import files as model_files
from avvae.models.files import CHECKPOINT_FORMAT, model_payload, save_file
from tests.commands import failure
from tests.training_data import small_config

ROOT = Path(__file__).resolve().parents[1]
NO_GPU = "CUDA was requested ({}) but this machine has no usable GPU"


@pytest.fixture
def no_gpu(monkeypatch):
    """This machine as one without a usable GPU, whether or not it has one."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.pt"
    save_model(SpeechVAE(ModelConfig(kind="avae", hidden_dim=16)), path)
    return path


def test_separate_on_cuda_without_a_gpu_says_so(no_gpu, model, tmp_path, caplog):
    argv = [str(tmp_path / "mix.wav"), "--lips", "a.npz", "--model", str(model), "--device", "cuda"]
    assert failure(caplog, separate.build_parser, separate.main, argv).startswith(NO_GPU.format("--device cuda"))


def test_decode_with_a_cuda_config_without_a_gpu_names_the_config(no_gpu, model, tmp_path, caplog):
    config = tmp_path / "mcem.yaml"
    config.write_text("device: cuda:1\n")
    argv = [
        str(tmp_path / "feats.h5"),
        str(tmp_path / "decode"),
        "--method",
        "mcem",
        "--model-dir",
        str(tmp_path),
        "--config",
        str(config),
    ]
    message = failure(caplog, decode.build_parser, decode.main, argv)
    assert message.startswith(NO_GPU.format(f"{config}: device cuda:1"))


def test_train_on_cuda_without_a_gpu_says_so(no_gpu, tmp_path, caplog):
    config = tmp_path / "train.yaml"
    save_config(small_config("avae", epochs=1), config)
    argv = [
        "--config",
        str(config),
        "--train",
        "t.h5",
        "--dev",
        "d.h5",
        "--noise",
        "n.h5",
        "--device",
        "cuda",
        str(tmp_path / "exp"),
    ]
    assert failure(caplog, train.build_parser, train.main, argv).startswith(NO_GPU.format("--device cuda"))


def test_a_full_disk_during_training_names_the_file(training_feats, tmp_path, caplog, monkeypatch):
    """torch.save on a full disk raises this RuntimeError (seen by a tester); the disk reports no space left."""

    def full_disk(payload, path):
        Path(path).write_bytes(b"PK\x03\x04")
        raise RuntimeError(
            "[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file "
            "data/0: file write failed"
        )

    monkeypatch.setattr(torch, "save", full_disk)
    monkeypatch.setattr(model_files.shutil, "disk_usage", lambda path: SimpleNamespace(total=2**30, used=2**30, free=0))
    config = tmp_path / "train.yaml"
    save_config(small_config("avae", epochs=1), config)
    exp = tmp_path / "exp"
    argv = [
        "--config",
        str(config),
        "--train",
        str(training_feats.train),
        "--dev",
        str(training_feats.dev),
        "--noise",
        str(training_feats.noise),
        str(exp),
    ]
    message = failure(caplog, train.build_parser, train.main, argv)
    assert message.startswith(f"{exp / 'model.pt'}: cannot write the file: the disk is full; 0.0 MiB free in {exp} (")
    assert "inline_container.cc:672" in message
    assert not list(exp.glob(".*.tmp*")) and not (exp / "model.pt").exists()


def _file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_write_cut_short_by_the_system_names_the_file(tmp_path):
    """A real failing write: export_model under a 20 kB file size limit (torch says only `enforce fail`)."""
    checkpoint = tmp_path / "checkpoint.pt"
    payload = model_payload(SpeechVAE(ModelConfig(kind="avae", hidden_dim=16)))
    save_file({"format": CHECKPOINT_FORMAT, "epoch": 3, "model": payload}, checkpoint)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "avvae.bin.export_model", str(checkpoint), str(out / "model.pt")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        preexec_fn=_file_size_limit(20000),
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 1, result.stderr
    assert f"{out / 'model.pt'}: cannot write the file: the write failed (disk full, quota or file size limit?)" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not list(out.iterdir())
