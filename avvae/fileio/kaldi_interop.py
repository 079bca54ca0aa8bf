"""Kaldi interop through kaldiio: features of a feats.h5 to ark/scp matrices and back.

Kaldi holds float32 matrices, one per utterance, frames as rows: `power` goes out as [N, F]; lips as [N, H*W]
with pixels in [0, 1] (the lip height and width go in `lips_shape`, so the import can restore them). Complex
STFTs have no Kaldi matrix type and stay in HDF5.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import kaldiio
import numpy as np

from avvae.fileio.atomic import atomic_path, write_text_atomic
from avvae.fileio.feature_files import open_features

EXPORTABLE = ("power", "lips")


def export_to_kaldi(feats_h5: str | Path, out_dir: str | Path, names: tuple[str, ...] = EXPORTABLE) -> dict[str, Path]:
    """Write `<out_dir>/<name>.{ark,scp}` for each dataset name; returns the scp paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scps = {}
    with open_features(feats_h5) as handle:
        keys = sorted(handle)
        for name in names:
            ark, scp = out_dir / f"{name}.ark", out_dir / f"{name}.scp"
            with atomic_path(ark) as tmp_ark, atomic_path(scp) as tmp_scp:
                with kaldiio.WriteHelper(f"ark,scp:{tmp_ark},{tmp_scp}") as writer:
                    for key in keys:
                        matrix = handle[key][name][()]
                        if name == "lips":
                            lips_shape = matrix.shape[1:]
                            matrix = matrix.reshape(len(matrix), -1).astype(np.float32) / 255.0
                        writer(key, matrix.astype(np.float32))
                # The scp names the temporary ark; point it at the final name before both are renamed.
                tmp_scp.write_text(tmp_scp.read_text().replace(str(tmp_ark), str(ark)))
            scps[name] = scp
            if name == "lips":
                write_text_atomic(out_dir / "lips_shape", f"{lips_shape[0]} {lips_shape[1]}\n")
    return scps


def import_from_kaldi(scp: str | Path, lips_shape: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """Read a Kaldi scp into {key: matrix}; with `lips_shape`, rows become uint8 [N, H, W] lip frames."""
    features = {}
    for key, matrix in kaldiio.load_scp(str(scp)).items():
        matrix = np.asarray(matrix)
        if lips_shape is not None:
            matrix = np.rint(matrix * 255.0).astype(np.uint8).reshape(len(matrix), *lips_shape)
        features[key] = matrix
    return features


def write_imported_features(
    power_scp: str | Path, lips_scp: str | Path | None, output: str | Path, attrs: dict[str, object]
) -> int:
    """Build a feats.h5 (power and lips, no STFT phase) from Kaldi scps; returns the number of utterances."""
    power = import_from_kaldi(power_scp)
    lips = {}
    if lips_scp is not None:
        height, width = map(int, (Path(lips_scp).parent / "lips_shape").read_text().split())
        lips = import_from_kaldi(lips_scp, (height, width))
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as handle:
        handle.attrs.update(attrs)
        for key in sorted(power):
            group = handle.create_group(key)
            group.create_dataset("power", data=power[key])
            if key in lips:
                group.create_dataset("lips", data=lips[key])
            group.attrs["complete"] = True
    return len(power)
