"""Fixtures shared by several test modules: small dumped feature sets for training and decoding tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training_data import TrainingFeats, make_training_feats


@pytest.fixture(scope="session")
def training_feats(tmp_path_factory) -> TrainingFeats:
    return make_training_feats(Path(tmp_path_factory.mktemp("training_feats")))
