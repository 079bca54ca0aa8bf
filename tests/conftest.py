"""Fixtures shared by several test modules: small dumped feature sets for training and decoding tests, the synthetic
MCEM speakers, and one tiny mini_av recipe run (stages 1-3, then 4-9) that the recipe tests of every corpus read."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from avvae.mcem.synthetic import fit_encoders, speaker_model
from tests.recipe import TrainedRecipe, tiny_recipe, train_and_separate
from tests.training_data import TrainingFeats, make_training_feats


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


@pytest.fixture(scope="session")
def shared_recipe(tmp_path_factory) -> Path:
    """A copy of mini_av with the tiny corpus and configs, run through stage 3 (corpus, mixtures, features): the
    recipe tests carry it through every stage (`shared_run`), the cluster tests decode its test mixtures elsewhere.
    One session fixture, so that the tiny corpus is generated once."""
    return tiny_recipe(tmp_path_factory.mktemp("egs"))


@pytest.fixture(scope="session")
def recipe(shared_recipe) -> Path:
    """`shared_recipe`, under the name the recipe and cluster tests use (a module may define its own `recipe`)."""
    return shared_recipe


@pytest.fixture(scope="session")
def shared_run(shared_recipe) -> TrainedRecipe:
    """The same recipe through RESULTS.md (killed once in stages 4, 5 and 7 and rerun): run once per session."""
    return train_and_separate(shared_recipe)
