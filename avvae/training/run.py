"""What every training command does around its training: nothing when the exp dir is already complete, torch on
the configured number of threads, and, under torchrun, the process group joined before training and left after."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import torch

from avvae.fileio.atomic import is_done
from avvae.training import distributed
from avvae.training.distributed import Placement

log = logging.getLogger(__name__)


def run_training(exp_dir: Path, num_threads: int, device: str, train: Callable[[Placement], None]) -> None:
    """Call `train(placement)` unless `exp_dir` holds a done marker; `num_threads` 0 keeps torch's default. The
    process group is left even when training fails, so a failed rank does not hang the others' exit."""
    if is_done(exp_dir):
        log.info("%s is complete, nothing to do", exp_dir)
        return
    if num_threads > 0:
        torch.set_num_threads(num_threads)
    placement = distributed.start(device)
    try:
        train(placement)
    finally:
        distributed.stop(placement)
