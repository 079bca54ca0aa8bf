"""A private copy of a recipe folder (egs/<corpus>), so tests run its stages without touching egs/."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NOT_COPIED = ("corpus", "data", "dump", "exp", "db.sh")  # outputs, and the site's corpus locations
CORPUS_LOCATIONS = ("NTCD_TIMIT", "GRID", "GRID_NOISE")  # a site's corpora, which tests must not see
TINY = {  # config -> {key: value}: one-epoch training and short chains, so that tests run every stage quickly
    **{f"train_{model}.yaml": {"epochs": 2, "decoder_epochs": 1, "segments_per_utterance": 1,
                                "sd": {"epochs": 1, "segments_per_utterance": 2}}
       for model in ("avae", "avvae")},
    "train_cvae.yaml": {"epochs": 2, "segments_per_utterance": 1, "sd": {"epochs": 1}},
    "train_supervised.yaml": {"epochs": 2, "segments_per_utterance": 1},
    "mix.yaml": {"num_mixtures": 3},
    "mix_unseen.yaml": {"num_mixtures": 2},
    "mcem.yaml": {"iterations": 3, "draws": 4, "burn_in": 2, "final_draws": 4, "final_burn_in": 2},
    "nmf.yaml": {"train_iterations": 20, "separate_iterations": 10},
}


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


def shrink_configs(recipe: Path) -> None:
    """Overwrite the recipe copy's configs with the TINY values (the configs it lacks are left alone)."""
    for name, changes in TINY.items():
        path = recipe / "conf" / name
        if not path.is_file():
            continue
        values = yaml.safe_load(path.read_text())
        for key, value in changes.items():
            values[key] = {**values[key], **value} if isinstance(value, dict) else value
        path.write_text(yaml.safe_dump(values))
