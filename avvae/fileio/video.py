"""Video frames and a container's audio track through the ffmpeg binary that imageio-ffmpeg ships (no system ffmpeg
needed)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from avvae.errors import AvvaeError

# imageio-ffmpeg warns on every video whose frames, as read, differ from the encoded size: we ask for that.
logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)
# The raw video output's line in ffmpeg's log: its frame size and rate.
RAW_VIDEO_LINE = re.compile(r"Video: rawvideo .*?, (\d+)x(\d+)\b.*?, ([\d.]+) fps")


class VideoError(AvvaeError):
    """A video cannot be decoded, has no frames or no audio track; the message names it."""


def read_gray_frames(
    path: str | Path, size: int | None, crop: tuple[int, int, int, int] | None = None
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """uint8 [T, size, size] frames of the video (cropped to (x, y, width, height) first when given, then scaled;
    size None: [T, height, width] as encoded, or as cropped), its frame rate and its source (width, height)."""
    from imageio_ffmpeg import read_frames

    filters = [] if size is None else [f"scale={size}:{size}:flags=bilinear"]
    if crop is not None:
        x, y, width, height = crop
        filters.insert(0, f"crop={width}:{height}:{x}:{y}")
    try:
        reader = read_frames(
            str(path), pix_fmt="gray", bits_per_pixel=8, output_params=["-vf", ",".join(filters)] if filters else None
        )
        meta = next(reader)
        width, height = (size, size) if size is not None else crop[2:] if crop is not None else meta["size"]
        frames = [np.frombuffer(frame, dtype=np.uint8).reshape(height, width) for frame in reader]
    except (RuntimeError, OSError, StopIteration, ValueError) as error:
        raise VideoError(f"{path}: cannot decode the video ({error})") from error
    if not frames:
        raise VideoError(f"{path}: no video frames")
    return np.stack(frames), float(meta["fps"]), tuple(meta["source_size"])


def _mono_float_audio(rate: int) -> list[str]:
    """ffmpeg's output options for raw little-endian float32 samples, mixed to mono, at `rate`."""
    return ["-ac", "1", "-ar", str(rate), "-f", "f32le", "-acodec", "pcm_f32le"]


def read_container_audio(path: str | Path, rate: int) -> np.ndarray:
    """The first audio track of a video container (e.g. GRID's .mpg), mixed to mono and resampled to `rate` by
    ffmpeg: float32 samples. Its time 0 is the video's, so lips and audio share one clock."""
    from imageio_ffmpeg import get_ffmpeg_exe

    command = [
        get_ffmpeg_exe(),
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-vn",
        *_mono_float_audio(rate),
        "-",
    ]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise VideoError(f"{path}: cannot read its audio track ({message[-1] if message else 'ffmpeg failed'})")
    samples = np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)
    if samples.size == 0:
        raise VideoError(f"{path}: its audio track is empty")
    return samples


def read_frames_and_audio(path: str | Path, rate: int) -> tuple[np.ndarray, float, np.ndarray]:
    """(read-only uint8 [T, height, width] frames as encoded, frame rate, float32 mono audio at `rate`) of a video: what
    read_gray_frames(path, None) and read_container_audio give, from one ffmpeg process (frames on its stdout, audio
    on a second pipe), at about 60% of their cost (one process start and one probe of the file, not two). Where that
    fails, the two readers are run: they give the streams or name what is wrong."""
    from imageio_ffmpeg import get_ffmpeg_exe

    audio_read, audio_write = os.pipe()
    # One decoding thread: the cost per core is what counts when jobs share the machine's cores.
    command = [
        get_ffmpeg_exe(),
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-threads",
        "1",
        "-i",
        str(path),
        "-map",
        "0:v:0",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "gray",
        "pipe:1",
        "-map",
        "0:a:0",
        *_mono_float_audio(rate),
        f"pipe:{audio_write}",
    ]
    with open(audio_read, "rb") as audio_pipe, ThreadPoolExecutor(1) as pool:
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(audio_write,))
        finally:
            os.close(audio_write)
        audio_reader = pool.submit(audio_pipe.read)  # in a thread: a full audio pipe would stall ffmpeg's video
        video_bytes, messages = process.communicate()
        audio_bytes = audio_reader.result()
    header = RAW_VIDEO_LINE.search(messages.decode(errors="replace"))
    frame_bytes = 0 if header is None else int(header[1]) * int(header[2])
    if process.returncode or not frame_bytes or not video_bytes or len(video_bytes) % frame_bytes or not audio_bytes:
        frames, fps, _ = read_gray_frames(path, None)
        return frames, fps, read_container_audio(path, rate)
    frames = np.frombuffer(video_bytes, dtype=np.uint8).reshape(-1, int(header[2]), int(header[1]))
    return frames, float(header[3]), np.frombuffer(audio_bytes, dtype="<f4").astype(np.float32)


@dataclass
class VideoInfo:
    """What the container's header says: frame rate, frame size (width, height), duration in seconds (0 where
    unknown) and whether it holds an audio track."""

    fps: float
    size: tuple[int, int]
    duration: float
    has_audio: bool

    @property
    def expected_frames(self) -> int:
        return max(1, round(self.duration * self.fps))


def video_info(path: str | Path) -> VideoInfo:
    """The header of a video file, read by ffmpeg without decoding the frames."""
    from imageio_ffmpeg import read_frames

    if not Path(path).is_file():
        raise VideoError(f"{path}: video file does not exist")
    reader = read_frames(str(path))
    try:
        meta = next(reader)
    except (RuntimeError, OSError, StopIteration, ValueError, IndexError) as error:
        raise VideoError(f"{path}: cannot read it as a video ({error})") from error
    finally:
        reader.close()
    if not meta.get("fps"):
        raise VideoError(f"{path}: the video stream has no frame rate")
    return VideoInfo(
        float(meta["fps"]), tuple(meta["source_size"]), float(meta.get("duration") or 0.0), "audio_codec" in meta
    )


def iter_frames(path: str | Path, pix_fmt: str = "gray", width: int | None = None) -> Iterator[np.ndarray]:
    """Decoded frames one at a time (uint8 [H, W] for gray, [H, W, 3] for rgb24), scaled to `width` (height kept
    in proportion, even) when given: a long video is never held whole."""
    from imageio_ffmpeg import read_frames

    channels = {"gray": 1, "rgb24": 3}[pix_fmt]
    params = None if width is None else ["-vf", f"scale={width}:-2:flags=bilinear"]
    reader = read_frames(str(path), pix_fmt=pix_fmt, bits_per_pixel=8 * channels, output_params=params)
    try:
        meta = next(reader)
        frame_width, height = meta["size"]
        shape = (height, frame_width) if channels == 1 else (height, frame_width, channels)
        for frame in reader:
            yield np.frombuffer(frame, dtype=np.uint8).reshape(shape)
    except (RuntimeError, OSError, StopIteration, ValueError) as error:
        raise VideoError(f"{path}: cannot decode the video ({error})") from error
    finally:
        reader.close()


def frame_at(path: str | Path, seconds: float) -> np.ndarray:
    """The RGB frame uint8 [H, W, 3] shown at `seconds` (ffmpeg seeks to it rather than decoding what comes before)."""
    from imageio_ffmpeg import read_frames

    reader = read_frames(
        str(path), pix_fmt="rgb24", input_params=["-ss", f"{seconds:.3f}"], output_params=["-frames:v", "1"]
    )
    try:
        meta = next(reader)
        width, height = meta["size"]
        return np.frombuffer(next(reader), dtype=np.uint8).reshape(height, width, 3).copy()
    except (RuntimeError, OSError, StopIteration, ValueError) as error:
        raise VideoError(f"{path}: cannot decode its frame at {seconds:.2f} s ({error})") from error
    finally:
        reader.close()
