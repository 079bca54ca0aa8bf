"""Stage times: utils/stage_times.sh logs each stage's wall and CPU time from its banner, and avvae.bin.make_timing
turns the log into TIMING.md."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from avvae.evaluation.timing import read_stage_times, timing_markdown

ROOT = Path(__file__).resolve().parents[1]

# A recipe in miniature: the real helpers, one stage that burns CPU in a child, one that only waits, and a child's
# CPU run through run.pl, as the recipe's jobs are.
RECIPE = f"""
set -euo pipefail
. {ROOT}/utils/log.sh
. {ROOT}/utils/stage_times.sh
log "Stage 1: busy child"
{sys.executable} -c "import time; end = time.process_time() + 0.6
while time.process_time() < end: pass"
log "not a banner"
log "Stage 3: waiting"
sleep 0.5
log "Stage 4: a job through run.pl"
{ROOT}/utils/run.pl exp/log/busy.log {sys.executable} -c "import time; end = time.process_time() + 0.4
while time.process_time() < end: pass"
log "Stage 5: fails"
false
"""


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "run.sh").write_text(RECIPE)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "run.sh"], cwd=folder, capture_output=True, text=True, env=env)
    assert result.returncode == 1, result.stderr  # the failing stage's status is the script's
    return folder


def test_each_stage_run_gets_its_wall_and_cpu_time(recipe):
    runs = read_stage_times(recipe / "exp" / "stage_times.tsv")
    assert [(run.stage, run.name, run.status) for run in runs] == [
        (1, "busy child", "ok"),
        (3, "waiting", "ok"),
        (4, "a job through run.pl", "ok"),
        (5, "fails", "failed (exit 1)"),
    ]
    busy, waiting, job, failed = runs
    assert busy.cpu >= 0.5 and busy.wall >= 0.5
    assert waiting.wall >= 0.5 and waiting.cpu < 0.3
    assert job.cpu >= 0.3  # the grandchild that run.pl waited for counts
    assert failed.wall < 0.5


def test_timing_md_is_generated_at_exit(recipe):
    text = (recipe / "TIMING.md").read_text()
    assert text.startswith(f"# {recipe.name}: stage times")
    rows = [line for line in text.splitlines() if line.startswith("| 3 | waiting |")]
    assert len(rows) == 1 and "| 1 |" in rows[0]  # one run of stage 3


def test_latest_and_longest_runs_of_a_stage(tmp_path):
    log = tmp_path / "stage_times.tsv"
    log.write_text(
        "4\ttraining\t500.0\t900.0\t2024-01-01T10:00:00\tok\n4\ttraining\t0.5\t0.4\t2024-01-02T10:00:00\tok\n"
    )
    row = next(line for line in timing_markdown(read_stage_times(log), "x").splitlines() if line.startswith("| 4 |"))
    assert row == ("| 4 | training | 2 | 0.5 s | 0.4 s | 0.80 | ok | 8.3 min | 15.0 min | 2024-01-01T10:00:00 |")


def test_a_malformed_line_is_an_error_naming_the_file_and_line(tmp_path):
    log = tmp_path / "stage_times.tsv"
    log.write_text("1\tdata\t1.0\t1.0\t2024-01-01T10:00:00\tok\n2\tmixtures\tquick\t1.0\t2024\tok\n")
    with pytest.raises(ValueError, match=r"stage_times.tsv, line 2: .*quick"):
        read_stage_times(log)
