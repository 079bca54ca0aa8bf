"""Paths with spaces, quotes and backslashes reach every job unchanged: through the job launchers (run.pl, slurm.pl),
through the steps scripts that hand paths to them (training into exp/t\\z, a decode into dec/x\\y), and quoted
inside the options strings of the steps scripts (--train-opts, --decode-opts, --score-opts)."""

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from avvae.config import save_config
from avvae.models import ModelConfig, SpeechVAE, save_model
from tests.test_provenance import column, mixture_workdir, step
from tests.training_data import small_config

ROOT = Path(__file__).resolve().parents[1]
ODD = ["a b", "it's", 'say "x"', "t\\z", "end\\", ""]  # each word, as the job must get it


FAKE_SBATCH = """#!/usr/bin/env bash
# Stands in for Slurm: runs each array task here.
for arg in "$@"; do case "$arg" in --array=*) range=${arg#--array=};; esac; done
for ((task=${range%-*}; task<=${range#*-}; task++)); do SLURM_ARRAY_TASK_ID=$task bash "${@: -1}"; done
"""


def launch(tmp_path: Path, launcher: str, *args: str) -> subprocess.CompletedProcess:
    """utils/<launcher> with `args` in `tmp_path` (slurm.pl with a stand-in sbatch)."""
    (tmp_path / "bin").mkdir(exist_ok=True)
    (tmp_path / "bin" / "sbatch").write_text(FAKE_SBATCH)
    (tmp_path / "bin" / "sbatch").chmod(0o755)
    (tmp_path / "path.sh").write_text("")
    (tmp_path / "slurm.conf").write_text("command sbatch\n")
    options = ["--config", "slurm.conf"] if launcher == "slurm.pl" else []
    return subprocess.run(
        [str(ROOT / "utils" / launcher), *options, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"},
    )


@pytest.mark.parametrize("launcher", ["run.pl", "slurm.pl"])
def test_the_launchers_pass_spaces_quotes_and_backslashes_to_the_job_unchanged(tmp_path, launcher):
    log = "it's log/x \\y.JOB.log"
    result = launch(
        tmp_path, launcher, "JOB=1:2", log, "printf", "<%s>\\n", "JOB", *ODD, "in JOB's", "&&", "echo", "$((JOB+1))"
    )
    assert result.returncode == 0, result.stderr
    for job in (1, 2):
        lines = (tmp_path / log.replace("JOB", str(job))).read_text().splitlines()
        assert lines[2:-2] == [f"<{word}>" for word in [str(job), *ODD, f"in {job}'s"]] + [str(job + 1)]


@pytest.fixture
def mixtures(tmp_path):
    return mixture_workdir(tmp_path, 1)


@pytest.mark.recipe
def test_a_decode_into_a_folder_with_a_backslash_writes_there(mixtures):
    step(
        mixtures,
        "decode.sh",
        "--nj",
        "1",
        "--decode-opts",
        "--method oracle",
        "data/test_mix",
        "dump/test_mix/feats.h5",
        "dec/x\\y",
    )
    assert len(list((mixtures / "dec" / "x\\y" / "wav").glob("*.wav"))) == 3
    assert not (mixtures / "dec" / "xy").exists()


@pytest.mark.recipe
def test_a_training_into_a_folder_with_a_backslash_writes_there(training_feats, tmp_path):
    save_config(small_config("avae", epochs=1), tmp_path / "train.yaml")
    step(
        tmp_path,
        "train.sh",
        "--train-opts",
        f"--dev {training_feats.dev}",
        "train.yaml",
        str(training_feats.train),
        str(training_feats.noise),
        "exp/t\\z",
    )
    exp = tmp_path / "exp" / "t\\z"
    assert {"model.pt", "checkpoint.pt", "history.tsv", ".done"} <= {path.name for path in exp.iterdir()}
    assert not (tmp_path / "exp" / "tz").exists()


@pytest.mark.recipe
def test_a_dev_set_path_with_a_space_in_the_training_options_reaches_the_training(training_feats, tmp_path):
    save_config(small_config("avae", epochs=1), tmp_path / "train.yaml")
    dev = tmp_path / "dump" / "my dev" / "feats.h5"
    dev.parent.mkdir(parents=True)
    shutil.copy(training_feats.dev, dev)
    step(
        tmp_path,
        "train.sh",
        "--train-opts",
        "--dev 'dump/my dev/feats.h5'",
        "train.yaml",
        str(training_feats.train),
        str(training_feats.noise),
        "exp/t",
    )
    record = json.loads((tmp_path / "exp" / "t" / ".done").read_text())
    assert "dump/my dev/feats.h5" in record["inputs"] and record["options"]["opts"] == "--dev 'dump/my dev/feats.h5'"
    assert "--dev 'dump/my dev/feats.h5'" in (tmp_path / "exp" / "t" / "log" / "train.log").read_text()


@pytest.mark.recipe
def test_paths_with_spaces_quotes_and_backslashes_in_decode_and_score_options_reach_the_jobs(mixtures):
    model = Path("exp") / "it's a \\model"
    save_model(SpeechVAE(ModelConfig(kind="avae", latent_dim=4, hidden_dim=16)), mixtures / model / "model.pt")
    shutil.copy(mixtures / "conf" / "mcem.yaml", mixtures / "conf" / 'my "mcem".yaml')
    decode = model / "decode test"
    opts = f"--method mcem --model-dir {shlex.quote(str(model))} --config 'conf/my \"mcem\".yaml'"
    step(
        mixtures,
        "decode.sh",
        "--nj",
        "1",
        "--decode-opts",
        opts,
        "data/test_mix",
        "dump/test_mix/feats.h5",
        str(decode),
    )
    record = json.loads((mixtures / decode / ".done.decode").read_text())
    assert {f"{model}/model.pt", 'conf/my "mcem".yaml'} <= set(record["inputs"])
    assert len(list((mixtures / decode / "wav").glob("*.wav"))) == 3
    assert (
        "is separated, skipping"
        in step(
            mixtures,
            "decode.sh",
            "--nj",
            "1",
            "--decode-opts",
            opts,
            "data/test_mix",
            "dump/test_mix/feats.h5",
            str(decode),
        ).stdout
    )

    best = ["--score-opts", f"--permutation-invariant {shlex.quote(str(decode))}"]
    step(mixtures, "score.sh", "--nj", "1", *best, "data/test_mix", str(decode))
    assert set(column(mixtures / decode, "permutation")) == {"best"}

    refused = step(
        mixtures,
        "decode.sh",
        "--decode-opts",
        "--method oracle --config 'conf/x",
        "data/test_mix",
        "dump/test_mix/feats.h5",
        "dec/other",
        check=False,
    )
    assert refused.returncode != 0
    assert (
        '--decode-opts "--method oracle --config \'conf/x": cannot split it as a shell would: No closing '
        "quotation" in refused.stdout
    )
    assert not (mixtures / "dec").exists()
