"""The picture of `separate --video` in docs/separating.md: the two-face test video separated, its picture of the
faces (each outlined and numbered) above each face's mouth strip. Builds the video of avvae.synthetic_video,
separates it with a tiny untrained AV-VAE (the picture shows tracking and cropping, not separation quality), and
writes a small PNG.

  PYTHONPATH=. python local/video_montage.py docs/video_separation.png
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PIL import Image

from avvae.features import FeatureConfig
from avvae.mcem import McemConfig
from avvae.models import ModelConfig, SpeechVAE
from avvae.separation.video_separation import VideoSeparationConfig, separate_video
from avvae.synthetic_video import soundtrack, write_talking_heads

RATE, FPS, SECONDS = 16000, 25.0, 1.6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="the PNG to write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "talk.mp4"
        write_talking_heads(video, soundtrack(SECONDS, RATE), RATE, FPS, {frame: (1,) for frame in range(18, 24)})
        model = SpeechVAE(ModelConfig(kind="avvae", hidden_dim=32, lip_hidden=16, lip_embedding=8)).eval()
        mcem = McemConfig(iterations=2, draws=3, burn_in=1, final_draws=3, final_burn_in=1)
        config = VideoSeparationConfig(strip_frames=6, min_track_seconds=0.2)
        summary = separate_video(video, [model], mcem, FeatureConfig(), config, Path(folder) / "out")
        print(summary.text())
        top = Image.open(next(path for path in summary.outputs if path.name.endswith("_faces.png"))).convert("RGB")
        top = top.resize((2 * top.width, 2 * top.height))
        strips = [
            Image.open(path).convert("RGB")
            for face in summary.faces
            for path in face.outputs
            if path.name.endswith("_mouth.png")
        ]
        strips = [strip.resize((top.width, round(strip.height * top.width / strip.width))) for strip in strips]
        picture = Image.new("RGB", (top.width, top.height + sum(strip.height for strip in strips)), (255, 255, 255))
        picture.paste(top, (0, 0))
        row = top.height
        for strip in strips:
            picture.paste(strip, (0, row))
            row += strip.height
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        picture.quantize(colors=128).save(args.out, optimize=True)


if __name__ == "__main__":
    main()
