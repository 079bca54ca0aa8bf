"""Appearance augmentation of training lips: each segment's mouth flipped, shifted, zoomed and re-lit at random.

With a dozen training faces, a lip network can tell the speaker from the face's static appearance (mouth size and
position, lip and skin tones) and learn voices through it, which no unseen speaker shares: its dev loss rises
after two epochs while its training loss falls. Random appearance per segment leaves the mouth's motion, which does
carry over, as the only consistent cue. Off by default (the published training has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from avvae.config import ConfigValueError


@dataclass
class LipAugmentConfig:
    """enabled: apply to training segments (never to dev or test). flip: mirror left-right with probability 1/2;
    max_shift: pixels of translation each way; zoom, contrast, brightness: [low, high] ranges drawn uniformly
    (zoom scales the mouth about the image centre; contrast scales pixel values about their mean; brightness adds
    to them, pixels in [0, 1])."""

    enabled: bool = False
    flip: bool = True
    max_shift: float = 4.0
    zoom: list[float] = field(default_factory=lambda: [0.85, 1.15])
    contrast: list[float] = field(default_factory=lambda: [0.7, 1.3])
    brightness: list[float] = field(default_factory=lambda: [-0.15, 0.15])

    def __post_init__(self) -> None:
        for name in ("zoom", "contrast", "brightness"):
            low_high = getattr(self, name)
            if len(low_high) != 2 or low_high[0] > low_high[1]:
                raise ConfigValueError(f"lip_augment.{name} must be [low, high], got {low_high}")
        if self.max_shift < 0 or self.zoom[0] <= 0 or self.contrast[0] <= 0:
            raise ConfigValueError("lip_augment.max_shift must be >= 0, zoom and contrast positive")


def augment_lips(rng: np.random.Generator, lips: np.ndarray, config: LipAugmentConfig) -> np.ndarray:
    """One random appearance change applied to every frame of `lips` (uint8 [T, H, W]); uint8 out."""
    frames, height, width = lips.shape
    zoom = rng.uniform(*config.zoom)
    shift = rng.uniform(-config.max_shift, config.max_shift, size=2)
    flip = config.flip and rng.random() < 0.5
    contrast, brightness = rng.uniform(*config.contrast), rng.uniform(*config.brightness)
    # output pixel (y, x) reads input pixel centre + (y - centre) / zoom - shift (nearest, edges repeated),
    # mirrored in x when flipped: two index gathers, fast enough for every training segment
    rows = _source_indices(height, zoom, shift[0], False)
    columns = _source_indices(width, zoom, shift[1], flip)
    moved = lips[:, rows][:, :, columns].astype(np.float32) / 255.0
    mean = moved.mean()
    relit = (moved - mean) * contrast + mean + brightness
    return np.clip(np.rint(relit * 255.0), 0, 255).astype(np.uint8)


def _source_indices(size: int, zoom: float, shift: float, flip: bool) -> np.ndarray:
    centre = (size - 1) / 2
    positions = np.arange(size, dtype=np.float64)
    if flip:
        positions = positions[::-1]
    return np.clip(np.rint(centre + (positions - centre) / zoom - shift), 0, size - 1).astype(np.intp)
