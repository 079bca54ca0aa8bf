"""A two-person video from real talking-face clips, for benchmarking `separate --video` on real faces.

  PYTHONPATH=. python local/two_face_video.py --left s1/a.mpg s1/b.mpg ... --right s4/c.mpg ... \\
      --seconds 60 exp/bench_video/two_talkers.mp4

Each side's clips are joined one after the other until the side lasts `--seconds` (the list is reused from its
start if it is too short), scaled to half the frame's width, placed side by side in a `--size` frame (1280x720 by
default, an HD interview's size) on a grey background, and encoded as H.264 with the two soundtracks summed in AAC,
as a camera or a broadcast would deliver it (each clip at half its level, so that the sum does not clip). Each
side's own soundtrack is also written as a wav beside the video (`<name>_left.wav`, `<name>_right.wav`, 16 kHz),
the references to score the separated voices against.
"""

from __future__ import annotations

import argparse
import subprocess
from contextlib import ExitStack
from pathlib import Path

from imageio_ffmpeg import get_ffmpeg_exe

from avvae.fileio.atomic import atomic_path
from avvae.fileio.video import video_info

RATE = 16000
FPS = 25


def clips_for(paths: list[Path], seconds: float) -> list[Path]:
    """The clips, in order and reused from the start if needed, until they last at least `seconds`."""
    durations = [video_info(path).duration for path in paths]
    chosen, total = [], 0.0
    while total < seconds:
        index = len(chosen) % len(paths)
        chosen.append(paths[index])
        total += durations[index]
    return chosen


def side_graph(first: int, count: int, width: int, height: int, label: str) -> str:
    """The filter joining inputs first..first+count-1, each scaled into width x height, into [<label>v][<label>a]."""
    scaled = "".join(
        f"[{first + k}:v]fps={FPS},scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=gray,setsar=1[{label}{k}];"
        f"[{first + k}:a]aresample={RATE},aformat=channel_layouts=mono,volume=0.5[{label}a{k}];"
        for k in range(count)
    )
    joined = "".join(f"[{label}{k}][{label}a{k}]" for k in range(count))
    return f"{scaled}{joined}concat=n={count}:v=1:a=1[{label}v][{label}a]"


def write_two_face_video(left: list[Path], right: list[Path], seconds: float, size: tuple[int, int], out: Path) -> None:
    """The side-by-side video of the module docstring, and each side's soundtrack as a wav beside it, all three
    from one ffmpeg graph so that the references line up with the video's soundtrack sample for sample."""
    width, height = size
    left, right = clips_for(left, seconds), clips_for(right, seconds)
    graph = ";".join(
        [
            side_graph(0, len(left), width // 2, height, "l"),
            side_graph(len(left), len(right), width // 2, height, "r"),
            "[lv][rv]hstack=inputs=2[v]",
            "[la]asplit[la1][la2];[ra]asplit[ra1][ra2]",
            "[la1][ra1]amix=inputs=2:normalize=0:duration=shortest[a]",
        ]
    )
    inputs = [arg for path in left + right for arg in ("-i", str(path))]
    references = [out.with_name(f"{out.stem}_{side}.wav") for side in ("left", "right")]
    with ExitStack() as stack:
        video, *wavs = (stack.enter_context(atomic_path(path)) for path in (out, *references))
        command = [get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", *inputs, "-filter_complex", graph]
        command += ["-map", "[v]", "-map", "[a]", "-t", f"{seconds:.3f}", "-c:v", "libx264", "-crf", "20"]
        command += ["-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-f", "mp4", str(video)]
        for label, wav in zip(("[la2]", "[ra2]"), wavs):
            command += ["-map", label, "-t", f"{seconds:.3f}", "-c:a", "pcm_f32le", "-f", "wav", str(wav)]
        subprocess.run(command, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the video to write (.mp4)")
    parser.add_argument("--left", type=Path, nargs="+", required=True, help="the left person's clips, in order")
    parser.add_argument("--right", type=Path, nargs="+", required=True, help="the right person's clips, in order")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the video")
    parser.add_argument("--size", default="1280x720", help="frame size, WIDTHxHEIGHT")
    args = parser.parse_args()
    size = tuple(int(value) for value in args.size.lower().split("x"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_two_face_video(args.left, args.right, args.seconds, size, args.out)
    print(f"{args.out}: {video_info(args.out)}")


if __name__ == "__main__":
    main()
