"""Faces and their 68 landmarks in video frames: dlib's face detector, its shape predictor, and a face followed from
frame to frame by its landmarks; per frame, the mouth's centre and width.

The weights come from PyPI packages (no download at run time): the face detector is dlib's own HOG detector
(package dlib-bin) and the 68-point shape predictor is `shape_predictor_68_face_landmarks.dat` of the package
face-recognition-models.

The landmarks need a face box. `mouth_landmarks` takes it from the detector on every frame (6 ms a 360x288 frame,
six times the landmarks' cost); `tracked_mouth_landmarks` detects the face once and then follows it: each frame's
box comes from the previous landmarks, and the landmarks are placed every few frames, the mouth interpolated in
between. On real GRID videos its boxes are within 2 pixels of every-frame detection's (in 360x288 video; 1 at the
95th percentile, local/bench_mouth_crops.py).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from avvae.errors import AvvaeError

Box = tuple[int, int, int, int]

MOUTH_POINTS = slice(48, 68)
MOUTH_CORNERS = (48, 54)
# Nose and eyes: they stay put when the mouth opens, so they carry the face box from frame to frame.
STEADY_POINTS = slice(27, 48)
# A followed face whose landmarks spread this much more or less than when detected is looked for again.
LOST_SPREAD_RATIO = 1.25


class LandmarkDetectorError(AvvaeError):
    """The landmark detector's packages are not installed."""


@lru_cache(maxsize=1)
def _models():
    """dlib's frontal face detector and the 68-point shape predictor, loaded once per process.

    The model file is found without importing face_recognition_models, whose __init__ needs pkg_resources (gone
    from recent setuptools)."""
    spec = importlib.util.find_spec("face_recognition_models")
    landmarks = (
        None
        if spec is None
        else (Path(spec.submodule_search_locations[0]) / "models" / "shape_predictor_68_face_landmarks.dat")
    )
    try:
        import dlib

        if landmarks is None or not landmarks.is_file():
            raise ImportError(f"no {landmarks or 'face_recognition_models package'}")
    except ImportError as error:
        raise LandmarkDetectorError(
            f"the landmark mouth crop needs dlib (package dlib-bin) and face-recognition-models ({error}): install "
            "requirements.txt (tools/bootstrap.sh), or set `mouth: box` in conf/corpus.yaml"
        ) from error
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(landmarks))


def detect_faces(frame: np.ndarray) -> list[Box]:
    """The faces dlib's detector finds in a uint8 gray frame [H, W], as (x, y, width, height) boxes."""
    detector, _ = _models()
    return [(rect.left(), rect.top(), rect.width(), rect.height()) for rect in detector(np.ascontiguousarray(frame), 0)]


def detect_faces_near(frame: np.ndarray, box: Box, margin: float) -> list[Box]:
    """The faces dlib's detector finds in the region of a uint8 gray frame around `box` (x, y, width, height), grown
    by `margin` times its size on each side, as boxes in the frame's pixels: a face looked for where it just was, at
    the cost of that region (a tenth of a 640x360 frame's for a 100-pixel face and margin 0.5)."""
    x, y, width, height = box
    left, top = max(0, int(x - margin * width)), max(0, int(y - margin * height))
    right = min(frame.shape[1], int(np.ceil(x + (1 + margin) * width)))
    bottom = min(frame.shape[0], int(np.ceil(y + (1 + margin) * height)))
    if right <= left or bottom <= top:
        return []
    return [(fx + left, fy + top, fw, fh) for fx, fy, fw, fh in detect_faces(frame[top:bottom, left:right])]


def largest_face(frame: np.ndarray, shrink: int = 1) -> Box | None:
    """The largest face dlib's detector finds in a uint8 gray frame, or None; the detector sees the frame shrunk
    `shrink` times (box filter), which saves it shrink**2 of its time where faces are large, and the box is scaled
    back to the frame's pixels."""
    small = frame if shrink == 1 else np.asarray(Image.fromarray(np.ascontiguousarray(frame)).reduce(shrink))
    faces = detect_faces(small)
    if not faces:
        return None
    return tuple(shrink * v for v in max(faces, key=lambda box: box[2] * box[3]))


def face_landmarks(frame: np.ndarray, face: Box) -> np.ndarray:
    """dlib's 68 landmarks [68, 2] (x, y) placed in a face box (x, y, width, height) of a uint8 gray frame."""
    import dlib

    _, predictor = _models()
    x, y, width, height = (int(round(v)) for v in face)
    shape = predictor(np.ascontiguousarray(frame), dlib.rectangle(x, y, x + width - 1, y + height - 1))
    return np.array([[point.x, point.y] for point in shape.parts()], dtype=np.float64)


def mouth_of_points(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Mouth centre (x, y) and mouth width (corner to corner) of 68 landmarks [68, 2]."""
    left, right = (points[i] for i in MOUTH_CORNERS)
    return points[MOUTH_POINTS].mean(axis=0), float(np.hypot(*(right - left)))


def mouth_of_face(frame: np.ndarray, face: Box) -> tuple[np.ndarray, float]:
    """Mouth centre (x, y) and mouth width (corner to corner) from the 68 landmarks placed in a face box."""
    return mouth_of_points(face_landmarks(frame, face))


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
            face = largest_face(frame)
        if face is not None:
            centres[index], widths[index] = mouth_of_face(frame, face)
    return centres, widths


def _steady_place(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre (x, y) and RMS spread of the nose and eye landmarks: where the face is and how large."""
    steady = points[STEADY_POINTS]
    centre = steady.mean(axis=0)
    return centre, float(np.sqrt(np.square(steady - centre).sum() / len(steady)))


@dataclasses.dataclass(frozen=True)
class FollowedFace:
    """A face followed by its landmarks: the latest landmarks [68, 2] and their nose and eye centre and spread, and
    the detector's box relative to those (its centre's offset and its size in units of the spread) and the spread
    as measured when the face was detected. The boxes it draws keep the detector's convention, on which the shape
    predictor was trained."""

    points: np.ndarray
    centre: np.ndarray
    spread: float
    offset: np.ndarray
    size: np.ndarray
    detected_spread: float

    @classmethod
    def detected(cls, face: Box, points: np.ndarray) -> FollowedFace:
        centre, spread = _steady_place(points)
        box = np.asarray(face, dtype=np.float64)
        return cls(points, centre, spread, (box[:2] + box[2:] / 2 - centre) / spread, box[2:] / spread, spread)

    def face_box(self) -> Box:
        """The face box (x, y, width, height) the latest landmarks imply."""
        size = self.size * self.spread
        x, y = self.centre + self.offset * self.spread - size / 2
        return float(x), float(y), float(size[0]), float(size[1])

    def moved_to(self, points: np.ndarray) -> FollowedFace | None:
        """The face with new landmarks; None when their spread is off from the detected one (the face was lost)."""
        centre, spread = _steady_place(points)
        if not 1 / LOST_SPREAD_RATIO <= spread / self.detected_spread <= LOST_SPREAD_RATIO:
            return None
        return dataclasses.replace(self, points=points, centre=centre, spread=spread)


def _follow(frame: np.ndarray, face: FollowedFace | None, shrink: int) -> FollowedFace | None:
    """The face in this frame: its landmarks placed in the box the previous ones imply; the detector's largest face
    when there are none or they went off; None when no face is found."""
    if face is not None:
        face = face.moved_to(face_landmarks(frame, face.face_box()))
    if face is None:
        box = largest_face(frame, shrink)
        face = None if box is None else FollowedFace.detected(box, face_landmarks(frame, box))
    return face


def tracked_mouth_landmarks(
    frames: np.ndarray, landmark_every: int = 4, detect_height: int = 288
) -> tuple[np.ndarray, np.ndarray]:
    """Mouth centre (x, y) and mouth width per frame of uint8 [T, H, W] frames, the face detected once and then
    followed by its landmarks (FollowedFace); NaN where no face was found.

    While no face is followed the detector runs on every frame, on frames shrunk by an integer factor to at most
    `detect_height` rows (GRID's 720x576 videos halved). While one is, the landmarks are placed every
    `landmark_every` frames and on the last, and the mouth is interpolated linearly in between (NaN next to a frame
    without a face)."""
    shrink = max(1, len(frames[0]) // detect_height)
    centres = np.full((len(frames), 2), np.nan)
    widths = np.full(len(frames), np.nan)
    visited, face, index = [], None, 0
    while index < len(frames):
        face = _follow(frames[index], face, shrink)
        visited.append(index)
        if face is not None:
            centres[index], widths[index] = mouth_of_points(face.points)
        step = 1 if face is None else landmark_every
        index = len(frames) - 1 if index < len(frames) - 1 < index + step else index + step
    frame_numbers = np.arange(len(frames))
    centres = np.stack([np.interp(frame_numbers, visited, centres[visited, axis]) for axis in range(2)], axis=1)
    return centres, np.interp(frame_numbers, visited, widths[visited])
