"""What a video separation draws: each face's video with its box outlined and its separated audio, the strip of its
mouth crops, and the spectrograms of the mixture and the outputs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile
from PIL import Image, ImageDraw
from tqdm import tqdm

from avvae.fileio.atomic import atomic_path
from avvae.fileio.video import VideoInfo, iter_frames
from avvae.separation.own_mixture import plot_spectrograms

if TYPE_CHECKING:
    from avvae.separation.video_separation import FaceResult

COLOURS = [(255, 64, 64), (64, 200, 255), (255, 210, 0), (120, 255, 120), (255, 120, 255)]


def write_face_videos(
    path: Path, info: VideoInfo, faces: list[FaceResult], wavs: list[Path], outputs: list[Path]
) -> None:
    """Pass 3: per face, the video with that face's box drawn where it was found, and its separated audio."""
    from imageio_ffmpeg import write_frames

    writers = [
        write_frames(
            str(output),
            info.size,
            fps=info.fps,
            macro_block_size=2,
            audio_path=str(wav),
            audio_codec="aac",
            ffmpeg_log_level="error",
        )
        for output, wav in zip(outputs, wavs)
    ]
    for writer in writers:
        writer.send(None)
    num_frames = len(faces[0].face_boxes)
    for index, frame in enumerate(tqdm(iter_frames(path, "rgb24"), total=num_frames, desc="videos", unit="frame")):
        for face, writer in zip(faces, writers):
            box = face.face_boxes[min(index, num_frames - 1)]
            if np.isnan(box).any():
                writer.send(frame)
                continue
            picture = Image.fromarray(frame)
            x, y, width, height = box
            colour = COLOURS[face.number % len(COLOURS)]
            ImageDraw.Draw(picture).rectangle([x, y, x + width - 1, y + height - 1], outline=colour, width=3)
            writer.send(np.asarray(picture))
    for writer in writers:
        writer.close()


def mouth_strip(path: Path, crops: np.ndarray, found: np.ndarray, count: int) -> None:
    """A PNG row of `count` mouth crops spread over the video, each scaled x2, labelled with its frame number
    (and 'filled' where the face was not found and the nearest crop stands in)."""
    picks = np.unique(np.linspace(0, len(crops) - 1, count).round().astype(int))
    side = 2 * crops.shape[1]
    strip = Image.new("RGB", (len(picks) * (side + 4), side + 14), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    for column, index in enumerate(picks):
        tile = Image.fromarray(np.asarray(crops[index])).resize((side, side), Image.Resampling.NEAREST)
        strip.paste(tile, (column * (side + 4), 14))
        draw.text((column * (side + 4) + 2, 1), f"{index}" + ("" if found[index] else " filled"), fill=(0, 0, 0))
    with atomic_path(path) as tmp:
        strip.save(tmp, format="png")


def spectrogram_figure(
    path: Path, samples: np.ndarray, wavs: list[Path], labels: list[str], rate: int, seconds: float
) -> None:
    """The spectrogram figure of own_mixture over the first `seconds` (a long video's whole would be unreadable)."""
    length = min(len(samples), int(seconds * rate))
    signals = {"mixture": samples[:length]}
    for label, wav in zip(labels, wavs):
        signals[label] = soundfile.read(wav, frames=length, dtype="float32")[0]
    plot_spectrograms(signals, rate, path)
