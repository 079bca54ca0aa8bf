"""The job launch settings that every recipe shares: egs/<corpus>/cmd.sh and conf/slurm.conf.example are relative
links to the one copy in the top-level conf/, and work from the recipe folder as docs/cluster.md says."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted(run.parent for run in (ROOT / "egs").glob("*/run.sh"))
SHARED = {"cmd.sh": ROOT / "conf" / "cmd.sh", "conf/slurm.conf.example": ROOT / "conf" / "slurm.conf.example"}

# Stands in for Slurm's sbatch: records its flags, then runs the array's single task here.
FAKE_SBATCH = '#!/usr/bin/env bash\necho "$@" > sbatch.args\nbash "${@: -1}"\n'


def bash(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True, env={**os.environ, **env})


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda recipe: recipe.name)
def test_each_recipe_links_the_shared_files_and_sources_cmd_sh(recipe):
    for name, shared in SHARED.items():
        link = recipe / name
        assert link.is_symlink() and not os.path.isabs(os.readlink(link)), f"{link}: not a relative link"
        assert link.resolve() == shared, f"{link} points at {link.resolve()}, not {shared}"
    sourced = bash('. ./cmd.sh && echo "${train_cmd}|${cuda_cmd}"', recipe, AVVAE_CMD_BACKEND="slurm")
    assert sourced.stdout.strip() == "slurm.pl --config conf/slurm.conf|slurm.pl --config conf/slurm.conf --gpu 1"
    assert bash(". ./cmd.sh", recipe, AVVAE_CMD_BACKEND="pbs").stderr.strip() == (
        "cmd.sh: unknown cmd_backend 'pbs' (local or slurm)"
    )


def test_the_example_copied_into_a_recipe_maps_every_generic_option(tmp_path):
    """`cp conf/slurm.conf.example conf/slurm.conf` in a recipe gives a file (not a link) that slurm.pl reads."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "sbatch").write_text(FAKE_SBATCH)
    (tmp_path / "bin" / "sbatch").chmod(0o755)
    (tmp_path / "path.sh").write_text("")
    recipe = RECIPES[0]
    copied = bash(f"cp {recipe}/conf/slurm.conf.example conf/slurm.conf", tmp_path)
    assert copied.returncode == 0 and not (tmp_path / "conf" / "slurm.conf").is_symlink()
    launch = f"{ROOT}/utils/slurm.pl --mem 2G --gpu 1 --time 1:00:00 --num-threads 2 log/a.log echo ran"
    result = bash(launch, tmp_path, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    assert result.returncode == 0, result.stderr
    flags = (tmp_path / "sbatch.args").read_text().split()
    assert flags[:2] == ["--export=ALL", "--cpus-per-task=1"]
    assert {"--mem=2G", "--gres=gpu:1", "--time=1:00:00", "--cpus-per-task=2"} <= set(flags)
    assert "ran" in (tmp_path / "log" / "a.log").read_text()
