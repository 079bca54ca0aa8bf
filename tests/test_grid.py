"""egs/grid on small trees laid out as the two GRID distributions: real MPEG-1 videos (25 fps, 3 s, 360x288) with
their own audio track, where speech starts 0.6 s in, beside end-pointed 25 kHz wavs (the speech only) and
alignments filed under the wrong speaker, as the release has them. Lips, audio and words through run.sh, the
mouth landmarks on a real face, the GRID id decoder, and clear errors for packed, unreadable and silent videos
and a file given as the root."""

import dataclasses
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

import h5py
import imageio_ffmpeg
import numpy as np
import pytest
import yaml
from matplotlib import cbook
from PIL import Image

from avvae.bin import extract_grid_lips
from avvae.bin import prepare_grid as prepare_grid_cli
from avvae.config import load_config
from avvae.corpus.grid import ADVERBS, COLOURS, COMMANDS, DIGITS, LETTERS, PREPOSITIONS
from avvae.corpus_prep import check_grid
from avvae.corpus_prep.common import CorpusLayoutError
from avvae.corpus_prep.grid import GridConfig, extract_media, grid_words, prepare_grid
from avvae.corpus_prep.grid_mouth import mouth_crops
from avvae.fileio.audio import read_wav, write_wav
from avvae.fileio.datadir import read_table, validate_data_dir
from avvae.fileio.lips import load_lips
from avvae.fileio.video import read_frames_and_audio, read_gray_frames
from avvae.stft import StftConfig
from avvae.vision.landmarks import mouth_landmarks, tracked_mouth_landmarks
from avvae.vision.mouth_boxes import boxes_from_landmarks
from tests.commands import failure
from tests.datadirs import RATE, voiced_utterance
from tests.recipe import REAL_GRID, ROOT, copy_recipe, run_script, separate_with_shared_models, shrink_configs

FPS, WIDTH, HEIGHT, FRAMES = 25, 360, 288, 75  # GRID's videos: 3 s
SPEECH_START = 0.6  # seconds of silence before the speech, in the video's audio track
ENDPOINTED_RATE = 25000  # the separate wavs: the speech only
MOUTH = [120, 170, 120, 90]  # where the test videos draw their mouth: [x, y, width, height]
SENTENCES = {  # each speaker says other sentences, as in GRID
    "s1": {"bbaf2n": "bin blue at f two now", "lgwm5s": "lay green with m five soon"},
    "s2": {"pria1p": "place red in a one please", "swbzza": "set white by z zero again"},
    "s3": {"bgab3n": "bin green at b three now", "lrix7p": "lay red in x seven please"},
    "s4": {"pbwe4s": "place blue with e four soon", "sgbv9n": "set green by v nine now"},
}
HOP = RATE // FPS


def frame_energy(signal: np.ndarray, frames: int) -> np.ndarray:
    """RMS of the 16 kHz signal per video frame."""
    padded = np.pad(signal, (0, max(0, frames * HOP - len(signal))))
    return np.sqrt(np.mean(padded[: frames * HOP].reshape(frames, HOP) ** 2, axis=1))


def mouth_frames(opening: np.ndarray) -> np.ndarray:
    """GRID-sized gray frames: a light face inside MOUTH on a darker rest of the frame (so that a crop of anything
    else looks different), a dark mouth inside MOUTH as tall as the opening (0..1)."""
    x, y, width, height = MOUTH
    frames = np.full((len(opening), HEIGHT, WIDTH), 90, np.uint8)
    frames[:, y : y + height, x : x + width] = 200
    for frame, value in zip(frames, opening):
        half = int(2 + value * (height / 2 - 4))
        frame[y + height // 2 - half : y + height // 2 + half, x + 10 : x + width - 10] = 30
    return frames


def write_video(path: Path, frames: np.ndarray, audio: np.ndarray | None) -> None:
    """An MPEG-1 program stream as GRID's: the frames at 25 fps and, when given, the 16 kHz audio as its MP2 track."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = ["-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", "-"]
        if audio is not None:
            write_wav(Path(tmp) / "track.wav", audio, RATE, subtype="PCM_16")
            inputs += ["-i", str(Path(tmp) / "track.wav"), "-c:a", "mp2", "-ar", "32000", "-b:a", "128k"]
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-nostdin",
                "-v",
                "error",
                "-y",
                *inputs,
                "-c:v",
                "mpeg1video",
                "-q:v",
                "3",
                "-pix_fmt",
                "yuv420p",
                "-f",
                "mpeg",
                str(path),
            ],
            input=frames.tobytes(),
            check=True,
        )


@pytest.fixture(scope="session")
def recordings(tmp_path_factory):
    """Per utterance key: its .mpg (frames + 3 s track), its end-pointed 25 kHz wav and the drawn mouth opening."""
    store = tmp_path_factory.mktemp("recordings")
    rng = np.random.default_rng(0)
    made = {}
    for index, (spk, sentences) in enumerate(SENTENCES.items()):
        for utt in sentences:
            speech = voiced_utterance(rng, rng.uniform(1.2, 1.6), f0=100 + 30 * index)
            start = int(SPEECH_START * RATE)
            track = 0.002 * rng.standard_normal(FRAMES * HOP).astype(np.float32)
            track[start : start + len(speech)] += speech
            energy = frame_energy(track, FRAMES)
            opening = energy / energy.max()
            write_video(store / f"{spk}_{utt}.mpg", mouth_frames(opening), np.clip(track, -1, 1))
            endpointed = np.interp(
                np.arange(int(len(speech) * ENDPOINTED_RATE / RATE)) * RATE / ENDPOINTED_RATE,
                np.arange(len(speech)),
                speech,
            ).astype(np.float32)
            write_wav(store / f"{spk}_{utt}.wav", endpointed, ENDPOINTED_RATE, subtype="PCM_16")
            made[f"{spk}_{utt}"] = (store / f"{spk}_{utt}.mpg", store / f"{spk}_{utt}.wav", opening)
    return made


def alignment_text(words: str) -> str:
    lines = ["0 15000 sil"] + [f"{15000 + 5000 * i} {20000 + 5000 * i} {w}" for i, w in enumerate(words.split())]
    return "\n".join(lines + ["45000 75000 sil"]) + "\n"


def make_record(root: Path, recordings: dict) -> Path:
    """The single-record distribution, unpacked: sN/<utt>.mpg (from sN.zip), audio_25k/sN/<utt>.wav and
    alignments/sN/<utt>.align, with s1's and s2's alignment folders swapped as in the release."""
    misfiled = {"s1": "s2", "s2": "s1"}
    for key, (video, wav, _) in recordings.items():
        spk, utt = key.split("_")
        (root / spk).mkdir(parents=True, exist_ok=True)
        shutil.copy(video, root / spk / f"{utt}.mpg")
        (root / "audio_25k" / spk).mkdir(parents=True, exist_ok=True)
        shutil.copy(wav, root / "audio_25k" / spk / f"{utt}.wav")
        folder = root / "alignments" / misfiled.get(spk, spk)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{utt}.align").write_text(alignment_text(SENTENCES[spk][utt]))
    return root


def make_talker_archives(root: Path, recordings: dict) -> Path:
    """The per-talker distribution as downloaded: sN/video/sN.mpg_vcd.zip (holding sN/<utt>.mpg), sN/audio/sN.tar
    (the end-pointed wavs) and sN/align/sN.tar."""
    for spk, sentences in SENTENCES.items():
        for kind in ("video", "audio", "align"):
            (root / spk / kind).mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(root / spk / "video" / f"{spk}.mpg_vcd.zip", "w") as archive:
            for utt in sentences:
                archive.write(recordings[f"{spk}_{utt}"][0], f"{spk}/{utt}.mpg")
        with tarfile.open(root / spk / "audio" / f"{spk}.tar", "w") as archive:
            for utt in sentences:
                archive.add(recordings[f"{spk}_{utt}"][1], f"{spk}/{utt}.wav")
        with tarfile.open(root / spk / "align" / f"{spk}.tar", "w") as archive:
            for utt, words in sentences.items():
                text = root / spk / "align" / f"{utt}.align"
                text.write_text(alignment_text(words))
                archive.add(text, f"align/{utt}.align")
                text.unlink()
    return root


def unpack_talker_videos(root: Path) -> None:
    """As the README says: s1, s2 unzipped in the GRID root (sN/<utt>.mpg); s3, s4 into their video/ folder."""
    for spk in SENTENCES:
        with zipfile.ZipFile(root / spk / "video" / f"{spk}.mpg_vcd.zip") as archive:
            for member in archive.namelist():
                target = root / member if spk in ("s1", "s2") else root / spk / "video" / Path(member).name
                target.write_bytes(archive.read(member))


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
    corpus = yaml.safe_load((recipe / "conf" / "corpus.yaml").read_text())
    corpus.update(test_utts_per_speaker=1)
    (recipe / "conf" / "corpus.yaml").write_text(yaml.safe_dump(corpus))
    mix = yaml.safe_load((recipe / "conf" / "mix.yaml").read_text())
    mix.update(num_mixtures=3)
    (recipe / "conf" / "mix.yaml").write_text(yaml.safe_dump(mix))


SETS = ("train_si", "dev_si", "train_sd", "test")


@pytest.fixture(scope="session")
def grid(tmp_path_factory, recordings):
    """run.sh through the feature dump on the single-record tree (two jobs for the lips and audio)."""
    release = make_record(tmp_path_factory.mktemp("GRID"), recordings)
    noise = make_noise(tmp_path_factory.mktemp("noise"))
    recipe = copy_recipe(tmp_path_factory.mktemp("egs"), "grid")
    tiny_config(recipe)
    run_script(
        recipe,
        "--db_root",
        str(release),
        "--noise_root",
        str(noise),
        "--stop_stage",
        "3",
        "--nj",
        "1",
        "--local_data_opts",
        "--nj 2",
    )
    return recipe, release, noise


@pytest.mark.recipe
def test_data_dirs_hold_the_videos_audio_lips_and_words(grid):
    recipe, release, _ = grid
    speakers = {name: set(read_table(recipe / "data" / name / "spk2utt")) for name in SETS}
    assert speakers == {"train_si": {"s1"}, "dev_si": {"s2"}, "train_sd": {"s3", "s4"}, "test": {"s3", "s4"}}
    texts = {}
    for name in SETS:
        validate_data_dir(recipe / "data" / name)
        texts.update(read_table(recipe / "data" / name / "text"))
    # the words come from the ids, right also for s1 and s2, whose alignment folders hold each other's files
    assert texts == {f"{spk}_{utt}": words for spk, sentences in SENTENCES.items() for utt, words in sentences.items()}
    for path in read_table(recipe / "data" / "train_si" / "wav.scp").values():
        samples, rate = read_wav(path)
        assert rate == 16000 and abs(len(samples) - FRAMES * HOP) <= HOP, "the video's 3 s track, not the 1.2-1.6 s wav"
    for name in ("noise_train", "noise_test"):
        assert sorted(read_table(recipe / "data" / name / "spk2utt")) == ["brown", "white"]
        validate_data_dir(recipe / "data" / name, require_lips=False)
    assert (recipe / "corpus" / "lips" / ".done").is_file()
    picture = Image.open(recipe / "data" / "local" / "crops.png")
    assert picture.format == "PNG" and picture.height >= 4 * HEIGHT, "one row per test speaker"


@pytest.mark.recipe
def test_lips_and_audio_share_one_clock(grid):
    """The drawn mouth opens when the audio is loud: frame for frame in every data dir (the end-pointed wavs would
    put the speech 0.6 s = 15 frames early)."""
    recipe, _, _ = grid
    for name in SETS:
        wavs = read_table(recipe / "data" / name / "wav.scp")
        for key, path in read_table(recipe / "data" / name / "lips.scp").items():
            frames, fps = load_lips(path)
            samples, _ = read_wav(wavs[key])
            darkness = 255.0 - frames.reshape(len(frames), -1).mean(axis=1)
            energy = frame_energy(samples, len(frames))
            assert fps == FPS and np.corrcoef(darkness, energy)[0, 1] > 0.9, key
            onset = np.argmax(energy > 0.2 * energy.max())
            opens = np.argmax(darkness - darkness.min() > 0.2 * (darkness.max() - darkness.min()))
            assert abs(onset - SPEECH_START * FPS) <= 1 and abs(opens - onset) <= 1, key


@pytest.mark.recipe
def test_lips_are_the_mouth_crop(grid, recordings):
    """No face is found in the drawn videos, so the fixed box is taken: the crops are the drawn box resized (up to
    the video coding), and darken as the mouth opens."""
    recipe, _, _ = grid
    x, y, width, height = MOUTH
    for key, path in read_table(recipe / "data" / "train_si" / "lips.scp").items():
        frames, _ = load_lips(path)
        opening = recordings[key][2]
        assert frames.shape == (FRAMES, 67, 67)
        drawn = [Image.fromarray(frame[y : y + height, x : x + width]) for frame in mouth_frames(opening)]
        expected = np.stack([np.asarray(box.resize((67, 67), Image.Resampling.BILINEAR)) for box in drawn])
        assert np.abs(frames.astype(float) - expected).mean() < 4, key
        darkness = 255.0 - frames.reshape(len(frames), -1).mean(axis=1)
        assert np.corrcoef(darkness, opening)[0, 1] > 0.95


@pytest.mark.recipe
def test_per_talker_archives_give_the_same_data(grid, recordings, tmp_path, monkeypatch):
    """The per-talker distribution, videos unpacked both ways the config allows, gives the same data dirs. Stage 1's
    two steps are called in this process with the recipe's configs (run.sh's stage 1 is the `grid` fixture's)."""
    recipe, _, noise = grid
    release = make_talker_archives(tmp_path / "GRID", recordings)
    monkeypatch.chdir(recipe)  # the configs name the speaker lists relative to the recipe

    def extract() -> None:
        extract_grid_lips.main(
            extract_grid_lips.build_parser().parse_args(
                ["--config", "conf/corpus.yaml", "--crops", "conf/crops.yaml", str(release), str(tmp_path / "corpus")]
            )
        )

    with pytest.raises(
        CorpusLayoutError, match=f"{release}/s1/video/s1.mpg_vcd.zip is there: unpack it in the GRID root"
    ):
        extract()
    unpack_talker_videos(release)
    extract()
    prepare_grid_cli.main(
        prepare_grid_cli.build_parser().parse_args(
            [
                "--config",
                "conf/corpus.yaml",
                "--noise-root",
                str(noise),
                str(release),
                str(tmp_path / "corpus"),
                str(tmp_path / "data"),
            ]
        )
    )
    for name in SETS:
        validate_data_dir(tmp_path / "data" / name)
        assert read_table(tmp_path / "data" / name / "text") == read_table(recipe / "data" / name / "text")
        for key, path in read_table(tmp_path / "data" / name / "wav.scp").items():
            ours, _ = read_wav(path)
            theirs, _ = read_wav(read_table(recipe / "data" / name / "wav.scp")[key])
            assert np.array_equal(ours, theirs), key


@pytest.mark.recipe
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


@pytest.mark.recipe
def test_the_trees_mixtures_separate_with_a_trained_model(grid, shared_run):
    """Stages 4-9 are the shared run's (tests/test_recipe.py); here GRID's own features, MCEM config and mixtures
    go through separation and scoring with its AV-VAE, to finite scores for every speaker of every mixture."""
    recipe, _, _ = grid
    shrink_configs(recipe)
    (decode,) = separate_with_shared_models(recipe, shared_run.path)
    rows = [line.split("\t") for line in (decode / "scores.tsv").read_text().splitlines()]
    keys = read_table(recipe / "data" / "test_mix" / "wav.scp")
    assert sorted(path.name for path in (decode / "wav").glob("*.wav")) == sorted(
        f"{key}_{part}.wav" for key in keys for part in ("s1", "s2", "noise")
    )
    assert len(rows) == 1 + 2 * 3 and {row[0] for row in rows[1:]} == set(keys)
    for name in ("si_sdr", "sdr", "stoi", "si_sdr_imp"):
        assert all(np.isfinite(float(row[rows[0].index(name)])) for row in rows[1:]), name


def grid_id(words: list[str]) -> str:
    """GRID's id of six words: first letters, the letter itself, the digit (z for zero)."""
    digit = "z" if words[4] == "zero" else str(DIGITS.index(words[4]))
    return words[0][0] + words[1][0] + words[2][0] + words[3] + digit + words[5][0]


def test_grid_ids_spell_their_words():
    assert grid_words("bbaf2n") == "bin blue at f two now"
    assert grid_words("swbzza") == "set white by z zero again"
    rng = np.random.default_rng(1)
    for _ in range(200):
        words = [str(rng.choice(slot)) for slot in (COMMANDS, COLOURS, PREPOSITIONS, LETTERS, DIGITS, ADVERBS)]
        assert grid_words(grid_id(words)) == " ".join(words)
    for bad in ("bbaf2", "xbaf2n", "bbaw2n", "bbaf0n", "bbaf2nn"):
        with pytest.raises(ValueError, match=f"'{bad}' is not a GRID utterance id"):
            grid_words(bad)


def face_frames(shifts: list[int | None]) -> np.ndarray:
    """GRID-sized gray frames of a real frontal face (matplotlib's Grace Hopper photo), the window moved right by
    each shift (so the face moves left); a shift of None gives a blank frame."""
    photo = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("L"))
    return np.stack(
        [
            np.full((HEIGHT, WIDTH), 128, np.uint8)
            if shift is None
            else photo[100 : 100 + HEIGHT, 75 + shift : 75 + shift + WIDTH]
            for shift in shifts
        ]
    )


@pytest.mark.slow
def test_mouth_landmarks_follow_the_mouth_of_a_real_face():
    """The photo's mouth (by eye: x 264, y 279; in the window x 189, y 179) is found and followed as the face moves;
    a frame without a face takes a neighbour's box, and every box holds the mouth at its centre."""
    shifts = [0, 4, 8, None, 16, 20, 24]
    frames = face_frames(shifts)
    centres, widths = mouth_landmarks(frames)
    assert np.isnan(widths[3]) and not np.isnan(np.delete(widths, 3)).any()
    expected = np.array([(189 - shift, 179) if shift is not None else (np.nan, np.nan) for shift in shifts])
    close = np.all(np.abs(centres - expected) <= 4, axis=1)
    assert close.sum() >= 5, "dlib may misplace the landmarks of one frame of a still photo, not more"
    boxes = boxes_from_landmarks(centres, widths, 1.5, (WIDTH, HEIGHT))
    side = boxes[0, 2]
    assert 1.5 * 50 < side < 1.5 * 90 and (boxes[:, 2:] == side).all(), "one size per video, from the mouth's width"
    middle = boxes[:, :2] + side / 2
    assert np.all(np.abs(np.delete(middle - expected, 3, axis=0)) <= side / 8), "the mouth in the box's middle"
    assert np.all(np.abs(middle[1:3] - expected[1:3]) <= 4), "away from the ends, the box is on the mouth"
    assert boxes[4, 0] <= boxes[3, 0] <= boxes[2, 0]
    assert boxes_from_landmarks(centres[3:4], widths[3:4], 1.5, (WIDTH, HEIGHT)) is None


def test_nearest_face_fills_the_frames_without_one():
    centres = np.array([[100, 150]] * 2 + [[np.nan, np.nan]] * 3 + [[200, 100]] * 5, dtype=float)
    widths = np.array([40.0] * 2 + [np.nan] * 3 + [40.0] * 5)
    boxes = boxes_from_landmarks(centres, widths, 2.0, (WIDTH, HEIGHT))
    assert boxes[:, 2:].tolist() == [[80, 80]] * 10
    assert boxes[:, :2].tolist() == [[60, 110]] * 4 + [[160, 60]] * 6
    edge = boxes_from_landmarks(np.array([[5.0, 280.0]]), np.array([40.0]), 2.0, (WIDTH, HEIGHT))
    assert edge.tolist() == [[0, HEIGHT - 80, 80, 80]], "kept inside the frame"


def centre_distance(boxes: np.ndarray, reference: np.ndarray, frame_height: int) -> np.ndarray:
    """Per frame, how far apart two boxes' centres are, in pixels of GRID's 288-row frames."""
    return np.hypot(*((boxes[:, :2] + boxes[:, 2:] / 2) - (reference[:, :2] + reference[:, 2:] / 2)).T) * (
        HEIGHT / frame_height
    )


@pytest.mark.slow
def test_followed_face_crops_the_mouth_as_every_frame_detection_on_real_videos():
    """The recipe's mouth crops (the face detected once, then followed by its landmarks) against dlib's detector on
    every frame, on the real videos of REAL_GRID (tests/recipe.py; s1 360x288, s4 720x576). On 100 s1 and 50 s4 videos
    (local/bench_mouth_crops.py) the box centres were 0.4 pixels apart on average, 1 at the 95th percentile and 2 at
    most (in 360x288 pixels, s4's halved; half a pixel in x and y where the sides differ by one), the crops 1.8
    grey levels on average and at most 3.7 over a video. A box frozen at the first frame's is 1.1 to 4.8 pixels off
    on average over a video here, and up to 7.6."""
    config = load_config(ROOT / "egs" / "grid" / "conf" / "corpus.yaml", GridConfig)
    assert config.detect_every == 0, "the fast method is the recipe's default"
    videos = sorted(REAL_GRID.glob("s*/*.mpg"))
    assert {video.parent.name for video in videos} == {"s1", "s4"}
    for video in videos:
        frames, _, _ = read_frames_and_audio(video, RATE)
        crops, boxes, which = mouth_crops(frames, config, (0, 0, 67, 67), video)
        reference_crops, reference, _ = mouth_crops(
            frames, dataclasses.replace(config, detect_every=1), (0, 0, 67, 67), video
        )
        assert which == "landmarks", f"{video}: {which}"
        distance = centre_distance(boxes, reference, frames.shape[1])
        assert distance.max() <= 2.5 and distance.mean() <= 1.0, (
            f"{video}: mouth box centres {distance.max():.2f} pixels apart at most, {distance.mean():.2f} on average"
        )
        assert abs(boxes[0, 2] - reference[0, 2]) * HEIGHT / frames.shape[1] <= 2, f"{video}: box sides differ"
        assert np.abs(crops.astype(float) - reference_crops).mean() <= 5, f"{video}: crops differ"


@pytest.mark.slow
def test_a_moving_face_is_followed():
    """A real s1 video panned a pixel a frame, so that the face moves 74 pixels (two thirds of its width) to the
    left: the followed boxes stay on every-frame detection's, as the face box moves with the landmarks."""
    frames, _, _ = read_frames_and_audio(REAL_GRID / "s1" / "bgin2p.mpg", RATE)
    panned = np.stack([frame[:, shift : shift + WIDTH - len(frames)] for shift, frame in enumerate(frames)])
    size = (panned.shape[2], panned.shape[1])
    reference = boxes_from_landmarks(*mouth_landmarks(panned), 1.5, size)
    followed = boxes_from_landmarks(*tracked_mouth_landmarks(panned), 1.5, size)
    assert reference[0, 0] - reference[-1, 0] > 60, "the mouth moved"
    distance = centre_distance(followed, reference, HEIGHT)
    assert distance.max() <= 2.5 and distance.mean() <= 1.0, (distance.max(), distance.mean())


@pytest.fixture
def small_release(tmp_path, monkeypatch, recordings):
    """The single-record tree, noise and config for direct calls, from inside a copy of the recipe."""
    release = make_record(tmp_path / "release", recordings)
    recipe = copy_recipe(tmp_path, "grid")
    tiny_config(recipe)
    monkeypatch.chdir(recipe)
    config = load_config(recipe / "conf" / "corpus.yaml", GridConfig)
    config.mouth = "box"
    return release, make_noise(tmp_path / "noise"), config


def test_unreadable_and_silent_videos_are_named(small_release, tmp_path):
    release, noise, config = small_release
    broken = release / "s2" / "pria1p.mpg"
    broken.write_bytes(b"not a video")
    with pytest.raises(CorpusLayoutError, match=f"{broken}: cannot decode the video"):
        extract_media(release, config, "conf/crops.yaml", tmp_path / "corpus")
    write_video(broken, mouth_frames(np.zeros(FRAMES)), None)
    with pytest.raises(CorpusLayoutError, match=f"{broken}: cannot read its audio track"):
        extract_media(release, config, "conf/crops.yaml", tmp_path / "corpus")
    with pytest.raises(CorpusLayoutError, match="lips or audio missing"):
        prepare_grid(release, config, noise, tmp_path / "corpus", tmp_path / "data")
    config.skip_bad_video = True
    assert extract_media(release, config, "conf/crops.yaml", tmp_path / "corpus") == 5
    counts = prepare_grid(release, config, noise, tmp_path / "corpus", tmp_path / "data")
    assert counts["dev_si"] == 1 and counts["train_si"] == 2


def test_missing_crop_and_foreign_names_are_named(small_release, tmp_path):
    release, noise, config = small_release
    Path("conf/crops.yaml").write_text(f"s1: {MOUTH}\n")
    with pytest.raises(CorpusLayoutError, match="conf/crops.yaml: no mouth crop for speaker s2 and no default"):
        extract_media(release, config, "conf/crops.yaml", tmp_path / "corpus")
    Path("conf/crops.yaml").write_text(f"default: {MOUTH}\n")
    shutil.copy(release / "s3" / "bgab3n.mpg", release / "s3" / "take2.mpg")
    extract_media(release, config, "conf/crops.yaml", tmp_path / "corpus")
    with pytest.raises(CorpusLayoutError, match=f"{release}/s3/take2.mpg: 'take2' is not a GRID utterance id"):
        prepare_grid(release, config, noise, tmp_path / "corpus", tmp_path / "data")


@pytest.mark.recipe
def test_check_release_reports_each_speaker_and_what_is_missing(grid, recordings, tmp_path):
    """A clean copy passes; a speaker still packed, a video without sound and a foreign file name are reported."""
    recipe, release, _ = grid
    report = check_grid.check_release(recipe, release)
    assert not report.problems, report.render()
    assert [cell.split()[:2] for cell in report.speakers] == [
        ["s1", "train"],
        ["s2", "dev"],
        ["s3", "test"],
        ["s4", "test"],
    ]
    assert any(f"{release}/{{spk}}" in line for line in report.found)

    copy = make_talker_archives(tmp_path / "GRID", recordings)
    unpack_talker_videos(copy)
    shutil.rmtree(copy / "s2")
    silent = sorted((copy / "s1").glob("*.mpg"))[0]
    frames, _, _ = read_gray_frames(silent, None)
    write_video(silent, frames, None)
    shutil.copy(silent, silent.parent / "notgrid.mpg")
    report = check_grid.check_release(recipe, copy)
    assert set(report.problems) == {
        "speaker without videos",
        "video without a readable audio track",
        "utterance id that is not GRID's",
    }
    assert "no videos of speaker s2" in report.problems["speaker without videos"][0]
    assert "notgrid" in report.problems["utterance id that is not GRID's"][0]
    assert report.speakers[0].startswith("!s1") and report.speakers[1].startswith("!s2")


def test_a_file_given_as_the_root_is_named_a_file_not_a_missing_folder(tmp_path, monkeypatch, caplog):
    release = tmp_path / "GRID.tar"
    release.write_bytes(b"\0" * 512)  # the archive, not the folder unpacked from it
    recipe = copy_recipe(tmp_path, "grid")
    monkeypatch.chdir(recipe)  # the corpus config's speaker lists
    argv = ["--config", "conf/corpus.yaml", "--noise-root", str(tmp_path), str(release), "corpus", "data"]
    assert failure(caplog, prepare_grid_cli.build_parser, prepare_grid_cli.main, argv) == (
        f"{release}: GRID root is a file, not a folder"
    )
    report = check_grid.check_release(recipe, release)
    assert report.problems == {"root is not a folder": [f"{release}: GRID root is a file, not a folder"]}
