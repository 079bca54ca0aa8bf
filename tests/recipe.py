"""A private copy of a recipe folder (egs/<corpus>), so tests run its stages without touching egs/."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from avvae.bin import decode, score, train
from tests.commands import kill_when
from tests.training_data import history_rows, torch_threads

ROOT = Path(__file__).resolve().parents[1]
# Real GRID videos (s1 and s4) for the tests, kept beside the repository in CI: too few to train on.
REAL_GRID = ROOT.parent / "shared" / "real" / "grid"
NOT_COPIED = ("corpus", "data", "dump", "exp", "db.sh")  # outputs, and the site's corpus locations
CORPUS_LOCATIONS = ("NTCD_TIMIT", "GRID", "GRID_NOISE")  # a site's corpora, which tests must not see
TINY = {  # config -> {key: value}: two-epoch training, one diagnosed utterance (the diagnostics of 16 took 10-20 s
    # a part) and short chains, so that tests run every stage quickly
    **{
        f"train_{model}.yaml": {
            "epochs": 2,
            "decoder_epochs": 1,
            "segments_per_utterance": 1,
            "diagnostic_utterances": 1,
            "sd": {"epochs": 2, "segments_per_utterance": 2},
        }
        for model in ("avae", "avvae")
    },
    "train_cvae.yaml": {"epochs": 2, "segments_per_utterance": 1, "diagnostic_utterances": 1, "sd": {"epochs": 1}},
    "train_supervised.yaml": {"epochs": 2, "segments_per_utterance": 1},
    "mix.yaml": {"num_mixtures": 3},
    "mix_unseen.yaml": {"num_mixtures": 2},
    "mcem.yaml": {"iterations": 3, "draws": 4, "burn_in": 2, "final_draws": 4, "final_burn_in": 2},
    "mcem_sd.yaml": {"iterations": 3, "draws": 4, "burn_in": 2, "final_draws": 4, "final_burn_in": 2},
    "nmf.yaml": {"train_iterations": 20, "separate_iterations": 10},
}
# mini_av's lip setting for every recipe copy: NTCD-TIMIT's tree test fine-tunes the shared run's SI AV-VAE with its
# own config, whose model section must then be the same
TINY["train_avvae.yaml"]["model"] = {"lip_normalise": "mean"}


def copy_recipe(destination: Path, corpus: str = "mini_av") -> Path:
    """Copy egs/<corpus> (steps and utils as real copies, no outputs, no db.sh) with a path.sh pointing at this repo."""
    recipe = destination / corpus
    shutil.copytree(ROOT / "egs" / corpus, recipe, symlinks=False, ignore=shutil.ignore_patterns(*NOT_COPIED))
    (recipe / "path.sh").write_text(f". {ROOT}/path.sh\n")
    return recipe


TINY_RUN = ("./run.sh", "--local_data_opts", "--size tiny")  # run.sh on the tiny corpus


def recipe_env() -> dict[str, str]:
    """The environment run.sh gets in tests: jobs on this machine, no site corpus locations."""
    env = {name: value for name, value in os.environ.items() if name not in CORPUS_LOCATIONS}
    return {**env, "AVVAE_CMD_BACKEND": "local"}


def run_recipe(recipe: Path, *options: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the recipe's run.sh with the tiny corpus and the given options; stdout+stderr in .stdout."""
    return run_script(recipe, *TINY_RUN[1:], *options, check=check)


def run_script(recipe: Path, *options: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the recipe's run.sh with exactly these options, jobs on this machine; stdout+stderr in .stdout."""
    command = ["./run.sh", *options]
    result = subprocess.run(
        command, cwd=recipe, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=recipe_env()
    )
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


MODELS = ("--si_models", "avae avvae", "--sd_models", "avvae")  # CVAE trains and decodes like these two
KILL_STAGES = (4, 5, 7)  # the stages the shared run is killed in once each, then rerun


def tiny_recipe(destination: Path) -> Path:
    """mini_av on the tiny corpus with the TINY configs, through the feature dump (stage 3) in two jobs."""
    recipe = copy_recipe(destination)
    shrink_configs(recipe)
    run_recipe(recipe, "--stop_stage", "3", "--nj", "2")
    return recipe


def kill_in(recipe: Path, options: tuple[str, ...], ready: Callable[[], Path | None], seconds: float = 600) -> Path:
    """Start run.sh with the tiny corpus and `options`, SIGKILL its whole process group as soon as `ready()` names
    a folder (the work in progress), and return that folder; fail if run.sh ended first."""
    command = [*TINY_RUN, *options]
    folder = kill_when(command, recipe, ready, recipe_env(), seconds)
    if folder is None:
        raise AssertionError(f"{' '.join(command)} ended before it could be killed")
    return folder


def _training_in_progress(folders: Callable[[], list[Path]]) -> Callable[[], Path | None]:
    """The first training folder that has finished an epoch but not its training."""

    def ready() -> Path | None:
        return next((f for f in folders() if history_rows(f) and not (f / ".done").exists()), None)

    return ready


def _decoding_in_progress(recipe: Path) -> Path | None:
    """The first MCEM decode folder that has separated a mixture but not all of them."""
    for folder in sorted(recipe.glob("exp/*_s[id]/decode_*")):
        if any(folder.glob("wav/*_noise.wav")) and not (folder / ".done.decode").exists():
            return folder
    return None


def complete_mixtures(decode: Path) -> dict[Path, tuple[bytes, int]]:
    """The wav files of the mixtures a decode folder has all outputs of: contents and modification time."""
    kept = {}
    for noise in decode.glob("wav/*_noise.wav"):
        stem = noise.name[: -len("_noise.wav")]
        paths = [noise, *(noise.with_name(f"{stem}_s{j}.wav") for j in (1, 2))]
        if all(path.is_file() for path in paths):
            kept.update({path: (path.read_bytes(), path.stat().st_mtime_ns) for path in paths})
    return kept


@dataclass
class Interruption:
    """What run.sh had left in the folder it was working on when it was killed: history rows or finished wavs."""

    folder: Path
    rows: list[str] = field(default_factory=list)
    wavs: dict[Path, tuple[bytes, int]] = field(default_factory=dict)


@dataclass
class TrainedRecipe:
    """The shared tiny run through RESULTS.md: its folder, the log of the run that finished it, and what each of
    the killed runs (stages 4, 5 and 7) had left."""

    path: Path
    log: str
    killed: dict[int, Interruption]


def train_and_separate(recipe: Path) -> TrainedRecipe:
    """Stages 4 to 9 of `tiny_recipe`, killed once in the SI training of the A-VAE (stage 4), once in the SD
    training (stage 5) and once in a MCEM separation (stage 7), each time rerun from stage 4."""
    options = ("--stage", "4", "--nj", "1", *MODELS)
    killed = {}
    in_si = _training_in_progress(lambda: [recipe / "exp" / "avae_si"])
    in_sd = _training_in_progress(
        lambda: sorted(recipe.glob("exp/avvae_sd/*/decoder")) + sorted(recipe.glob("exp/avvae_sd/*"))
    )
    for stage, ready in ((4, in_si), (5, in_sd), (7, lambda: _decoding_in_progress(recipe))):
        folder = kill_in(recipe, options, ready)
        killed[stage] = Interruption(folder, history_rows(folder), complete_mixtures(folder))
    log = run_recipe(recipe, *options).stdout
    return TrainedRecipe(recipe, log, killed)


def separate_with_shared_models(recipe: Path, shared: Path, sd_speakers: tuple[str, ...] = ()) -> list[Path]:
    """Stages 5 to 8 of a corpus recipe whose stages 1-3 ran, in this process and with the shared run's SI AV-VAE
    (stages 4-9 themselves are tested once, on the shared run): SD training of `sd_speakers` from it with the
    recipe's own (TINY) training config, MCEM with the recipe's config on its test mixtures, scoring. Returns the
    decode folders (SI, then SD when trained)."""
    exp, dump = recipe / "exp", recipe / "dump"
    shutil.copytree(shared / "exp" / "avvae_si", exp / "avvae_si", ignore=shutil.ignore_patterns("decode_*"))
    with torch_threads():  # the training entry point sets its config's number for this whole process
        for spk in sd_speakers:
            train.main(
                train.build_parser().parse_args(
                    [
                        "--config",
                        str(recipe / "conf" / "train_avvae.yaml"),
                        "--train",
                        str(dump / "train_sd" / "feats.h5"),
                        "--noise",
                        str(dump / "noise_train" / "feats.h5"),
                        "--speaker",
                        spk,
                        "--interferers",
                        str(dump / "train_si" / "feats.h5"),
                        "--init",
                        str(exp / "avvae_si" / "model.pt"),
                        str(exp / "avvae_sd" / spk),
                    ]
                )
            )
    decodes = []
    for model, extra in (("avvae_si", []), ("avvae_sd", ["--speaker-dependent"]))[: 2 if sd_speakers else 1]:
        decodes.append(exp / model / "decode_test_mix")
        decode.main(
            decode.build_parser().parse_args(
                [
                    str(dump / "test_mix" / "feats.h5"),
                    str(decodes[-1]),
                    "--method",
                    "mcem",
                    "--model-dir",
                    str(exp / model),
                    "--config",
                    str(recipe / "conf" / "mcem.yaml"),
                    *extra,
                ]
            )
        )
    for options in (["--job", "1"], ["--merge"]):
        score.main(score.build_parser().parse_args([*options, str(recipe / "data" / "test_mix"), *map(str, decodes)]))
    return decodes
