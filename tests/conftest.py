"""Fixtures shared by several test modules: small dumped feature sets for training and decoding tests, the synthetic
MCEM speakers, and one tiny mini_av recipe run through RESULTS.md that the recipe tests of every corpus read. That
run starts in a process of its own when the test run begins (tests/shared_run.py) and the tests that read its end
are moved to the end of the test run, so that it uses the second core meanwhile."""

from __future__ import annotations

import os

# One thread per process, in this one and every process a test starts: the test run does two things at once, and
# a second thread that waits for a busy core spins (some numpy and torch calls took 10-60 times as long).
os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")

from pathlib import Path

# Every process a test starts (recipes through path.sh included) imports the avvae of this checkout, the one under
# test, not the one .venv has installed (tools/bootstrap.sh installs it editable from the checkout that ran it).
ROOT = Path(__file__).resolve().parents[1]
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

import pytest
import torch

from avvae.mcem.synthetic import fit_encoders, speaker_model
from tests import shared_run as background
from tests.recipe import TrainedRecipe
from tests.training_data import TrainingFeats, make_training_feats

torch.set_num_threads(1)  # in case a plugin imported torch before the environment was set


@pytest.fixture(scope="session")
def training_feats(tmp_path_factory) -> TrainingFeats:
    return make_training_feats(Path(tmp_path_factory.mktemp("training_feats")))


@pytest.fixture(scope="session")
def speakers() -> list:
    """Two synthetic speaker VAEs (avvae.mcem.synthetic) with encoders fitted to their decoders, for the MCEM tests
    (test_mcem, test_mcem_fast); a module may define its own `speakers` instead. Never modified by a test."""
    torch.set_num_threads(1)
    models = [speaker_model(1), speaker_model(2)]
    fit_encoders(models, 300, torch.Generator().manual_seed(0))
    return models


def _reads(item: pytest.Item, fixture: str) -> bool:
    return fixture in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests that read the shared run's end last, so that the run has the most time to finish in the
    background. Their modules are split, so what those tests share with the rest of their module is a test-run-wide
    fixture (a module fixture would be made twice)."""
    items.sort(key=lambda item: _reads(item, "shared_run"))


@pytest.fixture(scope="session", autouse=True)
def _shared_run_process(request, tmp_path_factory):
    """The shared recipe's process, started with the test run when a selected test reads it (None otherwise); it
    stops after the features when no selected test reads the whole run."""
    wanted = {
        fixture
        for item in request.session.items
        for fixture in ("shared_recipe", "shared_run")
        if _reads(item, fixture)
    }
    if not wanted:
        yield None
        return
    folder = tmp_path_factory.mktemp("shared_run")
    process = background.start(folder, stop_after_features="shared_run" not in wanted)
    yield process, folder
    background.stop(process)


@pytest.fixture(scope="session")
def shared_recipe(_shared_run_process) -> Path:
    """A copy of mini_av with the tiny corpus and configs through stage 3 (corpus, mixtures, features), which the
    background run goes on to train and separate: read it, change nothing (a test that changes stage 1-3 outputs
    takes `shared_run`, which is over by then)."""
    return background.features(*_shared_run_process)


@pytest.fixture(scope="session")
def shared_run(_shared_run_process) -> TrainedRecipe:
    """`shared_recipe` through RESULTS.md (killed once in stages 4, 5 and 7 and rerun): run once per test run."""
    return background.result(*_shared_run_process)
