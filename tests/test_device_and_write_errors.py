"""Messages that say what is wrong: a CUDA device on a machine without a GPU (separate, decode, train), a model or
checkpoint write that fails (full disk, file size limit) during training or export, and a full disk in a feature
dump, its merge or a decode, after which a rerun resumes."""

import errno
import logging
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import h5py
import pytest
import scipy.io.wavfile
import torch

from avvae.bin import decode, dump_features, merge_features, separate, train
from avvae.cli import run_main
from avvae.config import save_config
from avvae.fileio import write_errors
from avvae.models import ModelConfig, SpeechVAE, save_model
from avvae.models.files import CHECKPOINT_FORMAT, model_payload, save_file
from tests.commands import failure
from tests.datadirs import make_speech_dir
from tests.test_provenance import mixture_workdir
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
    monkeypatch.setattr(write_errors.shutil, "disk_usage", lambda _: SimpleNamespace(total=2**30, used=2**30, free=0))
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


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        OSError(errno.EIO, f"Can't write data (file write failed: errno = {errno.EDQUOT}, ...)"),  # as h5py says it
    ],
)
def test_a_write_over_the_disk_quota_says_so_and_what_is_kept(tmp_path, error):
    target = tmp_path / "feats.h5"
    with pytest.raises(write_errors.DiskFullError) as raised:
        with write_errors.naming_full_disk(target, "the finished utterances are kept"):
            raise error
    message = str(raised.value)
    assert message.startswith(f"{target}: cannot write the file: the disk quota is exceeded; ")
    assert message.endswith("; the finished utterances are kept")


NO_SPACE = OSError(
    errno.ENOSPC,
    "Can't synchronously write data (file write failed: errno = 28, error message = 'No space left on device')",
)  # as h5py says it


def fail_after(calls: int, function):
    """`function` that raises NO_SPACE from its call number `calls` + 1 on, as on a disk that has filled up."""
    count = [0]

    def write(*args, **kwargs):
        count[0] += 1
        if count[0] > calls:
            raise NO_SPACE
        return function(*args, **kwargs)

    return write


def run_ok(caplog, build_parser, main, argv: list[str]) -> str:
    """The log of a command that succeeds."""
    caplog.clear()
    with caplog.at_level(logging.INFO):
        run_main(build_parser, main, argv)
    return caplog.text


@pytest.fixture
def speech(tmp_path):
    make_speech_dir(tmp_path / "speech", speakers=2, utts=2)
    (tmp_path / "feats.yaml").write_text("hop_length: 533\n")
    return tmp_path


def test_a_full_disk_in_a_dump_job_names_its_file_and_a_rerun_resumes(speech, caplog, monkeypatch):
    argv = ["--config", str(speech / "feats.yaml"), str(speech / "speech" / "data"), str(speech / "dump")]
    partial = speech / "dump" / "split1" / "feats.1.h5.partial"
    monkeypatch.setattr(h5py.Group, "create_dataset", fail_after(2 * 3, h5py.Group.create_dataset))  # stft, power, lips
    message = failure(caplog, dump_features.build_parser, dump_features.main, argv)
    assert message.startswith(f"{partial}: cannot write the file: the disk is full; ")
    assert message.endswith(
        "the utterances complete in it are kept: free some space and rerun to resume (unless "
        "the failed write left it unreadable: then it is begun again)"
    )
    monkeypatch.undo()
    log = run_ok(caplog, dump_features.build_parser, dump_features.main, argv)
    assert "2 utterances computed, 2 already there" in log


def test_a_dump_job_does_not_begin_an_utterance_the_disk_has_no_room_for(speech, caplog, monkeypatch):
    argv = ["--config", str(speech / "feats.yaml"), str(speech / "speech" / "data"), str(speech / "dump")]
    partial = speech / "dump" / "split1" / "feats.1.h5.partial"
    room = iter([2**30, 0])  # room for the first utterance only

    def disk_usage(path):
        return SimpleNamespace(total=2**30, used=0, free=next(room, 0))

    monkeypatch.setattr(write_errors.shutil, "disk_usage", disk_usage)
    message = failure(caplog, dump_features.build_parser, dump_features.main, argv)
    assert message.startswith(f"{partial}: cannot write utterance spk0_001 (about ")
    assert message.endswith(
        f"MiB): the disk is full; 0.0 MiB free in {partial.parent}; the utterances complete in "
        "it are kept: free some space and rerun to resume"
    )
    monkeypatch.undo()
    assert "3 utterances computed, 1 already there" in run_ok(
        caplog, dump_features.build_parser, dump_features.main, argv
    )


def test_a_full_disk_in_the_merge_keeps_the_job_parts(speech, caplog, monkeypatch):
    dump = speech / "dump"
    for job in ("1", "2"):
        run_ok(
            caplog,
            dump_features.build_parser,
            dump_features.main,
            [
                "--config",
                str(speech / "feats.yaml"),
                "--nj",
                "2",
                "--job",
                job,
                str(speech / "speech" / "data"),
                str(dump),
            ],
        )
    parts = {path: path.read_bytes() for path in (dump / "split2").iterdir()}
    monkeypatch.setattr(h5py.Group, "copy", fail_after(1, h5py.Group.copy))
    message = failure(caplog, merge_features.build_parser, merge_features.main, [str(dump), "--nj", "2"])
    assert message.startswith(f"{dump / 'feats.h5'}: cannot write the file: the disk is full; ")
    assert message.endswith(f"the job parts in {dump / 'split2'} are kept: free some space and rerun to merge them")
    assert {path: path.read_bytes() for path in (dump / "split2").iterdir()} == parts
    assert sorted(path.name for path in dump.iterdir()) == ["split2"]  # no feats.h5, no temporary file

    monkeypatch.undo()
    log = run_ok(caplog, merge_features.build_parser, merge_features.main, [str(dump), "--nj", "2", "--expected", "4"])
    assert f"{dump}/feats.h5: 4 utterances" in log


def test_a_full_disk_in_a_decode_names_the_wav_and_a_rerun_resumes(tmp_path, caplog, monkeypatch):
    workdir = mixture_workdir(tmp_path, 2)
    out = workdir / "exp" / "oracle" / "decode"
    argv = [str(workdir / "dump" / "test_mix" / "feats.h5"), str(out), "--method", "oracle"]
    monkeypatch.setattr(scipy.io.wavfile, "write", fail_after(3, scipy.io.wavfile.write))  # one mixture's 3 wavs
    message = failure(caplog, decode.build_parser, decode.main, argv)
    second = sorted(h5py.File(argv[0], "r"))[1]
    assert message.startswith(f"{out / 'wav' / second}_s1.wav: cannot write the file: the disk is full; ")
    assert message.endswith(
        "the mixtures separated before (1 in this run) are kept: free some space and rerun to resume"
    )
    assert not list((out / "wav").glob(".*"))  # no temporary file left
    monkeypatch.undo()
    assert "1 mixtures separated, 1 already there" in run_ok(caplog, decode.build_parser, decode.main, argv)
