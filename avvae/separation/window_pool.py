"""MCEM over the windows of a long soundtrack, on as many cores as the process may use, without ever running more
threads than those cores.

Each window is an independent MCEM problem (its own generator seed, its own noise model), so the windows are spread
over worker processes, one per core, each on `threads` torch threads (1 by default). Processes rather than
threads inside torch: when another program takes one of the cores, a process that shares it simply gets its share
of that core, while torch's threads wait for each other at every one of MCEM's thousands of small operations and
the run slows 20 to 30 times (docs/performance.md). A window's result does not depend on how many workers there are:
the same windows give the same outputs, in order, on one core or eight.

The workers read the mouth crops from their memory-mapped files on disk and get the soundtrack a window at a time, so
the memory stays bounded however long the video; at most two windows per worker are waiting or in flight. On a GPU
(`device: cuda`) and on one core the windows run in this process, one after the other. The workers are started
afresh ("spawn"), importing the main module: a script of one's own that separates a video must keep its work under
`if __name__ == "__main__":`, as for any use of multiprocessing.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from avvae.features import FeatureConfig
from avvae.fileio.lips import resample_lips
from avvae.mcem import McemConfig, separate
from avvae.models import SpeechVAE
from avvae.separation.decode import SeparationError
from avvae.stft import istft, stft

TASKS_PER_WORKER = 2


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a batch system or `taskset` may narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_count(mcem: McemConfig, windows: int, cores: int | None = None) -> int:
    """How many processes separate `windows` windows: one per `mcem.threads` of the usable cores (all of them for
    threads 0, torch's own choice), never more than the windows; 1 on a GPU."""
    if mcem.device != "cpu":
        return 1
    cores = usable_cores() if cores is None else cores
    return max(1, min(windows, cores // mcem.threads if mcem.threads > 0 else 1))


@dataclass
class WindowJob:
    """What every window of one video shares: the models (one per face), the MCEM and feature settings, the mouth
    crop files (one per face, uint8 [T, S, S] .npy) and their frame rate, and the soundtrack's peak."""

    models: list[SpeechVAE]
    mcem: McemConfig
    features: FeatureConfig
    crop_files: list[Path]
    fps: float
    peak: float

    def separate(self, start: int, samples: np.ndarray) -> np.ndarray:
        """The separated speakers and noise [J + 1, len(samples)] of the window of the soundtrack that begins at
        sample `start`, at the soundtrack's level."""
        rate = self.features.sample_rate
        crops = [np.load(path, mmap_mode="r") for path in self.crop_files]
        mixture = stft(samples / self.peak, self.features.stft)
        times = self.features.stft.frame_times(mixture.shape[0]) + start / rate
        # Audio running past the last frame takes the last frame (resample_lips clamps within the slice).
        first = min(int(np.floor(times[0] * self.fps)), len(crops[0]) - 1)
        last = int(np.ceil(times[-1] * self.fps)) + 1
        interpolation = self.features.lips_interpolation
        lips = [
            torch.from_numpy(
                resample_lips(np.asarray(crop[first:last]), self.fps, times - first / self.fps, interpolation)
            )
            for crop in crops
        ]
        result = separate(mixture, lips, self.models, self.mcem)
        estimates = torch.cat([result.sources, result.noise[None]]).cpu()
        return istft(estimates, self.features.stft, len(samples)).numpy() * self.peak


_WORKER_JOB: WindowJob | None = None


def _start_worker(job: WindowJob) -> None:
    global _WORKER_JOB
    _WORKER_JOB = job


def _separate_in_worker(start: int, samples: np.ndarray) -> np.ndarray:
    return _WORKER_JOB.separate(start, samples)


def separated_windows(
    job: WindowJob, soundtrack: np.ndarray, plan: list[tuple[int, int]], workers: int
) -> Iterator[np.ndarray]:
    """Each window's outputs (WindowJob.separate) in the order of `plan`, computed by `workers` processes (in this
    process for one), at most TASKS_PER_WORKER windows per worker handed out ahead."""
    if workers <= 1:
        for start, end in plan:
            yield job.separate(start, soundtrack[start:end])
        return
    context = multiprocessing.get_context("spawn")  # a forked child of a process that ran torch can hang
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(job,)) as pool:
        pending: deque[Future] = deque()
        windows = iter(plan)
        try:
            for start, end in windows:
                pending.append(pool.submit(_separate_in_worker, start, soundtrack[start:end]))
                if len(pending) >= TASKS_PER_WORKER * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool as error:
            raise SeparationError(
                f"a worker process of the separation stopped before its window was done ({error}): was it killed, or "
                "out of memory? Give it fewer cores (taskset) or shorter windows (window_seconds in --video-config)"
            ) from error
        finally:
            for future in pending:
                future.cancel()
