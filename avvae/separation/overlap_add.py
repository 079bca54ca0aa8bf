"""Long signals processed in overlapping windows and joined again without clicks.

`plan_windows` cuts L samples into equal windows of at most `length` samples that overlap by at least `overlap`.
`OverlapAdd` joins each window's outputs: across an overlap the earlier window fades out and the later fades in with
complementary raised-cosine weights (sin^2 and cos^2, which sum to one), so where both windows agree the signal
passes unchanged, and where they differ (MCEM run on each window alone) the output moves smoothly from one to the
other. Finished samples are handed on as soon as no later window touches them, so only one overlap is held at a time.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def plan_windows(num_samples: int, length: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) of each window; one window when the signal fits in one. As few windows as windows of `length`
    overlapping by `overlap` need, all of one length (at most `length`) and spread evenly from the start to the end, so
    that no stretch is separated more often than the overlaps ask and the windows cost alike."""
    if not 0 <= overlap < length:
        raise ValueError(f"window overlap must be in [0, window length {length}), got {overlap}")
    if num_samples <= length:
        return [(0, num_samples)]
    count = -(-(num_samples - overlap) // (length - overlap))
    size = -(-(num_samples + (count - 1) * overlap) // count)
    starts = [k * (num_samples - size) // (count - 1) for k in range(count)]
    return [(start, start + size) for start in starts]


def fade_in(length: int) -> np.ndarray:
    """Raised-cosine weights rising from near 0 to near 1 over `length` samples; 1 - fade_in is the fade-out."""
    return np.sin(0.5 * np.pi * (np.arange(length) + 0.5) / length) ** 2


class OverlapAdd:
    """Joins the outputs [C, window length] of the windows of `plan` (given in order) and passes each finished
    stretch [C, n] to `emit`."""

    def __init__(self, plan: list[tuple[int, int]], emit: Callable[[np.ndarray], None]):
        self.plan, self.emit = plan, emit
        self.index = 0
        self.tail: np.ndarray | None = None

    def add(self, outputs: np.ndarray) -> None:
        """The next window's outputs: blended with the previous window's tail, emitted up to the next window."""
        start, end = self.plan[self.index]
        if outputs.shape[-1] != end - start:
            raise ValueError(f"window {self.index} has {outputs.shape[-1]} samples, expected {end - start}")
        outputs = np.array(outputs, dtype=np.float32)
        if self.tail is not None:
            weight = fade_in(self.tail.shape[-1]).astype(np.float32)
            outputs[:, : len(weight)] = weight * outputs[:, : len(weight)] + (1 - weight) * self.tail
        self.index += 1
        cut = self.plan[self.index][0] - start if self.index < len(self.plan) else end - start
        self.emit(outputs[:, :cut])
        self.tail = outputs[:, cut:] if self.index < len(self.plan) else None
