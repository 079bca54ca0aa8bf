"""Paths with spaces, quotes and backslashes reach every job unchanged: through the job launchers (run.pl, slurm.pl)
and through the steps scripts that hand paths to them (training into exp/t\\z, a decode into dec/x\\y)."""

import os
import subprocess
from pathlib import Path

import pytest

from avvae.config import save_config
from tests.test_provenance import ENV, mixture_workdir, step
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
    return subprocess.run([str(ROOT / "utils" / launcher), *options, *args], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"})


@pytest.mark.parametrize("launcher", ["run.pl", "slurm.pl"])
def test_the_launchers_pass_spaces_quotes_and_backslashes_to_the_job_unchanged(tmp_path, launcher):
    log = "it's log/x \\y.JOB.log"
    result = launch(tmp_path, launcher, "JOB=1:2", log, "printf", "<%s>\\n", "JOB", *ODD, "in JOB's", "&&",
                    "echo", "$((JOB+1))")
    assert result.returncode == 0, result.stderr
    for job in (1, 2):
        lines = (tmp_path / log.replace("JOB", str(job))).read_text().splitlines()
        assert lines[2:-2] == [f"<{word}>" for word in [str(job), *ODD, f"in {job}'s"]] + [str(job + 1)]


@pytest.fixture
def mixtures(tmp_path):
    return mixture_workdir(tmp_path, 1)


def test_a_decode_into_a_folder_with_a_backslash_writes_there(mixtures):
    step(mixtures, "decode.sh", "--nj", "1", "--decode-opts", "--method oracle", "data/test_mix",
         "dump/test_mix/feats.h5", "dec/x\\y")
    assert len(list((mixtures / "dec" / "x\\y" / "wav").glob("*.wav"))) == 3
    assert not (mixtures / "dec" / "xy").exists()


def test_a_training_into_a_folder_with_a_backslash_writes_there(training_feats, tmp_path):
    save_config(small_config("avae", epochs=1), tmp_path / "train.yaml")
    step(tmp_path, "train.sh", "--train-opts", f"--dev {training_feats.dev}", "train.yaml", str(training_feats.train),
         str(training_feats.noise), "exp/t\\z")
    exp = tmp_path / "exp" / "t\\z"
    assert {"model.pt", "checkpoint.pt", "history.tsv", ".done"} <= {path.name for path in exp.iterdir()}
    assert not (tmp_path / "exp" / "tz").exists()
