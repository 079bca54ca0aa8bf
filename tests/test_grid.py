"""egs/grid on a small tree laid out as the GRID release (25 kHz audio, real MPEG-1 videos, alignments): lips
extraction, data prep and feature dump through run.sh, and clear errors for a missing video, crop or alignment."""

from pathlib import Path

import h5py
import imageio_ffmpeg
import numpy as np
import pytest
import yaml

from avvae.audio import read_wav, write_wav
from avvae.config import load_config
from avvae.corpus_prep.common import CorpusLayoutError
from avvae.corpus_prep.grid import GridConfig, extract_lips, prepare_grid
from avvae.datadir import read_table, validate_data_dir
from avvae.lips import load_lips
from avvae.stft import StftConfig
from tests.datadirs import voiced_utterance
from tests.recipe import copy_recipe, run_script, shrink_configs

GRID_RATE, FPS, WIDTH, HEIGHT = 25000, 25, 160, 128
MOUTH = [40, 60, 80, 48]   # the mouth box of the test videos: [x, y, width, height]
SPEAKERS = ("s1", "s2", "s3", "s4")
SENTENCES = {"bbaf2n": "bin blue at f two now", "lgwm5s": "lay green with m five soon",
             "pria1p": "place red in a one please"}


def opening(signal: np.ndarray, rate: int, frames: int) -> np.ndarray:
    """Mouth opening per video frame, in [0, 1], following the signal's energy."""
    hop = rate / FPS
    energy = np.array([np.sqrt(np.mean(signal[int(k * hop):int((k + 1) * hop)] ** 2) + 1e-12) for k in range(frames)])
    return energy / energy.max()


def write_video(path: Path, openness: np.ndarray) -> None:
    """An MPEG-1 video at 25 fps: a uniform face, a dark mouth inside MOUTH as tall as the opening."""
    path.parent.mkdir(parents=True, exist_ok=True)
    x, y, width, height = MOUTH
    writer = imageio_ffmpeg.write_frames(str(path), (WIDTH, HEIGHT), pix_fmt_in="gray", fps=FPS, codec="mpeg1video",
                                         quality=9, ffmpeg_log_level="error")
    writer.send(None)
    for value in openness:
        frame = np.full((HEIGHT, WIDTH), 200, np.uint8)
        half = int(2 + value * (height / 2 - 2))
        frame[y + height // 2 - half:y + height // 2 + half, x + 8:x + width - 8] = 30
        writer.send(frame.tobytes())
    writer.close()


def make_release(root: Path, seed: int = 0) -> tuple[Path, dict[str, np.ndarray]]:
    """GRID tree of 4 speakers x 3 sentences, and the mouth opening drawn in each video (by utterance key)."""
    rng = np.random.default_rng(seed)
    openings = {}
    for index, spk in enumerate(SPEAKERS):
        for utt, words in SENTENCES.items():
            seconds = rng.uniform(1.0, 1.4)
            signal = voiced_utterance(rng, seconds, f0=100 + 30 * index)  # at 16 kHz: played back at 25 kHz below
            audio = np.interp(np.arange(int(seconds * GRID_RATE)) * 16000 / GRID_RATE, np.arange(len(signal)), signal)
            write_wav(root / spk / f"{utt}.wav", audio.astype(np.float32), GRID_RATE, subtype="PCM_16")
            openings[f"{spk}_{utt}"] = opening(audio, GRID_RATE, int(round(seconds * FPS)))
            write_video(root / spk / "video" / f"{utt}.mpg", openings[f"{spk}_{utt}"])
            lines = ["0 10000 sil"] + [f"{10000 * (i + 1)} {10000 * (i + 2)} {w}" for i, w in enumerate(words.split())]
            (root / "alignments" / spk).mkdir(parents=True, exist_ok=True)
            (root / "alignments" / spk / f"{utt}.align").write_text("\n".join(lines + ["70000 75000 sil"]) + "\n")
    return root, openings


def make_noise(root: Path, seed: int = 0) -> Path:
    """Noise folder: white and brown noise, 4 s each, training ones at 16 kHz and test ones at 48 kHz."""
    rng = np.random.default_rng(seed)
    for split, rate in (("train", 16000), ("test", 48000)):
        white = rng.standard_normal(4 * rate)
        brown = np.cumsum(rng.standard_normal(4 * rate))
        brown -= np.convolve(brown, np.ones(400) / 400, mode="same")
        for kind, signal in (("white", white), ("brown", brown)):
            write_wav(root / split / kind / "rec1.wav", (0.5 * signal / np.abs(signal).max()).astype(np.float32), rate)
    return root


def tiny_config(recipe: Path) -> None:
    """Point the recipe's conf at the small tree: s1 train, s2 dev, s3 and s4 test (one test sentence each)."""
    (recipe / "conf" / "speakers_train.txt").write_text("s1\n")
    (recipe / "conf" / "speakers_dev.txt").write_text("s2\n")
    (recipe / "conf" / "speakers_test.txt").write_text("s3\ns4\n")
    (recipe / "conf" / "crops.yaml").write_text(f"default: {MOUTH}\n")
    corpus = yaml.safe_load((recipe / "conf" / "corpus.yaml").read_text())
    corpus.update(test_utts_per_speaker=1)
    (recipe / "conf" / "corpus.yaml").write_text(yaml.safe_dump(corpus))
    mix = yaml.safe_load((recipe / "conf" / "mix.yaml").read_text())
    mix.update(num_mixtures=3)
    (recipe / "conf" / "mix.yaml").write_text(yaml.safe_dump(mix))


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    release, openings = make_release(tmp_path_factory.mktemp("GRID"))
    noise = make_noise(tmp_path_factory.mktemp("noise"))
    recipe = copy_recipe(tmp_path_factory.mktemp("egs"), "grid")
    tiny_config(recipe)
    # two jobs for the lips and the resampling (the job split is tested), one per dump (each job imports torch)
    run_script(recipe, "--db_root", str(release), "--noise_root", str(noise), "--stop_stage", "3", "--nj", "1",
               "--local_data_opts", "--nj 2")
    return recipe, release, openings


def test_data_dirs_hold_16k_audio_lips_and_words(grid):
    recipe, release, _ = grid
    speakers = {name: set(read_table(recipe / "data" / name / "spk2utt")) for name in ("train_si", "dev_si",
                                                                                      "train_sd", "test")}
    assert speakers == {"train_si": {"s1"}, "dev_si": {"s2"}, "train_sd": {"s3", "s4"}, "test": {"s3", "s4"}}
    for name in speakers:
        validate_data_dir(recipe / "data" / name)
    assert read_table(recipe / "data" / "train_si" / "text")["s1_bbaf2n"] == "bin blue at f two now"
    samples, rate = read_wav(read_table(recipe / "data" / "train_si" / "wav.scp")["s1_bbaf2n"])
    original, _ = read_wav(release / "s1" / "bbaf2n.wav")
    assert rate == 16000 and abs(len(samples) - len(original) * 16000 / GRID_RATE) <= 1
    for name in ("noise_train", "noise_test"):
        assert sorted(read_table(recipe / "data" / name / "spk2utt")) == ["brown", "white"]
        validate_data_dir(recipe / "data" / name, require_lips=False)
    assert (recipe / "corpus" / "lips" / ".done").is_file()


def test_lips_are_the_mouth_crop(grid):
    """The extracted frames darken as the drawn mouth opens: the crop holds the mouth, frame for frame."""
    recipe, _, openings = grid
    for key, path in read_table(recipe / "data" / "train_si" / "lips.scp").items():
        frames, fps = load_lips(path)
        assert fps == FPS and frames.shape[1:] == (67, 67) and len(frames) == len(openings[key])
        darkness = 255.0 - frames.reshape(len(frames), -1).mean(axis=1)
        assert np.corrcoef(darkness, openings[key])[0, 1] > 0.95


def test_features_have_lips_at_the_stft_rate(grid):
    recipe, _, _ = grid
    with h5py.File(recipe / "dump" / "train_sd" / "feats.h5") as handle:
        assert sorted(handle) == sorted(read_table(recipe / "data" / "train_sd" / "wav.scp"))
        for key in handle:
            frames = StftConfig().num_frames(int(handle[key].attrs["num_samples"]))
            assert handle[key]["power"].shape == (frames, 513) and handle[key]["lips"].shape == (frames, 67, 67)
        assert handle.attrs["lips_interpolation"] == "linear"
    with h5py.File(recipe / "dump" / "test_mix" / "feats.h5") as handle:
        assert len(handle) == 3 and all("lips2" in handle[key] for key in handle)


def test_training_separation_and_results_run_on_the_tree(grid):
    recipe, _, _ = grid
    shrink_configs(recipe)
    run_script(recipe, "--stage", "4", "--nj", "1", "--si_models", "avvae", "--sd_models", "", "--supervised", "false")
    sdr = (recipe / "RESULTS.md").read_text().split("## SDR improvement (dB)")[1].split("##")[0]
    row = next(line for line in sdr.splitlines() if line.startswith("| AV-VAE + MCEM"))
    assert row.split(" | ")[1].strip(), "the SI -5 dB cell is filled"
    assert (recipe / "exp" / "avvae_si" / "decode_test_mix" / "scores.tsv").is_file()


@pytest.fixture
def small_release(tmp_path, monkeypatch):
    """A release, noise and config for direct calls, from inside a copy of the recipe (lists and crops in conf/)."""
    release, _ = make_release(tmp_path / "release")
    recipe = copy_recipe(tmp_path, "grid")
    tiny_config(recipe)
    monkeypatch.chdir(recipe)
    return release, make_noise(tmp_path / "noise"), load_config(recipe / "conf" / "corpus.yaml", GridConfig)


def test_missing_video_is_named(small_release, tmp_path):
    release, _, config = small_release
    video = release / "s2" / "video" / "lgwm5s.mpg"
    video.rename(video.with_suffix(".mpeg"))
    with pytest.raises(CorpusLayoutError, match=f"{video}: video does not exist"):
        extract_lips(release, config, "conf/crops.yaml", tmp_path / "lips")
    config.skip_missing_video = True
    extract_lips(release, config, "conf/crops.yaml", tmp_path / "lips")
    assert len(list((tmp_path / "lips").rglob("*.npz"))) == 11
    counts = prepare_grid(release, config, tmp_path / "noise", tmp_path, tmp_path / "data")
    assert counts["dev_si"] == 2


def test_missing_crop_and_alignment_are_named(small_release, tmp_path):
    release, noise, config = small_release
    Path("conf/crops.yaml").write_text(f"s1: {MOUTH}\n")
    with pytest.raises(CorpusLayoutError, match="conf/crops.yaml: no mouth crop for speaker s2 and no default"):
        extract_lips(release, config, "conf/crops.yaml", tmp_path / "lips")
    Path("conf/crops.yaml").write_text(f"default: {MOUTH}\n")
    extract_lips(release, config, "conf/crops.yaml", tmp_path / "lips")
    alignment = release / "alignments" / "s3" / "pria1p.align"
    alignment.rename(alignment.with_suffix(".txt"))
    with pytest.raises(CorpusLayoutError, match=f"{alignment}: alignment does not exist"):
        prepare_grid(release, config, noise, tmp_path, tmp_path / "data")
