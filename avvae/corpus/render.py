"""Rendering grayscale mouth regions of interest from articulator trajectories, vectorised over frames.

The mouth is drawn as an outer lip ellipse (upper and lower lips of their own thickness) around an inner opening:
a dark cavity with the upper teeth at its top and the tongue at its bottom. Edges are soft (about a pixel). Each
speaker has an appearance (tones, sizes, head offset); each frame gets a little head jitter and pixel noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avvae.corpus.visemes import ARTICULATORS


@dataclass(frozen=True)
class Appearance:
    """How one speaker's mouth looks: gray levels 0-255, sizes and offsets in pixels of the ROI."""

    skin: float
    lip: float
    cavity: float
    teeth: float
    tongue: float
    half_width: float  # mouth half-width at neutral width
    max_opening: float  # half-height of the opening when fully open
    upper_lip: float  # lip thicknesses
    lower_lip: float
    offset_x: float  # head position in the ROI
    offset_y: float
    light_slope: float  # left-right illumination difference across the ROI
    opening_gain: float  # how widely this speaker opens


def draw_appearance(appearance_seed: int) -> Appearance:
    """A speaker's appearance, a function of its appearance seed only."""
    rng = np.random.default_rng(appearance_seed)
    skin = rng.uniform(150, 205)
    lip = skin - rng.uniform(45, 70)
    return Appearance(
        skin=skin,
        lip=lip,
        cavity=rng.uniform(18, 38),
        teeth=rng.uniform(200, 235),
        tongue=lip - rng.uniform(5, 20),
        half_width=rng.uniform(18, 23),
        max_opening=rng.uniform(10, 14),
        upper_lip=rng.uniform(4.0, 6.0),
        lower_lip=rng.uniform(5.0, 7.5),
        offset_x=rng.uniform(-3, 3),
        offset_y=rng.uniform(-3, 3),
        light_slope=rng.uniform(-15, 15),
        opening_gain=rng.uniform(0.85, 1.15),
    )


def _soft_ellipse(dx: np.ndarray, dy: np.ndarray, half_x: np.ndarray, half_y: np.ndarray, edge_px: float = 0.7):
    """About 1 inside the ellipse with these half-axes, 0 outside, with an edge about `edge_px` pixels wide.

    The signed distance to the boundary is approximated to first order, (r - 1) / |grad r|, so thin ellipses
    (a nearly closed mouth) keep sharp edges along their whole length.
    """
    radius = np.sqrt((dx / half_x) ** 2 + (dy / half_y) ** 2) + 1e-9
    gradient = np.sqrt((dx / half_x**2) ** 2 + (dy / half_y**2) ** 2) / radius + 1e-9
    return _sigmoid(-(radius - 1.0) / gradient / edge_px)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(np.clip(-x, -30, 30)))


def render_mouth(
    trajectory: np.ndarray,
    appearance: Appearance,
    rng: np.random.Generator,
    size: int = 67,
    jitter_px: float = 0.4,
    pixel_noise: float = 2.5,
) -> np.ndarray:
    """uint8 frames [T, size, size] for articulator values `trajectory` [T, 5] (columns as ARTICULATORS)."""
    values = dict(zip(ARTICULATORS, np.clip(trajectory, 0.0, 1.0).T))
    count = len(trajectory)
    col = lambda v: np.asarray(v, dtype=np.float64)[:, None, None]  # noqa: E731  [T] -> [T, 1, 1]

    jitter = np.cumsum(rng.normal(0.0, jitter_px / 3, size=(count, 2)), axis=0)
    jitter = np.clip(jitter - jitter.mean(axis=0), -2 * jitter_px, 2 * jitter_px)
    jitter = jitter + rng.normal(0, jitter_px / 4, (count, 2))
    centre_x = col(size / 2 + appearance.offset_x + jitter[:, 0])
    centre_y = col(size / 2 + 1.5 + appearance.offset_y + jitter[:, 1])
    y, x = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64), indexing="ij")
    dx, dy = x[None] - centre_x, y[None] - centre_y

    rounding = col(values["round"])
    half_width = appearance.half_width * (0.8 + 0.35 * col(values["width"]) - 0.3 * rounding)
    opening = appearance.max_opening * appearance.opening_gain * col(values["open"])
    inner_width = half_width * (0.85 - 0.2 * rounding)
    pout = 1.0 + 0.4 * rounding  # protruded lips look thicker
    upper = opening + appearance.upper_lip * pout
    lower = opening + appearance.lower_lip * pout

    lips = _soft_ellipse(dx, dy, half_width, np.where(dy < 0, upper, lower))
    mouth = lips * _soft_ellipse(dx, dy, inner_width, np.maximum(opening, 0.3)) * _sigmoid(3.0 * (opening - 0.6))

    teeth_band = col(values["teeth"]) * np.minimum(opening, 3.5)
    teeth = col(values["teeth"]) * _sigmoid(2.0 * (-opening + teeth_band - dy))
    tongue_band = col(values["tongue"]) * np.minimum(opening, 4.0)
    tongue = col(values["tongue"]) * _sigmoid(2.0 * (dy - opening + tongue_band))
    inside = appearance.cavity + (appearance.teeth - appearance.cavity) * teeth
    inside = inside + (appearance.tongue - inside) * tongue

    shading = appearance.light_slope * (x / size - 0.5) - 12.0 * np.exp(-(((y - 3.0) / 6.0) ** 2))  # nose shadow
    skin = appearance.skin + shading[None]
    seam = np.exp(-((dy / 0.8) ** 2)) * (np.abs(dx) < inner_width) * (1.0 - mouth)
    lip_tone = appearance.lip + shading[None] + 8.0 * (dy > 0) - 0.2 * appearance.lip * seam
    image = skin + (lip_tone - skin) * lips
    image = image + (inside - image) * mouth
    image = image + col(rng.normal(0, 1.5, count)) + rng.normal(0, pixel_noise, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
