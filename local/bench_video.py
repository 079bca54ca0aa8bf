"""Benchmark of `separate --video`: seconds per second of video, stage by stage, idle or with cores kept busy, and
peak memory.

A real video with the models that serve its faces (the GRID talkers' models and a two-face video made by
local/two_face_video.py, say):

  PYTHONPATH=. python local/bench_video.py --video exp/bench_video/two_talkers.mp4 \\
      --model egs/grid/models/avvae_sd_s1.pt egs/grid/models/avvae_sd_s4.pt \\
      --mcem-config egs/grid/conf/real/mcem.yaml --feats-config egs/grid/conf/real/feats.yaml \\
      --references exp/bench_video/two_talkers_left.wav exp/bench_video/two_talkers_right.wav --busy 1

Without --video: the synthetic two-face video of avvae.synthetic_video (384x192, 25 fps, `--minutes` long) with a
tiny untrained AV-VAE and a short MCEM schedule, which measures what does not depend on a model (face tracking,
mouth crops, windowing, writing) and whether the memory stays bounded as the video grows.

It prints the machine, the time of decoding the video alone (at the face detector's width: the face pass decodes
it so, in an ffmpeg process beside its own), then the separation's stages (avvae.separation.stage_clock: wall and
CPU seconds of this process and its children, per second of video), the whole run's seconds per second of video,
the SI-SDR improvement of each face against its `--references`, and the peak resident memory. `--busy N` keeps N
processes spinning on the CPU meanwhile, as another user's job would. `--keep-lips DIR` writes each face's mouth
crops as lips .npz files and the soundtrack as a wav, so that the separation alone can be timed elsewhere (a GPU
machine without the face detector, say) with `python -m avvae.bin.separate SOUNDTRACK.wav --lips ...`.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

from avvae.config import load_config
from avvae.evaluation.metrics import si_sdr
from avvae.features import FeatureConfig
from avvae.fileio.audio import write_wav
from avvae.fileio.lips import save_lips
from avvae.fileio.video import iter_frames, read_container_audio, video_info
from avvae.mcem import McemConfig
from avvae.models import ModelConfig, SpeechVAE, load_model
from avvae.separation.own_mixture import default_separation_mcem
from avvae.separation.stage_clock import StageClock
from avvae.separation.video_separation import VideoSeparationConfig, VideoSummary, crop_mouths, separate_video
from avvae.separation.window_pool import usable_cores
from avvae.synthetic_video import soundtrack, write_talking_heads

RATE = 16000
SPIN = "while True: pass"


def peak_mib(who: int) -> float:
    """Peak resident memory (MiB) of this process (RUSAGE_SELF) or of its largest finished child."""
    return resource.getrusage(who).ru_maxrss / 1024


def machine() -> str:
    """CPU model, usable cores, load average and torch version, for the record."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{model}; {usable_cores()} usable cores; load average {load}; torch {torch.__version__}"


def time_decoding(video: Path, width: int) -> tuple[float, float]:
    """Wall and CPU seconds (ffmpeg included) of decoding the video at the face detector's `width`."""
    clock = StageClock()
    with clock.stage("decoding"):
        info = video_info(video)
        for _ in iter_frames(video, "gray", width if info.size[0] > width else None):
            pass
    return clock.wall["decoding"], clock.cpu["decoding"]


def synthetic_case(args: argparse.Namespace, out: Path) -> tuple[Path, list[SpeechVAE], McemConfig, FeatureConfig]:
    """The synthetic video (written now) with a tiny untrained AV-VAE and a short MCEM schedule."""
    start = time.time()
    video = out / "long_talk.mp4"
    write_talking_heads(video, soundtrack(60 * args.minutes, RATE), RATE)
    print(f"synthetic video: {args.minutes:g} min written in {time.time() - start:.1f} s")
    model = SpeechVAE(ModelConfig(kind="avvae", hidden_dim=32, lip_hidden=16, lip_embedding=8)).eval()
    model.requires_grad_(False)
    mcem = McemConfig(iterations=5, draws=5, burn_in=2, final_draws=5, final_burn_in=2, log_every=1000)
    return video, [model], mcem, FeatureConfig()


def keep_lips(video: Path, summary: VideoSummary, samples: np.ndarray, rate: int, sizes: list[int], out: Path) -> None:
    """Each separated face's mouth crops as out/<name>_face<k>.npz and the soundtrack as out/<name>.wav."""
    info = video_info(video)
    found = [~np.isnan(face.face_boxes[:, 0]) for face in summary.faces]
    boxes = [face.mouth_boxes for face in summary.faces]
    out.mkdir(parents=True, exist_ok=True)
    crops = crop_mouths(video, info, found, boxes, sizes, out)
    for face, crop in zip(summary.faces, crops):
        save_lips(out / f"{video.stem}_face{face.number}.npz", np.asarray(crop), info.fps)
        Path(crop.filename).unlink()
    write_wav(out / f"{video.stem}.wav", samples, rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, help="a video to separate (default: the synthetic one)")
    parser.add_argument("--model", nargs="+", help="with --video: one model for all faces, or one per face")
    parser.add_argument("--mcem-config", help="with --video: MCEM settings (default: separate's)")
    parser.add_argument("--feats-config", help="with --video: STFT settings of the models (default: the published)")
    parser.add_argument("--video-config", help="face tracking and windowing settings (YAML)")
    parser.add_argument("--device", help="cpu or cuda (overrides the MCEM config)")
    parser.add_argument("--references", type=Path, nargs="+", help="each face's own voice, to score the outputs")
    parser.add_argument("--minutes", type=float, default=10.0, help="without --video: the synthetic video's length")
    parser.add_argument("--busy", type=int, default=0, help="processes kept spinning on the CPU meanwhile")
    parser.add_argument("--keep-lips", type=Path, help="write the faces' lips (.npz) and the soundtrack here")
    parser.add_argument("--out-dir", type=Path, default=Path("exp/bench_video"), help="where the outputs go")
    args = parser.parse_args()
    out = args.out_dir
    if args.video is None:
        video, models, mcem, features = synthetic_case(args, out)
    else:
        if not args.model:
            parser.error("--video needs --model")
        video = args.video
        mcem = load_config(args.mcem_config, McemConfig) if args.mcem_config else default_separation_mcem()
        features = load_config(args.feats_config, FeatureConfig) if args.feats_config else FeatureConfig()
        loaded = {path: load_model(path, args.device or mcem.device) for path in dict.fromkeys(args.model)}
        models = [loaded[path] for path in args.model]
    if args.device:
        mcem.device = args.device
    config = load_config(args.video_config, VideoSeparationConfig) if args.video_config else VideoSeparationConfig()
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.busy)]
    try:
        time.sleep(1.0 if spinners else 0.0)
        print(f"machine: {machine()}; {args.busy} busy process(es) beside the run")
        decode_wall, decode_cpu = time_decoding(video, config.detect_width)
        start = time.time()
        summary = separate_video(video, models, mcem, features, config, out / "separated")
        seconds = time.time() - start
    finally:
        for spinner in spinners:
            spinner.kill()
    duration = summary.audio_seconds
    print(summary.text())
    width, height = video_info(video).size
    print(f"\n{video}: {duration:.1f} s, {width}x{height}; MCEM on {mcem.device}")
    print("| stage | wall s | wall s per s of video | CPU s |")
    print("|---|---|---|---|")
    print(f"| decoding alone (not in the run) | {decode_wall:.1f} | {decode_wall / duration:.3f} | {decode_cpu:.1f} |")
    for name, wall in summary.clock.wall.items():
        print(f"| {name} | {wall:.1f} | {wall / duration:.3f} | {summary.clock.cpu[name]:.1f} |")
    print(f"| whole run | {seconds:.1f} | **{seconds / duration:.3f}** | {sum(summary.clock.cpu.values()):.1f} |")
    samples = read_container_audio(video, features.sample_rate)
    if args.references:
        outputs = [out / "separated" / f"{video.stem}_face{face.number}.wav" for face in summary.faces]
        for reference, output, face in zip(args.references, outputs, summary.faces):
            truth, estimate = soundfile.read(reference, dtype="float32")[0], soundfile.read(output, dtype="float32")[0]
            n = min(len(truth), len(estimate), len(samples))
            gain = si_sdr(truth[:n], estimate[:n]) - si_sdr(truth[:n], samples[:n])
            print(f"face {face.number}: SI-SDR improvement {gain:.2f} dB against {reference.name}")
    if args.keep_lips:
        keep_lips(video, summary, samples, features.sample_rate, [m.config.lip_size for m in models], args.keep_lips)
    print(
        f"peak RSS: this process {peak_mib(resource.RUSAGE_SELF):.0f} MiB, "
        f"largest child {peak_mib(resource.RUSAGE_CHILDREN):.0f} MiB"
    )


if __name__ == "__main__":
    main()
