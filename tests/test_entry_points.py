"""The repository's real entry points, not the test copies of tests/recipe.py: the top-level run.sh and each
recipe's run.sh, which source their own path.sh and cmd.sh (`--stage 10` runs no stage and writes nothing), and
each recipe's path.sh, which puts the project's environment and shell helpers first on a bare PATH."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BARE = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LC_ALL": "C"}
RECIPES = ("mini_av", "grid", "ntcd_timit")


def files_under_egs() -> dict[Path, int]:
    return {path: path.stat().st_mtime_ns for path in (ROOT / "egs").rglob("*") if path.is_file()}


@pytest.mark.parametrize("script", ["run.sh", *(f"egs/{corpus}/run.sh" for corpus in RECIPES)])
def test_run_sh_sources_its_path_and_cmd_and_stage_10_does_nothing(script, tmp_path):
    before = files_under_egs()
    result = subprocess.run(
        [str(ROOT / script), "--stage", "10"], cwd=tmp_path, env=BARE, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Successfully finished" in result.stderr + result.stdout
    assert files_under_egs() == before


@pytest.mark.parametrize("corpus", RECIPES)
def test_path_sh_puts_the_environment_and_helpers_first(corpus):
    """No PYTHONPATH: the recipes find this checkout's avvae through .venv's editable install (tools/bootstrap.sh)."""
    command = (
        '. ./path.sh && command -v python && command -v run.pl && echo "${PYTHONPATH-unset}" && '
        "python -c 'import avvae; print(avvae.__file__)'"
    )
    result = subprocess.run(
        ["bash", "-c", command], cwd=ROOT / "egs" / corpus, env=BARE, capture_output=True, text=True
    )
    lines = result.stdout.split()
    assert lines[:3] == [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "utils" / "run.pl"), "unset"], result.stderr
    venv = (ROOT / ".venv").resolve()
    if not venv.is_relative_to(ROOT):
        pytest.skip(f".venv is {venv}, another checkout's: the avvae installed there, if any, is that checkout's")
    assert result.returncode == 0 and lines[3:] == [str(ROOT / "avvae" / "__init__.py")], (
        f"{result.stderr}\nthe recipes import another avvae, or none: run tools/bootstrap.sh"
    )
