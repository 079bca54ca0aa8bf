#!/usr/bin/env python3
"""Cost and accuracy of GRID's mouth crops: the face followed by its landmarks (egs/grid/conf/corpus.yaml's default)
against dlib's face detector on every frame (the method before), per core, on real videos.

  OMP_NUM_THREADS=1 PYTHONPATH=. python local/bench_mouth_crops.py --videos GRID/s1 GRID/s4 --limit 1000 \
      --reference-limit 100

Each folder's first `--limit` videos go through extract_media's work on one video (extract_video: decode, mouth
crops, lips and 16 kHz wav written) with the config's method; `--reference-limit` of them, spread over the folder,
also as before: frames and audio by two ffmpeg processes, the face detected on every frame. Prints per folder
(a) frames per second per core (CPU seconds of this process and its ffmpeg children) of both, and the speed-up,
(b) how far the new crops are from the reference's on the videos both ran: mouth-box centre distance and side
difference in the video's pixels, and mean absolute difference of the 67x67 crops, and (c) the core hours and the
wall time on N cores for the whole GRID release at the first folder's rates.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from avvae.config import load_config
from avvae.corpus_prep.common import fit_lips_to_audio
from avvae.corpus_prep.grid import Crop, GridConfig, crop_for, extract_video, load_crops
from avvae.corpus_prep.grid_mouth import mouth_crops
from avvae.fileio.audio import write_wav
from avvae.fileio.lips import load_lips, save_lips
from avvae.fileio.video import read_container_audio, read_gray_frames, video_info

ROOT = Path(__file__).resolve().parent.parent
RELEASE_VIDEOS, RELEASE_FRAMES = 34_000, 2_550_000  # GRID's 34 talkers x 1000 videos x 75 frames


def cpu_seconds() -> float:
    """CPU seconds (user and system) of this process, all its threads, and its finished children (ffmpeg)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def extract_before(video: Path, config: GridConfig, box: Crop, lips_path: Path, wav_path: Path) -> np.ndarray:
    """extract_video as it was before the face was followed: two ffmpeg processes, the face detected on every frame
    (`config` with detect_every 1); returns the mouth boxes."""
    frames, _, _ = read_gray_frames(video, None)
    audio = read_container_audio(video, config.sample_rate)
    lips, boxes, _ = mouth_crops(frames, config, box, video)
    lips = fit_lips_to_audio(lips, config.lips_fps, len(audio), config.sample_rate, config.lips_tolerance, video)
    write_wav(wav_path, np.clip(audio, -1.0, 1.0), config.sample_rate, subtype="PCM_16")
    save_lips(lips_path, lips, config.lips_fps)
    return boxes


@dataclasses.dataclass
class Tally:
    """Frames, CPU and wall seconds of one method over a set of videos."""

    frames: int = 0
    cpu: float = 0.0
    wall: float = 0.0

    def rate(self) -> float:
        return self.frames / self.cpu

    def text(self) -> str:
        wall = self.frames / self.wall
        return f"{self.rate():.0f} frames/s per core ({wall:.0f} frames/s wall, {self.frames} frames)"


def timed(tally: Tally, extract: Callable[..., np.ndarray], *args) -> np.ndarray:
    """Run one extraction and add its frames and seconds to the tally; returns its mouth boxes."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    boxes = extract(*args)
    tally.cpu += cpu_seconds() - cpu
    tally.wall += time.perf_counter() - wall
    tally.frames += len(boxes)
    return boxes


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def describe(config: GridConfig) -> str:
    """The config's mouth method in words."""
    if config.detect_every:
        return f"detect_every {config.detect_every}"
    return f"face followed, landmarks every {config.landmark_every} frames, detect_height {config.detect_height}"


def bench_folder(
    folder: Path, config: GridConfig, box: Crop, limit: int, reference_limit: int, work: Path
) -> tuple[Tally, Tally]:
    """Print the rates and distances of one folder of videos; returns (reference, new) tallies."""
    videos = sorted(folder.glob("*.mpg"))[:limit]
    if not videos:
        raise SystemExit(f"{folder}: no .mpg videos")
    spread = set(np.linspace(0, len(videos) - 1, min(reference_limit, len(videos))).round().astype(int).tolist())
    reference_config = dataclasses.replace(config, detect_every=1)
    before, new, new_paired = Tally(), Tally(), Tally()
    centres, sides, crops = [], [], []
    for index, video in enumerate(videos):
        paths = work / "new.npz", work / "new.wav"
        if index not in spread:
            timed(new, extract_video, video, config, box, *paths)
            continue
        reference = timed(before, extract_before, video, reference_config, box, work / "ref.npz", work / "ref.wav")
        boxes = timed(new_paired, extract_video, video, config, box, *paths)
        centres.append(np.hypot(*((boxes[:, :2] + boxes[:, 2:] / 2) - (reference[:, :2] + reference[:, 2:] / 2)).T))
        sides.append(abs(int(boxes[0, 2]) - int(reference[0, 2])))
        crops.append(np.abs(load_lips(paths[0])[0].astype(float) - load_lips(work / "ref.npz")[0]).mean())
    new = Tally(new.frames + new_paired.frames, new.cpu + new_paired.cpu, new.wall + new_paired.wall)
    centre = np.concatenate(centres)
    width, height = video_info(videos[0]).size
    print(f"{folder}: {len(videos)} videos ({width}x{height}), the reference on {len(spread)} of them")
    print(f"  before, face detected on every frame: {before.text()}")
    print(f"  new ({describe(config)}): {new.text()}; on the reference's videos {new_paired.rate():.0f}")
    print(
        f"  speed-up per core: {new.rate() / before.rate():.1f}x ({new_paired.rate() / before.rate():.1f}x on the "
        "same videos)"
    )
    print(
        f"  new against every-frame detection ({len(spread)} videos, {len(centre)} frames, in video pixels): mouth "
        f"box centre mean {centre.mean():.2f}, 95th percentile {np.percentile(centre, 95):.2f}, max "
        f"{centre.max():.2f}; box side mean {np.mean(sides):.2f}, max {max(sides)}; 67x67 crops mean absolute "
        f"difference {np.mean(crops):.2f} (max {max(crops):.2f} a video) of 255"
    )
    return before, new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", nargs="+", type=Path, required=True, help="folders of GRID videos <utt>.mpg")
    parser.add_argument("--limit", type=int, default=1000, help="videos per folder, the first in name order")
    parser.add_argument(
        "--reference-limit",
        type=int,
        default=100,
        help="of those, how many (spread over them) also go through every-frame detection",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=ROOT / "egs" / "grid" / "conf" / "corpus.yaml",
        help="corpus config whose mouth settings are the new method",
    )
    parser.add_argument(
        "--crops",
        type=Path,
        default=ROOT / "egs" / "grid" / "conf" / "crops.yaml",
        help="fixed mouth boxes, for a video without a face",
    )
    parser.add_argument("--cores", type=int, nargs="+", default=[4, 16, 64], help="core counts for the projection")
    args = parser.parse_args()
    config = load_config(args.config, GridConfig)
    crops = load_crops(args.crops)
    with tempfile.TemporaryDirectory() as work:
        tallies = [
            bench_folder(
                folder, config, crop_for(crops, folder.name, args.crops), args.limit, args.reference_limit, Path(work)
            )
            for folder in args.videos
        ]
    before, new = tallies[0]
    print(
        f"whole GRID release ({RELEASE_VIDEOS} videos, {RELEASE_FRAMES / 1e6:.2f} million frames) at "
        f"{args.videos[0].name}'s rates:"
    )
    for name, tally in (("before", before), ("new", new)):
        seconds = RELEASE_FRAMES / tally.rate()
        walls = ", ".join(f"{hours(seconds / cores)} on {cores}" for cores in args.cores)
        print(f"  {name:6s}: {seconds / 3600:.1f} core hours; wall time {walls} cores")


if __name__ == "__main__":
    main()
