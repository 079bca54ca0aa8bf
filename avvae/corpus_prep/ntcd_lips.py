"""NTCD-TIMIT's lip ROIs: one MATLAB v7.3 file per utterance, each frame stored as the 2-D DCT of a mouth image.

A v7.3 MAT-file is an HDF5 file (after a 512-byte MATLAB header). The release's files hold one variable, `data`, of
class single: 4489 x T in MATLAB, which HDF5 stores with the dimensions reversed, so h5py reads it as (T, 4489).
Row t is MATLAB's `dct2(img)(:)` of frame t: the orthonormal type-II 2-D DCT of the 67 x 67 grayscale image,
flattened column-major. Decoding: `idctn(row.reshape(67, 67).T, norm="ortho")`, pixel values 0-255.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import scipy.fft

from avvae.corpus_prep.common import CorpusLayoutError

MAT_VARIABLE = "data"
BLOCK_FRAMES = 512  # frames read at a time when only their values are checked (9 MB of float32 rows)


class LipValuesError(CorpusLayoutError):
    """A lip file whose DCT coefficients hold NaN or infinite values: readable, yet no image comes out of it."""


def dct_rows_to_frames(rows: np.ndarray, size: int) -> np.ndarray:
    """uint8 images [T, size, size] from DCT rows [T, size*size] (column-major `dct2` coefficients), rounded."""
    rows = np.asarray(rows, dtype=np.float64)
    coefficients = rows.reshape(len(rows), size, size).transpose(0, 2, 1)  # row-major reshape of column-major data
    images = scipy.fft.idctn(coefficients, axes=(1, 2), norm="ortho")
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def _dct_dataset(handle: h5py.File, path: Path, size: int) -> h5py.Dataset:
    """The `data` variable of an open MAT-file, checked to be [T, size*size] with T >= 1."""
    if MAT_VARIABLE not in handle or not isinstance(handle[MAT_VARIABLE], h5py.Dataset):
        raise CorpusLayoutError(f"{path}: no MATLAB variable {MAT_VARIABLE!r} (found: {', '.join(handle) or 'none'})")
    dataset = handle[MAT_VARIABLE]
    if dataset.ndim != 2 or dataset.shape[1] != size * size or dataset.shape[0] < 1:
        raise CorpusLayoutError(
            f"{path}: {MAT_VARIABLE!r} has shape {dataset.shape} as read by h5py, expected "
            f"(frames, {size * size}) (MATLAB {size * size} x frames: one {size}x{size} DCT "
            "per column)"
        )
    return dataset


def _open_mat(path: Path) -> h5py.File:
    if not path.is_file():
        raise CorpusLayoutError(f"{path}: lip ROI file does not exist")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise CorpusLayoutError(f"{path}: not a MATLAB v7.3 (HDF5) MAT-file ({error})") from error


def _require_finite(rows: np.ndarray, path: Path, first: int, frames: int) -> None:
    """Refuse DCT rows (frames `first`... of `frames`) that hold NaN or infinite coefficients, naming the first."""
    bad = ~np.isfinite(rows)
    if bad.any():
        frame, coefficient = np.argwhere(bad)[0]
        raise LipValuesError(
            f"{path}: {MAT_VARIABLE!r} holds NaN or infinite DCT coefficients (the first: "
            f"{rows[frame, coefficient]} in frame {first + frame + 1} of {frames})"
        )


def read_mat_lips(path: str | Path, size: int = 67) -> np.ndarray:
    """The lip frames of one release `.mat` file as uint8 [T, size, size]."""
    path = Path(path)
    with _open_mat(path) as handle:
        rows = _dct_dataset(handle, path, size)[()]
    _require_finite(rows, path, 0, len(rows))
    return dct_rows_to_frames(rows, size)


def check_mat_lips(path: str | Path, size: int = 67) -> int:
    """Number of frames of one release `.mat` file, after reading its coefficients block by block: those that
    read_mat_lips refuses (NaN, infinite) are an error here too, so that a check of the release finds them."""
    path = Path(path)
    with _open_mat(path) as handle:
        dataset = _dct_dataset(handle, path, size)
        frames = int(dataset.shape[0])
        for start in range(0, frames, BLOCK_FRAMES):
            _require_finite(dataset[start : start + BLOCK_FRAMES], path, start, frames)
    return frames
