"""A private copy of a recipe folder (egs/<corpus>), so tests run its stages without touching egs/."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ("corpus", "data", "dump", "exp")


def copy_recipe(destination: Path, corpus: str = "mini_av") -> Path:
    """Copy egs/<corpus> (steps and utils as real copies, no outputs) with a path.sh pointing at this repo."""
    recipe = destination / corpus
    shutil.copytree(ROOT / "egs" / corpus, recipe, symlinks=False, ignore=shutil.ignore_patterns(*OUTPUTS))
    (recipe / "path.sh").write_text(f". {ROOT}/path.sh\n")
    return recipe


def run_recipe(recipe: Path, *options: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the recipe's run.sh with the tiny corpus and the given options; stdout+stderr in .stdout."""
    return run_script(recipe, "--local_data_opts", "--size tiny", *options, check=check)


def run_script(recipe: Path, *options: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the recipe's run.sh with exactly these options, jobs on this machine; stdout+stderr in .stdout."""
    command = ["./run.sh", *options]
    result = subprocess.run(command, cwd=recipe, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "AVVAE_CMD_BACKEND": "local"})
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout[-4000:]}")
    return result
