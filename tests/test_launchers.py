"""The shell side: Kaldi-style option parsing and the run.pl / slurm.pl job launchers."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UTILS = ROOT / "utils"


def bash(script: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


OPTIONS_SCRIPT = f"""
nj=4
use_gpu=false
train_config=conf/a.yaml
help_message="usage: x [--nj N]"
. {UTILS}/parse_options.sh
echo "nj=$nj use_gpu=$use_gpu train_config=$train_config rest=$*"
"""


@pytest.mark.parametrize(
    "args, expected",
    [
        ("", "nj=4 use_gpu=false train_config=conf/a.yaml rest="),
        ("--nj 8 --use-gpu true --train_config b.yaml data/x", "nj=8 use_gpu=true train_config=b.yaml rest=data/x"),
    ],
)
def test_options_set_declared_variables(tmp_path, args, expected):
    (tmp_path / "s.sh").write_text(OPTIONS_SCRIPT)
    assert bash(f"bash s.sh {args}", tmp_path).stdout.strip() == expected


@pytest.mark.parametrize(
    "args, message",
    [
        ("--jobs 3", "unknown option --jobs"),
        ("--use-gpu yes", "option --use-gpu takes true or false, got 'yes'"),
        ("--nj", "option --nj needs a value"),
        ("--config missing.conf", "--config: no such file 'missing.conf'"),
        ("--nj three", "option --nj takes a whole number, got 'three'"),
        ("--PATH /x", "unknown option --PATH"),
    ],
)
def test_bad_options_fail_with_a_message(tmp_path, args, message):
    (tmp_path / "s.sh").write_text(OPTIONS_SCRIPT)
    result = bash(f"bash s.sh {args}", tmp_path)
    assert result.returncode != 0 and message in result.stderr


@pytest.mark.parametrize(
    "command, value",
    [
        ("steps/decode.sh --nj -2 data/test_mix dump/test_mix/feats.h5 exp/x/decode_test_mix", "-2"),
        ("steps/dump_features.sh --nj 0 data/train dump/train", "0"),
        ("steps/score.sh --nj -2 data/test_mix exp/x/decode_test_mix", "-2"),
        ("egs/mini_av/run.sh --stage 10 --nj 0", "0"),  # steps/avvae.sh (stage 10: none to run)
    ],
)
def test_a_number_of_jobs_below_one_is_refused_at_once_naming_the_option(tmp_path, command, value):
    result = bash(f". {ROOT}/path.sh && {ROOT}/{command}", tmp_path)
    assert result.returncode != 0
    assert f"option --nj takes a positive number of jobs, got '{value}'" in result.stderr
    assert list(tmp_path.iterdir()) == []  # no job launched, no stray file such as 'JOB=1:-2'


def test_config_file_is_read_first_and_command_line_wins(tmp_path):
    (tmp_path / "s.sh").write_text(OPTIONS_SCRIPT)
    (tmp_path / "my.conf").write_text("nj=2\nuse_gpu=true\n")
    result = bash("bash s.sh --nj 6 --config my.conf", tmp_path)
    assert result.stdout.strip().startswith("nj=6 use_gpu=true")


def test_run_pl_runs_the_array_and_logs_each_job(tmp_path):
    result = bash(f"{UTILS}/run.pl JOB=1:3 log/x.JOB.log echo job JOB '&&' echo done", tmp_path)
    assert result.returncode == 0
    for job in (1, 2, 3):
        lines = (tmp_path / "log" / f"x.{job}.log").read_text().splitlines()
        assert lines[0] == f"# echo job {job} && echo done"
        assert lines[2:4] == [f"job {job}", "done"]
        assert lines[-1].startswith("# Ended (code 0)")


def test_run_pl_reports_failures_with_the_log_tail(tmp_path):
    result = bash(f"{UTILS}/run.pl JOB=1:4 log/y.JOB.log echo boom in JOB '&&' test JOB -lt 3", tmp_path)
    assert result.returncode == 1
    assert "run.pl: 2 / 4 failed; tail of log/y.3.log:" in result.stderr
    assert "boom in 3" in result.stderr


FAKE_SBATCH = """#!/usr/bin/env bash
# Stands in for Slurm: records its flags and runs each array task here.
echo "$@" > sbatch.args
for arg in "$@"; do case "$arg" in --array=*) range=${arg#--array=}; range=${range%%%*};; esac; done
script="${@: -1}"
for ((task=${range%-*}; task<=${range#*-}; task++)); do SLURM_ARRAY_TASK_ID=$task bash "$script"; done
"""


def test_slurm_pl_maps_options_submits_an_array_and_checks_every_log(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "sbatch").write_text(FAKE_SBATCH)
    (tmp_path / "bin" / "sbatch").chmod(0o755)
    (tmp_path / "path.sh").write_text("")
    (tmp_path / "slurm.conf").write_text(
        "command sbatch --export=ALL\noption mem=* --mem=$0\noption gpu=0\noption gpu=* --gres=gpu:$0\n"
    )
    env = {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    launch = f"{UTILS}/slurm.pl --config slurm.conf --mem 2G --gpu 1 JOB=1:3 log/z.JOB.log"
    result = bash(f"{launch} echo task JOB", tmp_path, env)
    assert result.returncode == 0, result.stderr
    flags = (tmp_path / "sbatch.args").read_text()
    assert "--wait --array=1-3" in flags and "--gres=gpu:1" in flags and "--mem=2G" in flags
    assert "task 2" in (tmp_path / "log" / "z.2.log").read_text()

    result = bash(f"{launch} echo failing JOB '&&' test JOB -ne 2", tmp_path, env)
    assert result.returncode == 1
    assert "slurm.pl: 1 / 3 failed; tail of log/z.2.log" in result.stderr and "failing 2" in result.stderr


def test_slurm_pl_rejects_an_option_the_site_config_does_not_map(tmp_path):
    (tmp_path / "slurm.conf").write_text("command sbatch\n")
    result = bash(f"{UTILS}/slurm.pl --config slurm.conf --gpu 1 log/a.log true", tmp_path)
    assert result.returncode != 0 and "slurm.conf says nothing about option --gpu" in result.stderr


@pytest.mark.parametrize(
    "lines, message",
    [
        ("nj=2\njobs=3\n", "unknown option jobs (in my.conf:2)"),
        ("# comment\n\nnj=two\n", "option nj (in my.conf:3) takes a whole number, got 'two'"),
        ("nj 2\n", "my.conf:1: expected 'name=value', got 'nj 2'"),
        ("PATH=/x\n", "unknown option PATH (in my.conf:1)"),
    ],
)
def test_a_config_file_obeys_the_command_line_rules(tmp_path, lines, message):
    (tmp_path / "s.sh").write_text(OPTIONS_SCRIPT)
    (tmp_path / "my.conf").write_text(lines)
    result = bash("bash s.sh --config my.conf", tmp_path)
    assert result.returncode != 0 and message in result.stderr and "nj=" not in result.stdout


def test_a_config_file_takes_quoted_values_and_comments(tmp_path):
    (tmp_path / "s.sh").write_text(OPTIONS_SCRIPT)
    (tmp_path / "my.conf").write_text('# site settings\ntrain_config="c d.yaml"\n  nj=2\n')
    expected = "nj=2 use_gpu=false train_config=c d.yaml rest="
    assert bash("bash s.sh --config my.conf", tmp_path).stdout.strip() == expected
