"""utils/slurm.pl against a real single-node Slurm (tools/slurm_local.sh), not a stand-in sbatch: a job array with a
log and an exit code per task, a failing task that fails the stage with its log's tail, --max-jobs-run, the recipe's
decode and score stages under AVVAE_CMD_BACKEND=slurm giving run.pl's outputs, a resubmitted decode that does only
what is missing, training through train_cmd, and the example site config's GPU, memory and time flags as Slurm
records them. Skipped, with the reason in the summary, where the cluster cannot run (packages or root missing)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from avvae.config import save_config
from tests.recipe import copy_recipe
from tests.training_data import small_config

pytestmark = [pytest.mark.slurm, pytest.mark.recipe]

ROOT = Path(__file__).resolve().parents[1]
SLURM_LOCAL = ROOT / "tools" / "slurm_local.sh"
CANNOT_RUN = 2  # slurm_local.sh's exit status when this machine lacks the packages or root


@pytest.fixture(scope="module")
def cluster() -> dict[str, str]:
    """The local cluster, with one declared GPU; the environment its clients need. Stopped at the end if this
    module started it, left running if it was."""
    was_running = subprocess.run([SLURM_LOCAL, "--status"], capture_output=True).returncode == 0
    started = subprocess.run([SLURM_LOCAL, "--gpus", "1"], capture_output=True, text=True, timeout=120)
    if started.returncode == CANNOT_RUN:
        pytest.skip(f"no local Slurm: {started.stderr.strip()}")
    assert started.returncode == 0, started.stderr
    conf = started.stdout.strip().removeprefix("export SLURM_CONF=")
    yield {**os.environ, "SLURM_CONF": conf}
    if not was_running:
        subprocess.run([SLURM_LOCAL, "--stop"], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A recipe copy whose conf/slurm.conf is the example site config, as a new user would make it."""
    recipe = copy_recipe(tmp_path_factory.mktemp("site"))
    shutil.copy(recipe / "conf" / "slurm.conf.example", recipe / "conf" / "slurm.conf")
    return recipe


def slurm_pl(site: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """utils/slurm.pl with the site config, run in the recipe copy (its jobs source its path.sh)."""
    return subprocess.run(
        [ROOT / "utils" / "slurm.pl", "--config", "conf/slurm.conf", *args],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def in_recipe(site: Path, env: dict[str, str], backend: str, script: str) -> subprocess.CompletedProcess:
    """A bash script run in the recipe copy after path.sh and cmd.sh, with the given AVVAE_CMD_BACKEND."""
    return subprocess.run(
        ["bash", "-c", f"set -e; . ./path.sh; . ./cmd.sh; {script}"],
        cwd=site,
        env={**env, "AVVAE_CMD_BACKEND": backend},
        capture_output=True,
        text=True,
        timeout=300,
    )


def log_lines(site: Path, name: str) -> list[str]:
    return (site / "log" / name).read_text().splitlines()


def test_a_job_array_runs_each_task_in_slurm_with_its_own_log(cluster, site):
    command = "echo task JOB is ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
    result = slurm_pl(site, cluster, "JOB=1:2", "log/array.JOB.log", *command.split())
    assert result.returncode == 0, result.stderr
    arrays = set()
    for task in (1, 2):
        lines = log_lines(site, f"array.{task}.log")
        assert lines[0] == "# " + command.replace("JOB", str(task), 1), "the command, as run.pl logs it"
        array, task_id = re.fullmatch(rf"task {task} is (\d+)_(\d+)", lines[2]).groups()
        assert task_id == str(task)
        arrays.add(array)
        assert lines[-1].startswith("# Ended (code 0)")
    assert len(arrays) == 1, "one sbatch array, not one job per task"


def test_failing_tasks_fail_the_stage_with_the_tail_of_the_first_failing_log(cluster, site):
    command = "echo task JOB ends with $((JOB-1)) ; exit $((JOB-1))"
    result = slurm_pl(site, cluster, "JOB=1:3", "log/fail.JOB.log", *command.split())
    assert result.returncode == 1
    assert "slurm.pl: 2 / 3 failed; tail of log/fail.2.log:" in result.stderr
    assert "task 2 ends with 1" in result.stderr and "task 3" not in result.stderr
    for task in (1, 2, 3):
        assert log_lines(site, f"fail.{task}.log")[-1].startswith(f"# Ended (code {task - 1})")


def test_max_jobs_run_keeps_tasks_from_overlapping(cluster, site):
    cpus = subprocess.run(["sinfo", "--noheader", "--format", "%c"], env=cluster, capture_output=True, text=True)
    if int(cpus.stdout.split()[0]) < 2:
        pytest.skip("the node has one CPU: its tasks never overlap, so a throttle could not be seen")
    # Each task holds a lock folder for a while: a second task running meanwhile cannot make it, and fails.
    command = "mkdir running.lock && sleep 0.3 && rmdir running.lock"
    result = slurm_pl(site, cluster, "--max-jobs-run", "1", "JOB=1:2", "log/throttle.JOB.log", *command.split())
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def decoded(cluster, site, shared_recipe, tmp_path_factory) -> dict[str, Path]:
    """The tiny recipe's test mixtures separated (oracle masks) and scored by steps/decode.sh and steps/score.sh in
    2 jobs, under run.pl and under Slurm at once (run.pl's jobs use the CPUs while sbatch waits between its polls):
    {backend: decode dir}."""
    out = tmp_path_factory.mktemp("decode")
    dirs = {backend: out / backend / "oracle" / "decode_test_mix" for backend in ("local", "slurm")}
    with ThreadPoolExecutor(len(dirs)) as pool:
        runs = {
            backend: pool.submit(in_recipe, site, cluster, backend, decode_and_score(shared_recipe, path))
            for backend, path in dirs.items()
        }
    for backend, run in runs.items():
        assert run.result().returncode == 0, f"{backend}: {run.result().stderr[-3000:]}"
    return dirs


def decode_and_score(recipe: Path, decode_dir: Path) -> str:
    mixtures, feats = recipe / "data" / "test_mix", recipe / "dump" / "test_mix" / "feats.h5"
    return (
        f"steps/decode.sh --cmd \"$decode_cmd\" --nj 2 --decode-opts '--method oracle' {mixtures} {feats} "
        f'{decode_dir}; steps/score.sh --cmd "$decode_cmd" --nj 2 {mixtures} {decode_dir}'
    )


def separated(decode_dir: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (decode_dir / "wav").glob("*.wav")}


def test_decode_and_score_under_slurm_give_the_outputs_of_run_pl(decoded):
    local, slurm = separated(decoded["local"]), separated(decoded["slurm"])
    assert len(local) == 3 * 3, "three mixtures, each two speakers and the noise"
    assert slurm == local
    scores = (decoded["local"] / "scores.tsv").read_text()
    assert len(scores.splitlines()) == 1 + 3 * 2 and (decoded["slurm"] / "scores.tsv").read_text() == scores
    assert (decoded["slurm"] / "log" / "q").is_dir() and not (decoded["local"] / "log" / "q").exists()
    host = subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip()
    for job in (1, 2):
        assert log_lines(decoded["slurm"], f"decode.{job}.log")[1].endswith(f" on {host}"), "slurm.pl's job log"


def test_a_resubmitted_decode_does_only_the_missing_work(cluster, site, shared_recipe, decoded, tmp_path):
    decode_dir = tmp_path / "decode_test_mix"
    shutil.copytree(decoded["slurm"], decode_dir)
    missing = sorted((decode_dir / "wav").glob("*_s1.wav"))[0]
    missing.unlink()
    (decode_dir / ".done.decode").unlink()
    others = {
        path: path.stat().st_mtime_ns
        for path in (decode_dir / "wav").glob("*.wav")
        if not path.name.startswith(missing.name.removesuffix("s1.wav"))
    }
    mixtures, feats = shared_recipe / "data" / "test_mix", shared_recipe / "dump" / "test_mix" / "feats.h5"
    result = in_recipe(
        site,
        cluster,
        "slurm",
        f"steps/decode.sh --cmd \"$decode_cmd\" --nj 2 --decode-opts '--method oracle' {mixtures} {feats} {decode_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    redone, skipped = 0, 0  # mixtures, over the jobs; a job with nothing to do says so before importing torch
    for log in sorted((decode_dir / "log").glob("decode.*.log")):
        text = log.read_text()
        if done := re.search(r"(\d+) mixtures separated, (\d+) already there", text):
            redone, skipped = redone + int(done[1]), skipped + int(done[2])
        else:
            skipped += int(re.search(r"all (\d+) mixtures of job \d+ are separated, nothing to do", text)[1])
    assert (redone, skipped) == (1, 2)
    assert {path: path.stat().st_mtime_ns for path in others} == others, "the other mixtures were not redone"
    assert separated(decode_dir) == separated(decoded["local"])


def test_training_through_train_cmd(cluster, site, training_feats, tmp_path):
    config = tmp_path / "train.yaml"
    save_config(small_config("avae", epochs=1, segments_per_utterance=1, diagnostic_utterances=1), config)
    exp = tmp_path / "exp" / "avae_si"
    result = in_recipe(
        site,
        cluster,
        "slurm",
        f"steps/train.sh --cmd \"$train_cmd\" --train-opts '--dev {training_feats.dev}' {config} "
        f"{training_feats.train} {training_feats.noise} {exp}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = (exp / "log" / "train.log").read_text().splitlines()
    assert (exp / "log" / "q" / "train.log.sh").is_file(), "submitted by slurm.pl"
    assert log[-1].startswith("# Ended (code 0)") and (exp / "model.pt").is_file() and (exp / ".done").is_file()


def test_cuda_cmd_gets_the_gpu_memory_and_time_flags_of_the_site_config(cluster, site):
    # The job prints its own record: what Slurm accepted, not what slurm.pl meant to ask for.
    result = in_recipe(
        site, cluster, "slurm", "$cuda_cmd --mem 1G --time 0:10:00 log/gpu.log scontrol show job '$SLURM_JOB_ID'"
    )
    assert result.returncode == 0, result.stderr
    record = " ".join(log_lines(site, "gpu.log"))
    assert "TresPerNode=gres:gpu:1" in record and "MinMemoryNode=1G" in record and "TimeLimit=00:10:00" in record

    refused = in_recipe(site, cluster, "slurm", "$cuda_cmd --gpu 2 log/gpu2.log true")
    assert refused.returncode == 1, "one GPU on the node: two cannot be granted"
    assert "Requested node configuration is not available" in refused.stderr
    assert "slurm.pl: 1 / 1 failed; tail of log/gpu2.log" in refused.stderr and "the job never ran" in refused.stderr
