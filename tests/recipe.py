"""A private copy of a recipe folder (egs/<corpus>), so tests run its stages without touching egs/."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_COPIED = ("corpus", "data", "dump", "exp", "db.sh")  # outputs, and the site's corpus locations
CORPUS_LOCATIONS = ("NTCD_TIMIT", "GRID", "GRID_NOISE")  # a site's corpora, which tests must not see


def copy_recipe(destination: Path, corpus: str = "mini_av") -> Path:
    """Copy egs/<corpus> (steps and utils as real copies, no outputs, no db.sh) with a path.sh pointing at this repo."""
    recipe = destination / corpus
    shutil.copytree(ROOT / "egs" / corpus, recipe, symlinks=False, ignore=shutil.ignore_patterns(*NOT_COPIED))
    (recipe / "path.sh").write_text(f". {ROOT}/path.sh\n")
    return recipe


def run_recipe(recipe: Path, *options: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the recipe's run.sh with the tiny corpus and the given options; stdout+stderr in .stdout."""
    return run_script(recipe, "--local_data_opts", "--size tiny", *options, check=check)


def run_script(recipe: Path, *options: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the recipe's run.sh with exactly these options, jobs on this machine; stdout+stderr in .stdout."""
    command = ["./run.sh", *options]
    env = {name: value for name, value in os.environ.items() if name not in CORPUS_LOCATIONS}
    result = subprocess.run(command, cwd=recipe, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**env, "AVVAE_CMD_BACKEND": "local"})
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout[-4000:]}")
    return result
