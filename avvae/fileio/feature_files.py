"""Reading and merging feature files (feats.h5, layout in avvae.features) without loading torch.

Stages that only move features around (merging job outputs, exporting to Kaldi) start faster this way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py

from avvae.errors import AvvaeError
from avvae.fileio.atomic import atomic_path


class FeatureFileError(AvvaeError):
    """A feature file is missing, incomplete, or was made with other STFT settings."""


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def settings_differences(attrs: Any, settings: dict[str, Any]) -> list[str]:
    """'n_fft=512 (wanted 1024)' for each setting a feature file's root attributes hold with another value."""
    return [
        f"{name}={_plain(attrs[name])!r} (wanted {value!r})"
        for name, value in settings.items()
        if name in attrs and _plain(attrs[name]) != value
    ]


def merge_feature_files(parts: list[Path], output: str | Path) -> int:
    """Merge job outputs into one feats.h5 (atomically); fails if a key appears twice, or if the parts were made
    with other settings than the first (a resumed dump must never mix them). Returns the count."""
    count = 0
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as merged:
        for part in parts:
            with h5py.File(part, "r") as handle:
                first = {name: _plain(value) for name, value in merged.attrs.items()}
                differences = settings_differences(handle.attrs, first)
                if differences:
                    raise FeatureFileError(
                        f"{part}: made with {', '.join(differences)} like {parts[0]}; "
                        "redo the dump (steps/dump_features.sh --force true)"
                    )
                for name, value in handle.attrs.items():
                    merged.attrs[name] = value
                for key in handle:
                    if key in merged:
                        raise FeatureFileError(f"{part}: utterance {key!r} is also in an earlier part")
                    handle.copy(handle[key], merged, name=key)
                    count += 1
    return count


def open_features(path: str | Path, config: Any = None) -> h5py.File:
    """Open a feats.h5 for reading; checks the STFT settings against `config` (a FeatureConfig) when given."""
    path = Path(path)
    if not path.is_file():
        raise FeatureFileError(f"{path}: feature file does not exist (run the dump stage)")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise FeatureFileError(f"{path}: not a readable HDF5 file ({error})") from error
    if config is not None:
        for name in ("sample_rate", "n_fft", "hop_length", "window"):
            made_with = handle.attrs.get(name)
            made_with = made_with.item() if hasattr(made_with, "item") else made_with
            if made_with != getattr(config, name):
                handle.close()
                wanted = getattr(config, name)
                raise FeatureFileError(f"{path}: made with {name}={made_with!r}, this stage uses {wanted!r}")
    return handle
