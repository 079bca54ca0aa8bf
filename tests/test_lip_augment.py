"""Lip appearance augmentation: each segment's mouth moved, zoomed, mirrored and re-lit, its motion kept."""

import numpy as np
import pytest

from avvae.training.lip_augment import LipAugmentConfig, augment_lips


def _mouth(frames: int = 6, size: int = 67) -> np.ndarray:
    """A dark ellipse whose opening grows frame by frame, off-centre to the right, on a mid-grey face."""
    y, x = np.mgrid[:size, :size]
    lips = np.full((frames, size, size), 170, np.uint8)
    for t in range(frames):
        lips[t][((x - 40) / 12.0) ** 2 + ((y - 33) / (2.0 + 2 * t)) ** 2 < 1] = 30
    return lips


def _dark_centroid(frame: np.ndarray) -> tuple[float, float]:
    rows, columns = np.nonzero(frame < 100)
    return float(rows.mean()), float(columns.mean())


def test_identity_settings_leave_the_lips_unchanged():
    config = LipAugmentConfig(
        enabled=True, flip=False, max_shift=0.0, zoom=[1.0, 1.0], contrast=[1.0, 1.0], brightness=[0.0, 0.0]
    )
    lips = _mouth()
    assert np.array_equal(augment_lips(np.random.default_rng(0), lips, config), lips)


def test_flip_mirrors_and_shift_moves_the_mouth_by_the_drawn_amount():
    lips = _mouth()
    still = dict(enabled=True, zoom=[1.0, 1.0], contrast=[1.0, 1.0], brightness=[0.0, 0.0])
    original_column = _dark_centroid(lips[3])[1]
    columns = [
        _dark_centroid(
            augment_lips(np.random.default_rng(seed), lips, LipAugmentConfig(flip=True, max_shift=0.0, **still))[3]
        )[1]
        for seed in range(20)
    ]
    mirrored = [abs(column - (66 - original_column)) < 0.5 for column in columns]
    kept = [abs(column - original_column) < 0.5 for column in columns]
    assert all(m or k for m, k in zip(mirrored, kept)) and 5 <= sum(mirrored) <= 15
    moved = augment_lips(np.random.default_rng(1), lips, LipAugmentConfig(flip=False, max_shift=4.0, **still))
    shift = np.subtract(_dark_centroid(moved[3]), _dark_centroid(lips[3]))
    expected = np.random.default_rng(1)
    expected.uniform(1.0, 1.0)
    assert np.allclose(shift, expected.uniform(-4.0, 4.0, size=2), atol=0.6)


def test_one_appearance_per_segment_keeps_the_motion():
    """Every frame gets the same change: the mouth still opens frame by frame, in the same place."""
    lips = _mouth()
    out = augment_lips(np.random.default_rng(3), lips, LipAugmentConfig(enabled=True))
    openings = [(frame < 100).sum() for frame in out]
    assert all(b > a for a, b in zip(openings, openings[1:]))
    centres = np.array([_dark_centroid(frame) for frame in out])
    assert np.ptp(centres[:, 1]) < 1.0 and out.dtype == np.uint8 and out.shape == lips.shape


@pytest.mark.parametrize(
    "bad", [dict(zoom=[1.2, 0.8]), dict(contrast=[0.0, 1.0]), dict(max_shift=-1.0), dict(brightness=[0.1])]
)
def test_bad_ranges_are_refused(bad):
    with pytest.raises(ValueError, match="lip_augment"):
        LipAugmentConfig(**bad)
