"""Model and checkpoint files: torch.save'd dicts of tensors and plain values, read back with weights_only=True,
so a file is never unpickled as code; a truncated, corrupt or foreign file is an error that names it.

Every file carries a sha256 over its contents (each tensor's bytes, in name order, and the plain values), checked
on load: torch's zip reader does not check its CRCs, so flipped bytes inside a weight would otherwise load."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import zipfile
from pathlib import Path
from typing import Any

import torch

from avvae.config import from_dict
from avvae.errors import AvvaeError
from avvae.fileio.atomic import atomic_path
from avvae.fileio.write_errors import write_failure
from avvae.models.config import ModelConfig
from avvae.models.vae import SpeechVAE

MODEL_FORMAT = "avvae-model-1"
CHECKPOINT_FORMAT = "avvae-checkpoint-1"
CHECKSUM = "sha256"  # the payload key of the checksum
log = logging.getLogger(__name__)


class ModelFileError(AvvaeError):
    """A model or checkpoint file cannot be used or written: missing, truncated, corrupt, of another format, or a
    write that failed."""


def _feed(digest: Any, name: str, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            _feed(digest, f"{name}/{key}", value[key])
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _feed(digest, f"{name}/{index}", item)
    else:
        digest.update(f"{name}={value!r}\n".encode())


def payload_checksum(payload: dict[str, Any]) -> str:
    """sha256 over a payload: every tensor's dtype, shape and bytes, and every plain value, in key order."""
    digest = hashlib.sha256()
    _feed(digest, "", {key: value for key, value in payload.items() if key != CHECKSUM})
    return digest.hexdigest()


def save_file(payload: dict[str, Any], path: str | Path) -> None:
    """torch.save atomically, with the payload's checksum: a kill mid-write leaves the previous file intact. A write
    that fails (a full disk, a quota) is an error that names the file and says so; torch itself says only `enforce
    fail at inline_container.cc`."""
    try:
        with atomic_path(path) as tmp:
            torch.save({**payload, CHECKSUM: payload_checksum(payload)}, tmp)
    except (RuntimeError, OSError) as error:
        raise ModelFileError(f"{path}: {write_failure(Path(path), error)}") from error


def load_file(path: str | Path, expected_format: str, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a file written by `save_file` and check its format tag."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model or checkpoint file")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, Exception) as error:
        raise ModelFileError(f"{path}: corrupt or truncated file ({type(error).__name__}: {error})") from error
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ModelFileError(f"{path}: expected a {expected_format} file, found {found!r}")
    recorded = payload.pop(CHECKSUM, None)
    if recorded is None:
        log.warning("%s: written without a checksum (an older file), so its parameters cannot be checked", path)
    elif recorded != payload_checksum(payload):
        raise ModelFileError(f"{path}: parameters fail their checksum: the file is corrupt")
    return payload


def model_payload(model: SpeechVAE) -> dict[str, Any]:
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    return {"format": MODEL_FORMAT, "config": dataclasses.asdict(model.config), "state_dict": state}


def build_model(payload: dict[str, Any], path: str | Path) -> SpeechVAE:
    """The model described by a model payload (config + state dict)."""
    config = from_dict(ModelConfig, payload["config"], f"{path}: model config")
    model = SpeechVAE(config)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise ModelFileError(f"{path}: parameters do not fit the model config ({error})") from error
    return model


def save_model(model: SpeechVAE, path: str | Path) -> None:
    """Write the model file that decoding reads (config + parameters, no optimiser state)."""
    save_file(model_payload(model), path)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> SpeechVAE:
    """A trained model in eval mode, with gradients off, on `device`."""
    model = build_model(load_file(path, MODEL_FORMAT, device), path).to(device).eval()
    model.requires_grad_(False)
    return model
