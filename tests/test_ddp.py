"""DDP training under torchrun (two CPU processes, gloo) is one training, not two: its parameters are those of a
replay in this process where every step averages the gradients of the two processes' batches (batch 2k with
process 0's noise, batch 2k + 1 with process 1's), and far from what process 0 would reach on its own batches."""

import sys
from pathlib import Path

import pytest
import torch

from avvae.config import save_config
from avvae.models.files import CHECKPOINT_FORMAT, load_file, load_model
from avvae.training.setup import speaker_independent
from avvae.training.trainer import _generator
from tests.training_data import run_command, small_config, torch_threads, train_args

pytestmark = pytest.mark.slow

WORLD = 2


def replay(config, feats, processes: list[int]) -> dict[str, torch.Tensor]:
    """Train in this process as DDP does, each step on the batches of `processes` of each group of WORLD batches
    (each process drawing its noise from its own generator), their gradients averaged over WORLD."""
    run = speaker_independent(config, feats.train, feats.dev, feats.noise)
    objective = run.spec.objective(run.model).train()
    optimizer = torch.optim.Adam(run.model.parameters(), lr=run.schedule.learning_rate)
    for epoch in range(1, config.epochs + 1):
        generators = [_generator(config.seed, epoch, torch.device("cpu")) for _ in range(WORLD)]
        batches = run.train.batches(config.seed, epoch, config.batch_size)  # drawn one at a time, as in training
        for _ in range(run.train.num_batches(config.batch_size) // WORLD):
            group = [next(batches).to(torch.device("cpu")) for _ in range(WORLD)]
            optimizer.zero_grad()
            for rank in processes:
                (objective(group[rank], 1.0, generators[rank])["loss"] / WORLD).backward()
            optimizer.step()
    return run.model.state_dict()


def largest_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[name] - b[name]).abs().max()) for name in a)


def test_two_processes_under_torchrun_train_one_model(training_feats, tmp_path):
    config = small_config("avvae", epochs=2)
    save_config(config, tmp_path / "train.yaml")
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [
        str(torchrun),
        "--standalone",
        "--nproc_per_node",
        str(WORLD),
        "-m",
        "avvae.bin.train",
        *train_args(tmp_path / "train.yaml", training_feats, tmp_path / "exp"),
    ]
    result = run_command(command, check=False, OMP_NUM_THREADS="1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count("SI training: 24 utterances") == WORLD, "two processes"
    assert len((tmp_path / "exp" / "history.tsv").read_text().splitlines()) == 1 + 2
    assert load_model(tmp_path / "exp" / "model.pt").config.kind == "avvae", "the main process writes the model"
    trained = load_file(tmp_path / "exp" / "checkpoint.pt", CHECKPOINT_FORMAT)["model"]["state_dict"]

    with torch_threads(1):
        together, alone = replay(config, training_feats, [0, 1]), replay(config, training_feats, [0])
    assert trained.keys() == together.keys()
    assert largest_difference(trained, together) < 1e-4
    assert largest_difference(trained, alone) > 100 * max(largest_difference(trained, together), 1e-6)
