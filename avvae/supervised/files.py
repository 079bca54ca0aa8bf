"""Mask network files (their own format tag, read with avvae.models.files.load_file), and the ModelSpec that lets
the shared trainer (avvae.training.trainer) train, checkpoint and write the mask network."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from avvae.config import from_dict
from avvae.models.files import ModelFileError, load_file
from avvae.supervised.config import MaskNetConfig
from avvae.supervised.model import MaskNet
from avvae.supervised.objective import MaskObjective
from avvae.training.trainer import ModelSpec

MASK_MODEL_FORMAT = "avvae-masknet-1"


def mask_payload(model: MaskNet) -> dict[str, Any]:
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    return {"format": MASK_MODEL_FORMAT, "config": dataclasses.asdict(model.config), "state_dict": state}


def build_mask_net(payload: dict[str, Any], path: str | Path) -> MaskNet:
    """The mask network described by a payload (config + state dict)."""
    if payload.get("format") != MASK_MODEL_FORMAT:
        raise ModelFileError(f"{path}: expected a {MASK_MODEL_FORMAT} model, found {payload.get('format')!r}")
    model = MaskNet(from_dict(MaskNetConfig, payload["config"], f"{path}: model config"))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise ModelFileError(f"{path}: parameters do not fit the model config ({error})") from error
    return model


def load_mask_net(path: str | Path, device: str | torch.device = "cpu") -> MaskNet:
    """A trained mask network in eval mode, with gradients off, on `device`."""
    model = build_mask_net(load_file(path, MASK_MODEL_FORMAT, device), path).to(device).eval()
    model.requires_grad_(False)
    return model


MASK_NET = ModelSpec(
    MaskObjective,
    mask_payload,
    build_mask_net,
    {"loss": "total (magnitude MSE)", "snr_db": "masked-magnitude SNR (dB)"},
)
