"""What a video separation writes beside the wavs: each face's video with its separated audio, a picture of the faces
outlined and numbered, the strip of each face's mouth crops, and the spectrograms of the mixture and the outputs."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile
from PIL import Image, ImageDraw, ImageFont

from avvae.fileio.atomic import atomic_path
from avvae.fileio.video import VideoError, VideoInfo, frame_at
from avvae.separation.own_mixture import plot_spectrograms

if TYPE_CHECKING:
    from avvae.separation.video_separation import FaceResult

COLOURS = [(255, 64, 64), (64, 200, 255), (255, 210, 0), (120, 255, 120), (255, 120, 255)]


def write_face_videos(path: Path, wavs: list[Path], outputs: list[Path]) -> None:
    """Pass 3: per face, the input's video stream with that face's separated audio (AAC). The video stream is copied
    as it is, which costs next to nothing; a codec that MP4 cannot hold (raw video, say) is re-encoded (H.264)."""
    from imageio_ffmpeg import get_ffmpeg_exe

    for wav, output in zip(wavs, outputs):
        command = [get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(path), "-i", str(wav)]
        command += ["-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", "128k", "-f", "mp4"]
        with atomic_path(output) as tmp:
            copied = subprocess.run([*command, "-c:v", "copy", str(tmp)], capture_output=True)
            if copied.returncode != 0:
                encode = [
                    "-c:v",
                    "libx264",
                    "-preset",
                    "veryfast",
                    "-pix_fmt",
                    "yuv420p",
                    "-vf",
                    "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                ]
                encoded = subprocess.run([*command, *encode, str(tmp)], capture_output=True)
                if encoded.returncode != 0:
                    message = encoded.stderr.decode(errors="replace").strip()
                    raise VideoError(f"{path}: cannot write its video with a separated voice ({message})")


def faces_picture(path: Path, info: VideoInfo, faces: list[FaceResult], out: Path) -> None:
    """A PNG of the first frame where the most of the `faces` were found, each face's box outlined in its colour and
    labelled with its number: which face is which output."""
    found = np.stack([~np.isnan(face.face_boxes[:, 0]) for face in faces]).sum(0)
    index = int(np.argmax(found))
    picture = Image.fromarray(frame_at(path, index / info.fps))
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=max(12, picture.height // 24))
    for face in faces:
        box = face.face_boxes[index]
        if np.isnan(box).any():
            continue
        x, y, width, height = box
        colour = COLOURS[face.number % len(COLOURS)]
        draw.rectangle([x, y, x + width - 1, y + height - 1], outline=colour, width=3)
        label = draw.textbbox((x, y), f"face {face.number}", font=font, anchor="lb")
        draw.rectangle(label, fill=colour)
        draw.text((x, y), f"face {face.number}", fill=(0, 0, 0), font=font, anchor="lb")
    with atomic_path(out) as tmp:
        picture.save(tmp, format="png")


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
