"""The test run's shared tiny mini_av recipe, made in a process of its own that starts with the test run, so that
its single-core stages (about two and a half minutes) use the second core while the other tests run on the first.

`python -m tests.shared_run FOLDER [--stop-after-features]` makes FOLDER/mini_av through stage 3 (`tiny_recipe`)
and says so with FOLDER/features.done, then (unless told to stop there) through RESULTS.md (`train_and_separate`)
and pickles the `TrainedRecipe` to FOLDER/run.pkl. Everything it prints goes to FOLDER/run.log."""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.recipe import ROOT, TrainedRecipe, tiny_recipe, train_and_separate

FEATURES_DONE, RESULT, LOG = "features.done", "run.pkl", "run.log"


def start(folder: Path, stop_after_features: bool) -> subprocess.Popen:
    """Start the run in FOLDER in its own process group (so that a stop takes its run.sh jobs with it)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "tests.shared_run", str(folder)]
    with open(folder / LOG, "w") as log:
        return subprocess.Popen(
            command + ["--stop-after-features"] * stop_after_features,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _failed(process: subprocess.Popen, folder: Path) -> AssertionError:
    tail = (folder / LOG).read_text()[-4000:]
    return AssertionError(
        f"the shared recipe run failed (code {process.returncode}); the end of {folder / LOG}:\n{tail}"
    )


def features(process: subprocess.Popen, folder: Path) -> Path:
    """The recipe folder once its stage 3 is done (the run goes on meanwhile); fail with the log if it failed."""
    while not (folder / FEATURES_DONE).exists():
        if process.poll() is not None:
            raise _failed(process, folder)
        time.sleep(0.2)
    return folder / "mini_av"


def result(process: subprocess.Popen, folder: Path) -> TrainedRecipe:
    """Wait for the whole run and return what it made; fail with its log's tail if it failed."""
    if process.wait() != 0 or not (folder / RESULT).exists():
        raise _failed(process, folder)
    with open(folder / RESULT, "rb") as handle:
        return pickle.load(handle)


def stop(process: subprocess.Popen, grace: float = 10) -> None:
    """End a run that is still going (a test run that ended before it) with every job it started: SIGTERM lets it
    kill the run.sh it started in a process group of its own (`tests.commands.kill_when`), then its process group is
    killed."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):  # none of the group is left
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main(folder: Path, stop_after_features: bool) -> None:
    recipe = tiny_recipe(folder)
    (folder / FEATURES_DONE).touch()
    if stop_after_features:
        return
    trained = train_and_separate(recipe)
    partial = folder / f"{RESULT}.partial"
    with open(partial, "wb") as handle:
        pickle.dump(trained, handle)
    partial.rename(folder / RESULT)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--stop-after-features", action="store_true", help="no test of this test run reads stage 9")
    args = parser.parse_args()
    main(args.folder, args.stop_after_features)
