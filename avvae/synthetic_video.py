"""A synthetic two-person video with a soundtrack, for the tests, the benchmark and the picture of the video separation
path in docs/separating.md: a real face photograph that an installed package ships (matplotlib's sample photo of Grace
Hopper) twice side by side, the right copy mirrored, each moving and zooming slowly on a grey background, optionally
covered in some frames (an occlusion). Frames are made and sent to ffmpeg one at a time, so a 10-minute video costs no
memory.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from avvae.fileio.atomic import atomic_path
from avvae.fileio.audio import write_wav

# The head in the photo (left, top, right, bottom) and where its mouth is, in the photo's pixels.
HEAD = (90, 80, 430, 420)
MOUTH = (264, 279)
FRAME_SIZE = (384, 192)
TILE = 150


@lru_cache(maxsize=1)
def head_photo() -> Image.Image:
    """The photo's head region, RGB."""
    from matplotlib import cbook

    return Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB").crop(HEAD)


def head_placement(frame: int, person: int, fps: float) -> tuple[int, int, int]:
    """(left, top, side) of person 0's (left) or 1's (right) head tile in a frame: a slow drift and zoom."""
    t = frame / fps
    side = int(round(TILE * (1 + 0.08 * np.sin(2 * np.pi * 0.3 * t + person))))
    centre_x = FRAME_SIZE[0] * (0.25 + 0.5 * person) + 12 * np.sin(2 * np.pi * 0.2 * t + 2 * person)
    centre_y = FRAME_SIZE[1] / 2 + 6 * np.cos(2 * np.pi * 0.25 * t + person)
    return int(round(centre_x - side / 2)), int(round(centre_y - side / 2)), side


def mouth_position(frame: int, person: int, fps: float) -> tuple[float, float]:
    """Where the person's mouth is drawn in the frame (x, y), from the photo's mouth and the tile's placement."""
    left, top, side = head_placement(frame, person, fps)
    scale = side / (HEAD[2] - HEAD[0])
    x = (MOUTH[0] - HEAD[0]) * scale
    if person == 1:
        x = side - 1 - x
    return left + x, top + (MOUTH[1] - HEAD[1]) * scale


def render_frame(frame: int, fps: float, covered: tuple[int, ...] = ()) -> np.ndarray:
    """uint8 [H, W, 3] frame `frame`: both heads, those in `covered` hidden behind a grey board."""
    picture = Image.new("RGB", FRAME_SIZE, (96, 100, 104))
    for person in range(2):
        left, top, side = head_placement(frame, person, fps)
        if person in covered:
            picture.paste((150, 150, 150), (left, top, left + side, top + side))
            continue
        tile = head_photo().resize((side, side), Image.Resampling.BILINEAR)
        picture.paste(ImageOps.mirror(tile) if person == 1 else tile, (left, top))
    return np.asarray(picture)


def write_talking_heads(
    path: str | Path, audio: np.ndarray, rate: int, fps: float = 25.0, covered: dict[int, tuple[int, ...]] | None = None
) -> int:
    """Write an mp4 (H.264 + AAC) as long as `audio`, with the two heads; `covered` maps frame -> hidden persons.
    Returns the number of frames."""
    from imageio_ffmpeg import write_frames

    path, covered = Path(path), covered or {}
    num_frames = int(np.ceil(len(audio) / rate * fps))
    wav = path.with_name(f".{path.stem}.soundtrack.wav")
    write_wav(wav, audio.astype(np.float32), rate)
    try:
        with atomic_path(path) as tmp:
            writer = write_frames(
                str(tmp),
                FRAME_SIZE,
                fps=fps,
                macro_block_size=2,
                audio_path=str(wav),
                audio_codec="aac",
                output_params=["-f", "mp4"],
                ffmpeg_log_level="error",
            )
            writer.send(None)
            for frame in range(num_frames):
                writer.send(render_frame(frame, fps, covered.get(frame, ())))
            writer.close()
    finally:
        wav.unlink(missing_ok=True)
    return num_frames


def soundtrack(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Two voiced talkers (harmonic series at 110 and 210 Hz with vibrato, syllable-like on/off envelopes) and a
    little noise, float32 with peak 0.5: a stand-in for speech where only the length and the mixture matter."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    mixture = 0.01 * rng.standard_normal(len(t))
    for f0, syllables in ((110.0, 3.1), (210.0, 4.3)):
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))) / rate
        voice = sum(np.sin(k * phase) / k for k in range(1, 20))
        mixture += voice * np.clip(np.sin(2 * np.pi * syllables * t + rng.uniform(0, 2 * np.pi)), 0, None)
    return (0.5 * mixture / np.max(np.abs(mixture))).astype(np.float32)
