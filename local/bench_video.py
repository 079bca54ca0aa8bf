"""Benchmark of `separate --video` on a long synthetic video: peak memory and seconds per minute of video.

  PYTHONPATH=. python local/bench_video.py --minutes 10 --out-dir exp/bench_video

writes the two-face test video of avvae.synthetic_video (384x192, 25 fps, with a two-talker soundtrack) of the
given length, then separates it with a tiny untrained AV-VAE built here and a short MCEM schedule (the cost of
face tracking, mouth cropping, windowing and video writing is what is measured, not a model's), and prints the
peak resident memory of this process and of its ffmpeg children, and the seconds taken per minute of video. Run
it at two lengths: bounded memory means the peak does not grow with the length.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import torch

from avvae.features import FeatureConfig
from avvae.mcem import McemConfig
from avvae.models import ModelConfig, SpeechVAE
from avvae.separation.video_separation import VideoSeparationConfig, separate_video
from avvae.synthetic_video import soundtrack, write_talking_heads

RATE = 16000


def peak_mib(who: int) -> float:
    """Peak resident memory (MiB) of this process (RUSAGE_SELF) or of its largest finished child."""
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the synthetic video")
    parser.add_argument("--out-dir", default="exp/bench_video", help="where the video and the outputs go")
    parser.add_argument("--iterations", type=int, default=5, help="MCEM iterations per window")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out_dir)
    start = time.time()
    video = out / "long_talk.mp4"
    write_talking_heads(video, soundtrack(60 * args.minutes, RATE), RATE)
    made = time.time() - start
    so_far = peak_mib(resource.RUSAGE_SELF)
    print(f"synthetic video: {args.minutes:g} min written in {made:.1f} s; peak RSS so far {so_far:.0f} MiB")
    model = SpeechVAE(ModelConfig(kind="avvae", hidden_dim=32, lip_hidden=16, lip_embedding=8)).eval()
    model.requires_grad_(False)
    mcem = McemConfig(iterations=args.iterations, draws=5, burn_in=2, final_draws=5, final_burn_in=2, log_every=1000)
    start = time.time()
    summary = separate_video(video, [model], mcem, FeatureConfig(), VideoSeparationConfig(), out / "separated")
    seconds = time.time() - start
    print(summary.text())
    print(
        f"minutes {args.minutes:g}  seconds/minute of video {seconds / args.minutes:.1f}  "
        f"peak RSS: this process {peak_mib(resource.RUSAGE_SELF):.0f} MiB, "
        f"largest ffmpeg child {peak_mib(resource.RUSAGE_CHILDREN):.0f} MiB"
    )


if __name__ == "__main__":
    main()
