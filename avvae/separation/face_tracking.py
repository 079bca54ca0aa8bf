"""Face tracks across video frames: each frame's detected face boxes are assigned to the tracks so far, so that one
person keeps one track id through missed detections, short occlusions and leaving the picture and coming back.

Tracks never end: a detection is matched to the track whose last box is nearest (centre distance in units of the
face's size, plus the log ratio of the sizes), by the Hungarian algorithm over all tracks at once, and only within
`max_cost`; a detection matched to no track starts a new one. A face that is lost and found again near where it
was last seen therefore continues its track, however long it was away; one that reappears elsewhere starts a new
track. Tracks with too few detections (false alarms of the detector) are dropped by `FaceTracks.keep_long`. A face that
was looked for only near where its track was last seen (between two detections over the whole frame) is added to
that track directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.optimize

Box = tuple[float, float, float, float]


def match_cost(track_box: np.ndarray, box: np.ndarray) -> float:
    """Distance of two (x, y, width, height) boxes: centre distance over their mean size, plus |log size ratio|."""
    track_size, size = float(np.sqrt(track_box[2] * track_box[3])), float(np.sqrt(box[2] * box[3]))
    shift = np.hypot(*((track_box[:2] + track_box[2:] / 2) - (box[:2] + box[2:] / 2)))
    return float(shift / ((track_size + size) / 2) + abs(np.log(size / track_size)))


@dataclass
class FaceTracks:
    """Per-frame boxes [T, 4] (NaN where the face was not found) and per-frame mouth centres [T, 2] and widths [T]
    of each track, in the order the tracks started; and the number of frames."""

    num_frames: int
    boxes: list[np.ndarray] = field(default_factory=list)
    centres: list[np.ndarray] = field(default_factory=list)
    widths: list[np.ndarray] = field(default_factory=list)

    def found(self, track: int) -> np.ndarray:
        """Frames [T] bool where the track's face was detected."""
        return ~np.isnan(self.widths[track])

    def left_to_right(self) -> list[int]:
        """Track indices ordered by the x of their box's centre at their first detection (faces numbered left to
        right as they first appear)."""

        def first_x(track: int) -> float:
            box = self.boxes[track][np.flatnonzero(self.found(track))[0]]
            return float(box[0] + box[2] / 2)

        return sorted(range(len(self.boxes)), key=first_x)

    def keep_long(self, min_frames: int) -> FaceTracks:
        """Only the tracks detected in at least `min_frames` frames."""
        keep = [track for track in range(len(self.boxes)) if self.found(track).sum() >= min_frames]
        return FaceTracks(
            self.num_frames,
            [self.boxes[t] for t in keep],
            [self.centres[t] for t in keep],
            [self.widths[t] for t in keep],
        )


class FaceTracker:
    """Assigns each frame's detections to tracks (see the module's docstring); `tracks()` gives the result."""

    def __init__(self, max_cost: float = 0.6):
        self.max_cost = max_cost
        self.last_boxes: list[np.ndarray] = []
        self.rows: list[list[tuple[int, np.ndarray, np.ndarray, float]]] = []
        self.num_frames = 0

    def update(
        self, boxes: list[Box], centres: list[np.ndarray], widths: list[float], tracks: list[int] | None = None
    ) -> list[int]:
        """Add one frame's detections (face boxes, mouth centres and widths); returns the track of each. `tracks`
        gives each detection's track where it is known (a face followed from the previous frame), instead of
        matching."""
        frame, self.num_frames = self.num_frames, self.num_frames + 1
        boxes_array = [np.asarray(box, dtype=np.float64) for box in boxes]
        assigned = list(tracks) if tracks is not None else [-1] * len(boxes)
        if tracks is None and self.last_boxes and boxes:
            cost = np.array([[match_cost(track, box) for box in boxes_array] for track in self.last_boxes])
            gated = np.where(cost <= self.max_cost, cost, 1e6)
            for track, detection in zip(*scipy.optimize.linear_sum_assignment(gated)):
                if cost[track, detection] <= self.max_cost:
                    assigned[detection] = int(track)
        for detection, box in enumerate(boxes_array):
            if assigned[detection] < 0:
                assigned[detection] = len(self.last_boxes)
                self.last_boxes.append(box)
                self.rows.append([])
            track = assigned[detection]
            self.last_boxes[track] = box
            self.rows[track].append(
                (frame, box, np.asarray(centres[detection], dtype=np.float64), float(widths[detection]))
            )
        return assigned

    def tracks(self) -> FaceTracks:
        """Every track's per-frame arrays over the frames seen so far."""
        result = FaceTracks(self.num_frames)
        for rows in self.rows:
            boxes = np.full((self.num_frames, 4), np.nan)
            centres = np.full((self.num_frames, 2), np.nan)
            widths = np.full(self.num_frames, np.nan)
            for frame, box, centre, width in rows:
                boxes[frame], centres[frame], widths[frame] = box, centre, width
            result.boxes.append(boxes)
            result.centres.append(centres)
            result.widths.append(widths)
        return result
