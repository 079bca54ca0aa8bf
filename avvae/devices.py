"""The torch device a command was asked to run on, checked before any work: a CUDA device on a machine without a
usable GPU is named as such, not reported later as a corrupt model file by torch.load."""

from __future__ import annotations

import torch

from avvae.errors import AvvaeError


class DeviceError(AvvaeError):
    """The requested device does not exist on this machine, or is not a device name."""


def usable_device(name: str | torch.device, source: str = "--device") -> torch.device:
    """The torch device `name` (cpu, cuda, cuda:<n>), after checking that this machine has it; `source` says where
    the name came from (an option or a config key) for the error message."""
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise DeviceError(f"{source} {name!r} is not a device name (cpu, cuda or cuda:<n>)") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"CUDA was requested ({source} {name}) but this machine has no usable GPU "
                "(torch.cuda.is_available() is False): use cpu, or run where a GPU is visible"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceError(
                f"CUDA device {device.index} was requested ({source} {name}) but this machine has "
                f"{count} usable GPU(s), numbered from 0"
            )
    return device
