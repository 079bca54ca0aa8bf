"""MCEM over a long soundtrack's windows in worker processes: how many workers, and that they change nothing."""

import os

import numpy as np
import pytest

from avvae.features import FeatureConfig
from avvae.mcem import McemConfig
from avvae.models import ModelConfig, SpeechVAE
from avvae.separation.decode import SeparationError
from avvae.separation.overlap_add import plan_windows
from avvae.separation.window_pool import WindowJob, separated_windows, worker_count
from tests.signals import two_speaker_mixture

RATE = 16000
FPS = 25.0


@pytest.mark.parametrize(
    "threads, device, windows, cores, workers",
    [
        (1, "cpu", 3, 2, 2),  # one single-thread process per core
        (1, "cpu", 3, 8, 3),  # never more than the windows
        (1, "cpu", 1, 2, 1),  # one window: this process
        (2, "cpu", 4, 2, 1),  # two threads each: the two cores hold one process
        (2, "cpu", 4, 5, 2),  # ... and five cores hold two, not three
        (0, "cpu", 4, 2, 1),  # torch's own threads (a thread per core) in one process
        (1, "cuda", 4, 16, 1),  # the GPU, from this process
    ],
)
def test_workers_never_run_more_threads_than_the_usable_cores(threads, device, windows, cores, workers):
    assert worker_count(McemConfig(threads=threads, device=device), windows, cores) == workers


@pytest.mark.slow
def test_worker_processes_give_each_window_what_this_process_gives(tmp_path):
    """Each window is its own MCEM problem with its own seed: two worker processes (one thread each) return, in the
    plan's order, exactly what this process computes alone."""
    references, _ = two_speaker_mixture(7, seconds=3.0)
    samples = references.sum(0).astype(np.float32)
    rng = np.random.default_rng(0)
    crop_files = []
    for face in range(2):
        crop_files.append(tmp_path / f"mouths{face}.npy")
        np.save(crop_files[-1], rng.integers(0, 256, (int(3.0 * FPS), 67, 67), dtype=np.uint8))
    model = SpeechVAE(ModelConfig(kind="avvae", hidden_dim=32, lip_hidden=16, lip_embedding=8)).eval()
    model.requires_grad_(False)
    mcem = McemConfig(iterations=3, draws=4, burn_in=2, final_draws=4, final_burn_in=2, sampler="variational")
    peak = float(np.abs(samples).max())
    job = WindowJob([model, model], mcem, FeatureConfig(), crop_files, FPS, peak)
    plan = plan_windows(len(samples), int(1.2 * RATE), int(0.2 * RATE))
    assert len(plan) == 3
    alone = list(separated_windows(job, samples, plan, workers=1))
    shared = list(separated_windows(job, samples, plan, workers=2))
    assert [block.shape for block in shared] == [(3, end - start) for start, end in plan]
    for own, pooled in zip(alone, shared):
        np.testing.assert_array_equal(pooled, own)
    assert not np.allclose(alone[0][0], alone[0][1]), "two different speaker estimates"


class DyingJob(WindowJob):
    """A job whose worker process ends abruptly, as one the kernel kills for memory does."""

    def separate(self, start: int, samples: np.ndarray) -> np.ndarray:
        os._exit(3)


@pytest.mark.slow
def test_a_worker_that_dies_stops_the_separation_with_a_message():
    job = DyingJob([], McemConfig(), FeatureConfig(), [], FPS, 1.0)
    plan = [(0, 1000), (1000, 2000), (2000, 3000)]
    with pytest.raises(SeparationError, match="a worker process of the separation stopped .* out of memory"):
        list(separated_windows(job, np.zeros(3000, np.float32), plan, workers=2))
