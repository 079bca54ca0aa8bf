"""Lip region-of-interest videos: the on-disk format and resampling to the STFT frame rate.

A lips file is an `.npz` holding `frames` (uint8, [T, H, W], grayscale mouth ROI, 67 x 67 by default) and `fps`
(video frames per second). Video frame k is taken at time k / fps.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from avvae.errors import AvvaeError
from avvae.fileio.atomic import atomic_path


class LipsFileError(AvvaeError):
    """A lips file is missing, unreadable or malformed."""


# zlib's fastest level: on 67x67 mouth crops it costs a third of the default's time (15 ms a 3 s GRID video, a tenth
# of stage 1's work per video) for files about 3.5% larger.
COMPRESS_LEVEL = 1


def save_lips(path: str | Path, frames: np.ndarray, fps: float) -> None:
    """Write a lips file atomically: the .npz that np.savez_compressed writes, at COMPRESS_LEVEL."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 3:
        raise ValueError(f"lip frames must be uint8 [T, H, W], got {frames.dtype} {frames.shape}")
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as archive:
            for name, array in (("frames", frames), ("fps", np.float64(fps))):
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def load_lips(path: str | Path) -> tuple[np.ndarray, float]:
    """(frames uint8 [T, H, W], fps); fails with a message naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise LipsFileError(f"{path}: lips file does not exist")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise LipsFileError(f"{path}: not a lips .npz with 'frames' and 'fps' ({error})") from error
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise LipsFileError(f"{path}: holds a single array, not a lips .npz with 'frames' and 'fps'")
    with data:
        missing = sorted({"frames", "fps"} - set(data.files))
        if missing:
            raise LipsFileError(f"{path}: not a lips .npz: no {' and no '.join(missing)} (it holds {data.files})")
        frames, fps_array = data["frames"], data["fps"]
    if fps_array.size != 1 or not np.issubdtype(fps_array.dtype, np.number):
        raise LipsFileError(f"{path}: 'fps' must be one number, got {fps_array.dtype} {fps_array.shape}")
    fps = float(fps_array.reshape(()))
    if frames.dtype != np.uint8 or frames.ndim != 3 or len(frames) == 0:
        raise LipsFileError(f"{path}: 'frames' must be non-empty uint8 [T, H, W], got {frames.dtype} {frames.shape}")
    if not fps > 0:
        raise LipsFileError(f"{path}: fps must be positive, got {fps}")
    return frames, fps


def resample_lips(frames: np.ndarray, fps: float, times: np.ndarray, method: str = "nearest") -> np.ndarray:
    """Lip frames at the given times (seconds), float32 in [0, 1], shape [len(times), H, W].

    Times past the last video frame take the last frame (the caller checks the length mismatch first).
    """
    position = np.clip(np.asarray(times, dtype=np.float64) * fps, 0, len(frames) - 1)
    pixels = frames.astype(np.float32) / 255.0
    if method == "nearest":
        return pixels[np.rint(position).astype(np.int64)]
    if method == "linear":
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, len(frames) - 1)
        weight = (position - low).astype(np.float32)[:, None, None]
        return (1.0 - weight) * pixels[low] + weight * pixels[high]
    raise ValueError(f"unknown lips interpolation {method!r} (expected 'nearest' or 'linear')")
