"""run_training, what both training commands do around their training: skip a complete exp dir, set torch's
threads, and leave the process group even when training fails."""

import pytest
import torch

from avvae.fileio.atomic import mark_done
from avvae.training import distributed
from avvae.training.run import run_training
from tests.training_data import torch_threads


@pytest.fixture
def stops(monkeypatch) -> list:
    """The placements the process group was left with, in order."""
    stopped = []
    monkeypatch.setattr(distributed, "stop", stopped.append)
    return stopped


@pytest.fixture(autouse=True)
def keep_threads():
    with torch_threads():
        yield


def test_a_complete_exp_dir_is_left_alone(tmp_path, stops):
    mark_done(tmp_path)
    threads = torch.get_num_threads()
    run_training(tmp_path, threads + 1, "cpu", lambda placement: pytest.fail("trained a complete exp dir"))
    assert torch.get_num_threads() == threads and stops == []


def test_training_runs_on_the_configured_threads_and_the_group_is_left_after_a_failure(tmp_path, stops):
    seen, wanted = [], torch.get_num_threads() + 1

    def train(placement: distributed.Placement) -> None:
        seen.append((placement, torch.get_num_threads()))
        raise ValueError("diverged")

    with pytest.raises(ValueError, match="diverged"):
        run_training(tmp_path, wanted, "cpu", train)
    assert seen == [(distributed.Placement(0, 1, torch.device("cpu")), wanted)]
    assert stops == [seen[0][0]]
