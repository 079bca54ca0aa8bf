"""GRID's mouth crops: per frame a square box around the mouth's landmarks, or the fixed box of conf/crops.yaml;
and a picture of them for a person to check.

GRID's speakers move their heads and their mouths open inside a fixed box, which then also holds nose and chin; the
published GRID work crops the mouth per frame from facial landmarks, and so does this (avvae.vision.landmarks finds
them, avvae.vision.mouth_boxes turns them into boxes, `mouth_scale` times the mouth's width). A video without any
face takes the fixed box of conf/crops.yaml, as does every video with `mouth: box`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

from avvae.corpus_prep.common import CorpusLayoutError
from avvae.vision.landmarks import mouth_landmarks, tracked_mouth_landmarks
from avvae.vision.mouth_boxes import boxes_from_landmarks, crop_frames

if TYPE_CHECKING:
    from avvae.corpus_prep.grid import Crop, GridConfig

log = logging.getLogger(__name__)


def mouth_crops(frames: np.ndarray, config: GridConfig, box: Crop, where: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """(crops uint8 [T, size, size], boxes [T, 4], which boxes) of full frames [T, H, W]: per-frame landmark boxes,
    or the fixed `box` with `mouth: box` or when no frame has a face (logged)."""
    height, width = frames.shape[1:]
    boxes, which = None, "fixed box"
    if config.mouth == "landmarks":
        if config.detect_every:
            centres, widths = mouth_landmarks(frames, config.detect_every)
        else:
            centres, widths = tracked_mouth_landmarks(frames, config.landmark_every, config.detect_height)
        boxes = boxes_from_landmarks(centres, widths, config.mouth_scale, (width, height))
        missing = int(np.isnan(widths).sum())
        if boxes is None:
            log.warning("%s: no face found in any frame, the fixed mouth box %s taken", where, list(box))
            which = "fixed box: no face found"
        elif missing:
            log.info("%s: no face in %d of %d frames, their nearest frame's box taken", where, missing, len(frames))
            which = f"landmarks, no face in {missing} frames"
        else:
            which = "landmarks"
    if boxes is None:
        x, y, box_width, box_height = box
        if x + box_width > width or y + box_height > height:
            raise CorpusLayoutError(f"{where}: mouth crop {list(box)} is outside the {width}x{height} frame")
        boxes = np.tile(np.array(box, dtype=int), (len(frames), 1))
    return crop_frames(frames, boxes, config.lips_size), boxes, which


def crops_picture(
    path: str | Path, examples: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], columns: int = 4
) -> Path:
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
