"""Several processes under torchrun (DDP): which one this is, and the process group around training.

Without torchrun (no WORLD_SIZE in the environment) training runs in one process on the device asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from avvae.devices import usable_device


@dataclass(frozen=True)
class Placement:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def start(device: str) -> Placement:
    """Join the process group when launched by torchrun (one GPU per process on CUDA, gloo on CPU)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    usable_device(device)
    if world_size == 1:
        return Placement(0, 1, torch.device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl")
        return Placement(rank, world_size, torch.device("cuda", local_rank))
    dist.init_process_group("gloo")
    return Placement(rank, world_size, torch.device(device))


def stop(placement: Placement) -> None:
    if placement.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
