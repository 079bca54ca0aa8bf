"""Square mouth boxes from the mouth's centre and width in each frame, and the crops they cut.

Per frame the box is centred on the mouth's centre (the mean of its 20 landmarks, avvae.vision.landmarks), the
centres smoothed by a 5-frame moving median; its side is `scale` times the median mouth width (corner to corner) of
the video, so one video keeps one crop size. A frame without a face takes the box of the nearest frame with one.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage
from PIL import Image

SMOOTHING_FRAMES = 5


def nearest_found(found: np.ndarray) -> np.ndarray:
    """For each frame, the nearest frame where the face was found (the earlier one on a tie); by binary search, so
    memory stays linear in the number of frames (a frames x found distance matrix took gigabytes for 10 minutes)."""
    where = np.flatnonzero(found)
    after = np.clip(np.searchsorted(where, np.arange(len(found))), 0, len(where) - 1)
    before = np.clip(after - 1, 0, len(where) - 1)
    frames = np.arange(len(found))
    return np.where(np.abs(where[before] - frames) <= np.abs(where[after] - frames), where[before], where[after])


def boxes_from_landmarks(
    centres: np.ndarray, widths: np.ndarray, scale: float, frame_size: tuple[int, int]
) -> np.ndarray | None:
    """Square boxes [T, 4] (x, y, side, side) inside a (width, height) frame, or None when no frame has a face."""
    found = np.flatnonzero(~np.isnan(widths))
    if found.size == 0:
        return None
    nearest = nearest_found(~np.isnan(widths))
    centres = scipy.ndimage.median_filter(centres[nearest], size=(SMOOTHING_FRAMES, 1), mode="mirror")
    width, height = frame_size
    side = int(round(min(scale * float(np.median(widths[found])), width, height)))
    x = np.clip(np.round(centres[:, 0] - side / 2), 0, width - side).astype(int)
    y = np.clip(np.round(centres[:, 1] - side / 2), 0, height - side).astype(int)
    return np.stack([x, y, np.full_like(x, side), np.full_like(y, side)], axis=1)


def crop_frames(frames: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Each frame cropped to its box (x, y, width, height) and resized bilinearly: uint8 [T, size, size]."""
    out = np.empty((len(frames), size, size), dtype=np.uint8)
    for index, (frame, (x, y, width, height)) in enumerate(zip(frames, boxes)):
        patch = Image.fromarray(np.ascontiguousarray(frame[y : y + height, x : x + width]))
        out[index] = np.asarray(patch.resize((size, size), Image.Resampling.BILINEAR))
    return out
