"""Fixtures shared by several test modules: small dumped feature sets for training and decoding tests, and the tiny
recipe through its feature dump."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.recipe import copy_recipe, run_recipe, shrink_configs
from tests.training_data import TrainingFeats, make_training_feats


@pytest.fixture(scope="session")
def training_feats(tmp_path_factory) -> TrainingFeats:
    return make_training_feats(Path(tmp_path_factory.mktemp("training_feats")))


@pytest.fixture(scope="session")
def recipe(tmp_path_factory) -> Path:
    """A copy of mini_av with the tiny corpus and configs, run through stage 3 (corpus, mixtures, features): the
    recipe tests carry it through every stage, the cluster tests decode its test mixtures elsewhere. One session
    fixture, so that the tiny corpus is generated once."""
    recipe = copy_recipe(tmp_path_factory.mktemp("egs"))
    shrink_configs(recipe)
    run_recipe(recipe, "--stop_stage", "3", "--nj", "2")
    return recipe
