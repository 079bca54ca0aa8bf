"""Grayscale video frames through the ffmpeg binary that imageio-ffmpeg ships (no system ffmpeg needed)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

# imageio-ffmpeg warns on every video whose frames, as read, differ from the encoded size: we ask for that.
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)


class VideoError(ValueError):
    """A video cannot be decoded or has no frames; the message names it."""


def read_gray_frames(path: str | Path, size: int, crop: tuple[int, int, int, int] | None = None
                     ) -> tuple[np.ndarray, float, tuple[int, int]]:
    """uint8 [T, size, size] frames of the video (cropped to (x, y, width, height) first when given, then scaled),
    its frame rate and its source (width, height)."""
    from imageio_ffmpeg import read_frames

    filters = f"scale={size}:{size}:flags=bilinear"
    if crop is not None:
        x, y, width, height = crop
        filters = f"crop={width}:{height}:{x}:{y}," + filters
    try:
        reader = read_frames(str(path), pix_fmt="gray", bits_per_pixel=8, output_params=["-vf", filters])
        meta = next(reader)
        frames = [np.frombuffer(frame, dtype=np.uint8).reshape(size, size) for frame in reader]
    except (RuntimeError, OSError, StopIteration) as error:
        raise VideoError(f"{path}: cannot decode the video ({error})") from error
    if not frames:
        raise VideoError(f"{path}: no video frames")
    return np.stack(frames), float(meta["fps"]), tuple(meta["source_size"])
