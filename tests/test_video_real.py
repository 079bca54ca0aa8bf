"""separate --video on real faces: two real GRID videos of REAL_GRID (tests/recipe.py) side by side, their
soundtracks summed, separated with egs/grid's models of the two real talkers (egs/grid/models, trained by the
conf/real protocol on other utterances of theirs). Each face must get its own voice, scored against each video's
own soundtrack."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
from imageio_ffmpeg import get_ffmpeg_exe

from avvae.evaluation.metrics import si_sdr
from avvae.fileio.audio import read_wav
from avvae.fileio.video import read_container_audio
from tests.recipe import REAL_GRID, ROOT
from tests.test_video_separate import run_cli

pytestmark = pytest.mark.slow

RECIPE = ROOT / "egs" / "grid"
MODELS = RECIPE / "models"
RATE = 16000


def side_by_side(left: Path, right: Path, out: Path) -> Path:
    """A two-face video: `left` and `right` (scaled to the left one's size) side by side, their soundtracks summed
    (lossless PCM, so that the sum is exactly what the two videos say)."""
    graph = "[1:v][0:v]scale2ref[right][left];[left][right]hstack=inputs=2[v];[0:a][1:a]amix=inputs=2:normalize=0[a]"
    subprocess.run(
        [
            get_ffmpeg_exe(),
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(left),
            "-i",
            str(right),
            "-filter_complex",
            graph,
            "-map",
            "[v]",
            "-map",
            "[a]",
            "-c:v",
            "libx264",
            "-crf",
            "18",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "pcm_s16le",
            "-ar",
            str(RATE),
            "-ac",
            "1",
            str(out),
        ],
        check=True,
    )
    return out


def separate_faces(video: Path, models: list[Path], out_dir: Path) -> list[np.ndarray]:
    run_cli(
        "--video",
        video,
        "--model",
        *models,
        "--mcem-config",
        RECIPE / "conf" / "real" / "mcem.yaml",
        "--feats-config",
        RECIPE / "conf" / "real" / "feats.yaml",
        "--out-dir",
        out_dir,
    )
    return [read_wav(out_dir / f"{video.stem}_face{face}.wav", RATE)[0] for face in range(len(models))]


def own_voice_scores(videos: list[Path], estimates: list[np.ndarray], mixture: np.ndarray) -> np.ndarray:
    """[face, soundtrack] SI-SDR improvement over the mixture of each face's estimate against each video's own
    soundtrack."""
    tracks = [read_container_audio(video, RATE) for video in videos]
    length = min(len(mixture), *(len(track) for track in tracks), *(len(e) for e in estimates))
    return np.array(
        [
            [si_sdr(track[:length], estimate[:length]) - si_sdr(track[:length], mixture[:length]) for track in tracks]
            for estimate in estimates
        ]
    )


@pytest.mark.parametrize(
    "left, right, models, gain",
    [
        ("s1/lrby8n.mpg", "s4/pric2a.mpg", ["avvae_sd_s1.pt", "avvae_sd_s4.pt"], 3.0),
        ("s1/bgin2p.mpg", "s1/swih6n.mpg", ["avvae_sd_s1.pt", "avvae_sd_s1.pt"], 0.5),
    ],
    ids=["s1+s4", "s1+s1"],
)
def test_each_real_face_gets_its_own_voice(left, right, models, gain, tmp_path):
    """s1 + s4: two voices, each face's estimate at least 3 dB closer to its own soundtrack than the mixture is (4.4
    and 4.8 dB measured). s1 + s1: two sentences of one voice and one model for both, so only the lips can tell which
    sentence is whose; the gain is small (0.9 and 3.9 dB measured) but the sentences must not be swapped: each
    estimate is far closer to its own face's soundtrack than to the other's (by 15 and 14 dB measured)."""
    videos = [REAL_GRID / left, REAL_GRID / right]
    video = side_by_side(*videos, tmp_path / "two_faces.mkv")
    estimates = separate_faces(video, [MODELS / name for name in models], tmp_path / "out")
    scores = own_voice_scores(videos, estimates, read_container_audio(video, RATE))
    for face in range(2):
        own, other = scores[face, face], scores[face, 1 - face]
        assert own > gain and own > other + 6.0, f"face {face}: {own:.1f} dB on its own voice, {other:.1f} on the other"
