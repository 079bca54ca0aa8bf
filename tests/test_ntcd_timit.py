"""egs/ntcd_timit on a small tree laid out, and encoded, as the NTCD-TIMIT release: lip ROIs as MATLAB v7.3 files
of DCT rows under the release's train/dev/test folders, capitalised noise folders under the archives' prefix, noisy =
clean + noise sample for sample. Data prep and feature dump through run.sh with only --db_root and the default
configs (layout, speaker lists, noise types; only sizes shrunk), SD training of its speakers and separation with the
shared run's SI model (tests/conftest.py), the release's own split, the discovery of the lip and noisy folders,
check_release, and clear errors for a missing root (or a file given as one), lip file or noisy file."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.fft
import soundfile
import yaml

from avvae.bin import prepare_ntcd_timit as prepare_cli
from avvae.config import load_config
from avvae.corpus_prep.common import CorpusLayoutError, crossfade_concatenate
from avvae.corpus_prep.ntcd_lips import read_mat_lips
from avvae.corpus_prep.ntcd_timit import NtcdConfig, prepare_ntcd_timit, resolve_layout
from avvae.fileio.audio import read_wav
from avvae.fileio.datadir import read_table, validate_data_dir
from avvae.fileio.lips import load_lips
from avvae.stft import StftConfig
from tests.commands import failure
from tests.datadirs import RATE, lips_for, voiced_utterance
from tests.recipe import ROOT, copy_recipe, run_script, separate_with_shared_models, shrink_configs

AUTHORS_DEV = ("06M", "17F", "20M", "35M", "38F", "42M", "52M", "59F")
AUTHORS_TEST = ("09F", "24M", "26M", "27M", "33F", "40F", "47M", "49F", "56M")
OTHER_VOLUNTEERS = ("01M", "08F")
RELEASE_SPLIT = {"dev": ("06M", "08F", "17F"), "test": ("09F", "24M", "47M")}  # made up, but 08F in dev as released
UTTS = ("sa1", "si1130", "sx134")
NOISES = ("Babble", "Cafe", "Car", "LR", "Street", "White")
NOISY_PREFIX = "u/drspeech/data/TCDTIMIT/Noisy_TCDTIMIT"
LIPS_ROOT = "matlab_raw"
FPS = 29.97
SPEECH_SETS = ("train_si", "dev_si", "train_sd", "test")
MATLAB_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jun  5 10:00:00 2017 HDF5 schema 1.00 ."


def write_matlab_lips(path: Path, frames: np.ndarray) -> None:
    """A MATLAB v7.3 MAT-file as the release's: `data` = dct2 of each frame, flattened column-major, 4489 x T in
    MATLAB (so (T, 4489) in HDF5), class single, after MATLAB's 512-byte header."""
    rows = np.stack([scipy.fft.dctn(frame.astype(np.float64), norm="ortho").flatten(order="F") for frame in frames])
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as handle:
        handle.create_dataset("data", data=rows.astype(np.float32)).attrs["MATLAB_class"] = np.bytes_("single")
    with open(path, "r+b") as handle:  # text, subsystem offset, version 0x0200, endian indicator
        handle.write(MATLAB_HEADER.ljust(116) + bytes(8) + (0x0200).to_bytes(2, "little") + b"IM")


def write_pcm16(path: Path, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples.astype(np.int16), RATE, subtype="PCM_16")


def release_split(spk: str) -> str:
    return next((split for split, names in RELEASE_SPLIT.items() if spk in names), "train")


def make_release(root: Path, seed: int = 0) -> tuple[Path, dict[str, np.ndarray], dict[tuple[str, str], np.ndarray]]:
    """Clean audio, `.mat` lip ROIs (a little shorter than the audio) and -5 dB noisy versions of 19 volunteers and a
    lipspeaker, 3 sentences each; returns the root, the lip frames by utterance key and the noise (int16) by
    (key, type)."""
    rng = np.random.default_rng(seed)
    lips, noises = {}, {}
    speakers = [("volunteers", spk) for spk in sorted(AUTHORS_DEV + AUTHORS_TEST + OTHER_VOLUNTEERS)]
    for index, (group, spk) in enumerate([*speakers, ("lipspeakers", "Lipspkr1")]):
        for utt in UTTS:
            seconds = rng.uniform(1.0, 1.4)
            clean = np.rint(0.5 * 32767 * voiced_utterance(rng, seconds, f0=100 + 10 * index)).astype(np.int64)
            write_pcm16(root / "Clean" / group / spk / "straightcam" / f"{utt}.wav", clean)
            key = f"{spk}_{utt}"
            video = len(clean) / RATE - rng.uniform(0.01, 0.05)  # the release's video ends a little early
            lips[key] = lips_for(clean / 32768.0, video)[: int(video * FPS)]
            write_matlab_lips(root / LIPS_ROOT / release_split(spk) / spk / f"{utt}.mat", lips[key])
            for noise in NOISES:
                added = np.rint(0.08 * 32768 * rng.standard_normal(len(clean))).astype(np.int64)
                noises[key, noise] = np.clip(added, -32768 - clean, 32767 - clean)
                write_pcm16(
                    root / NOISY_PREFIX / noise / "-5" / group / spk / "straightcam" / f"{utt}.wav",
                    clean + noises[key, noise],
                )
    return root, lips, noises


def size_config(recipe: Path) -> None:
    """Only sizes change from the recipe's defaults: 1 test utterance per speaker, 2 s noises, 3 mixtures."""
    corpus = yaml.safe_load((recipe / "conf" / "corpus.yaml").read_text())
    corpus.update(test_utts_per_speaker=1, noise_seconds_train=2.0, noise_seconds_test=2.0)
    (recipe / "conf" / "corpus.yaml").write_text(yaml.safe_dump(corpus))
    mix = yaml.safe_load((recipe / "conf" / "mix.yaml").read_text())
    mix.update(num_mixtures=3)
    (recipe / "conf" / "mix.yaml").write_text(yaml.safe_dump(mix))


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    return make_release(tmp_path_factory.mktemp("NTCD-TIMIT"))


@pytest.fixture(scope="session")
def recipe(release, tmp_path_factory):
    root, _, _ = release
    recipe = copy_recipe(tmp_path_factory.mktemp("egs"), "ntcd_timit")
    size_config(recipe)
    result = run_script(recipe, "--db_root", str(root), "--stop_stage", "3", "--nj", "1")
    return recipe, result.stdout


def test_matlab_lips_decode_to_the_encoded_images(tmp_path):
    """Full-range images survive single-precision DCT rows exactly; the file is laid out as MATLAB writes v7.3."""
    frames = np.random.default_rng(1).integers(0, 256, (5, 67, 67)).astype(np.uint8)
    frames[0, :, :] = 255
    frames[1, :33] = 0
    path = tmp_path / "sx134.mat"
    write_matlab_lips(path, frames)
    assert path.read_bytes().startswith(b"MATLAB 7.3 MAT-file")
    with h5py.File(path) as handle:
        assert handle["data"].shape == (5, 4489) and handle["data"].dtype == np.float32
        assert handle["data"].attrs["MATLAB_class"] == b"single"
    np.testing.assert_array_equal(read_mat_lips(path), frames)


def test_matlab_lips_of_another_shape_are_named(tmp_path):
    path = tmp_path / "si462.mat"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("data", data=np.zeros((4489, 3), np.float32))  # MATLAB's orientation, not HDF5's
    with pytest.raises(CorpusLayoutError, match=f"{path}: 'data' has shape \\(4489, 3\\)"):
        read_mat_lips(path)
    path.write_bytes(b"MATLAB 5.0 MAT-file")
    with pytest.raises(CorpusLayoutError, match=f"{path}: not a MATLAB v7.3"):
        read_mat_lips(path)


@pytest.mark.recipe
def test_data_dirs_hold_the_authors_split(recipe, release):
    recipe, log = recipe
    root = release[0]
    assert f"lip ROIs found in {root / LIPS_ROOT}" in log and f"noisy speech found in {root / NOISY_PREFIX}" in log
    speakers = {name: set(read_table(recipe / "data" / name / "spk2utt")) for name in SPEECH_SETS}
    assert speakers == {
        "train_si": set(OTHER_VOLUNTEERS),
        "dev_si": set(AUTHORS_DEV),
        "train_sd": set(AUTHORS_TEST),
        "test": set(AUTHORS_TEST),
    }
    test = set(read_table(recipe / "data" / "test" / "wav.scp"))
    assert len(test) == 9 and not test & set(read_table(recipe / "data" / "train_sd" / "wav.scp"))
    assert not any(key.endswith("_sa1") for key in test), "SA sentences never go to test"
    assert read_table(recipe / "data" / "train_si" / "wav.scp")["08F_sx134"] == str(
        (root / "Clean" / "volunteers" / "08F" / "straightcam" / "sx134.wav").resolve()
    )
    for name in SPEECH_SETS:
        validate_data_dir(recipe / "data" / name)
    for name in ("noise_train", "noise_test"):
        assert sorted(read_table(recipe / "data" / name / "spk2utt")) == sorted(NOISES)
        validate_data_dir(recipe / "data" / name, require_lips=False)


@pytest.mark.recipe
def test_lips_are_the_decoded_mat_frames(recipe, release):
    recipe, _ = recipe
    written = release[1]
    for key, path in read_table(recipe / "data" / "dev_si" / "lips.scp").items():
        frames, fps = load_lips(path)
        assert fps == FPS
        np.testing.assert_array_equal(frames, written[key])


@pytest.mark.recipe
def test_features_have_the_published_frame_rate(recipe):
    recipe, _ = recipe
    keys = read_table(recipe / "data" / "test" / "wav.scp")
    with h5py.File(recipe / "dump" / "test" / "feats.h5") as handle:
        assert sorted(handle) == sorted(keys)
        for key in handle:
            frames = StftConfig().num_frames(int(handle[key].attrs["num_samples"]))
            assert handle[key]["power"].shape == (frames, 513)
            assert handle[key]["lips"].shape == (frames, 67, 67) and handle[key]["lips"].dtype == np.uint8
    with h5py.File(recipe / "dump" / "test_mix" / "feats.h5") as handle:
        assert len(handle) == 3
        assert {handle[key].attrs["condition"] for key in handle} == {"snr-5", "snr0", "snr5"}
    with h5py.File(recipe / "dump" / "noise_test" / "feats.h5") as handle:
        assert sorted(handle) == sorted(f"{noise}_test_ntcd" for noise in NOISES)
        assert handle.attrs["kind"] == "noise"


@pytest.mark.recipe
def test_noise_is_noisy_minus_clean(recipe, release):
    """noise_test starts with the noise added to the first test utterance (of 09F), sample for sample."""
    recipe, _ = recipe
    noises = release[2]
    first = next(key for key in sorted(read_table(recipe / "data" / "test" / "wav.scp")) if key.startswith("09F_"))
    noise, _ = read_wav(read_table(recipe / "data" / "noise_test" / "wav.scp")["Cafe_test_ntcd"])
    added = noises[first, "Cafe"] / 32768.0
    assert len(noise) >= 2 * RATE
    kept = len(added) - int(0.01 * RATE)  # the rest is cross-faded into the next utterance's noise
    np.testing.assert_array_equal(noise[:kept], added[:kept].astype(np.float32))


@pytest.mark.recipe
def test_sd_training_and_separation_run_on_the_tree(recipe, shared_run):
    """Stages 4-9 are the shared run's (tests/test_recipe.py); here NTCD-TIMIT's own features and configs: SD
    training of each test speaker from the shared SI AV-VAE, MCEM with SI and SD models, finite scores."""
    recipe, _ = recipe
    shrink_configs(recipe)
    decodes = separate_with_shared_models(recipe, shared_run.path, tuple(AUTHORS_TEST))
    assert all((recipe / "exp" / "avvae_sd" / spk / "model.pt").is_file() for spk in AUTHORS_TEST)
    for decode in decodes:
        rows = [line.split("\t") for line in (decode / "scores.tsv").read_text().splitlines()]
        keys = read_table(recipe / "data" / "test_mix" / "wav.scp")
        assert len(rows) == 1 + 2 * 3 and {row[0] for row in rows[1:]} == set(keys), decode
        assert len(list((decode / "wav").glob("*.wav"))) == 3 * len(keys), decode
        for name in ("si_sdr", "sdr", "stoi", "si_sdr_imp"):
            assert all(np.isfinite(float(row[rows[0].index(name)])) for row in rows[1:]), (decode, name)


def test_missing_root_is_named(tmp_path):
    recipe = copy_recipe(tmp_path, "ntcd_timit")
    result = run_script(recipe, "--stop_stage", "1", check=False)
    assert result.returncode != 0 and "no NTCD-TIMIT root" in result.stdout and "db.sh" in result.stdout
    result = run_script(recipe, "--db_root", str(tmp_path / "nowhere"), "--stop_stage", "1", check=False)
    assert result.returncode != 0 and f"NTCD-TIMIT root {tmp_path / 'nowhere'} does not exist" in result.stdout


@pytest.fixture
def small_release(release, tmp_path, monkeypatch):
    """A copy of the release and the recipe's config, from inside a copy of the recipe (speaker lists in conf/)."""
    root = tmp_path / "release"
    shutil.copytree(release[0], root)
    recipe = copy_recipe(tmp_path, "ntcd_timit")
    size_config(recipe)
    monkeypatch.chdir(recipe)
    return root, load_config(recipe / "conf" / "corpus.yaml", NtcdConfig)


def test_release_split_reads_the_lip_folders(small_release, tmp_path):
    root, config = small_release
    config.speaker_split = "release"
    prepare_ntcd_timit(root, config, tmp_path / "corpus", tmp_path / "data")
    speakers = {name: set(read_table(tmp_path / "data" / name / "spk2utt")) for name in SPEECH_SETS}
    assert speakers["dev_si"] == set(RELEASE_SPLIT["dev"]) and speakers["test"] == set(RELEASE_SPLIT["test"])
    assert (
        speakers["train_si"]
        == set(AUTHORS_DEV + AUTHORS_TEST + OTHER_VOLUNTEERS) - speakers["dev_si"] - speakers["test"]
    )
    config.speaker_split = "lists"  # the noise in corpus/ was cut from the other split's speakers
    with pytest.raises(
        CorpusLayoutError,
        match=f"{tmp_path / 'corpus' / 'noise' / 'train' / 'speakers.txt'}: the "
        "train noise there was made from other speakers",
    ):
        prepare_ntcd_timit(root, config, tmp_path / "corpus", tmp_path / "data2")


def test_discovery_names_what_it_found_or_missed(small_release):
    root, config = small_release
    copy = root / "copy" / "matlab_raw"
    shutil.copytree(root / LIPS_ROOT, copy)
    with pytest.raises(CorpusLayoutError, match=f"2 candidates for the lip ROI folder.*: {root / LIPS_ROOT}, {copy};"):
        resolve_layout(root, config)
    config.lips_root = "copy/matlab_raw"
    assert resolve_layout(root, config).lips_root == copy
    shutil.rmtree(root / NOISY_PREFIX / "LR")
    config.noisy_root = None
    with pytest.raises(CorpusLayoutError, match=f"{root}: no noisy speech folder \\(holding Babble, Cafe, Car, LR"):
        resolve_layout(root, config)
    config.noisy_root = NOISY_PREFIX
    shutil.rmtree(copy)
    with pytest.raises(CorpusLayoutError, match=f"{copy}: lip ROI folder \\(lips_root\\) does not exist"):
        resolve_layout(root, config)
    config.lips_root = None
    shutil.rmtree(root / LIPS_ROOT)
    with pytest.raises(CorpusLayoutError, match=f"{root}: no lip ROI folder \\(train\\|dev\\|test/<spk>/<utt>.mat\\)"):
        resolve_layout(root, config)


def check_release(root: Path, recipe: str = "ntcd_timit") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "avvae.bin.check_release", str(ROOT / "egs" / recipe), str(root)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_check_release_needs_a_checker_for_the_recipe(tmp_path):
    result = check_release(tmp_path, "mini_av")
    message = "no release checker for recipe 'mini_av' (checkers: grid, ntcd_timit)"
    assert result.returncode == 1 and message in result.stderr


def test_check_release_reports_missing_lips_and_durations(small_release):
    root, _ = small_release
    result = check_release(root)
    assert result.returncode == 0 and "no problems found" in result.stdout, result.stdout + result.stderr
    assert " 09F test/test 3w 3l 18n" in result.stdout and " 08F train/dev 3w 3l 18n" in result.stdout
    missing = root / LIPS_ROOT / "test" / "24M" / "sx134.mat"
    missing.unlink()
    short = root / LIPS_ROOT / "dev" / "08F" / "si1130.mat"
    write_matlab_lips(short, np.zeros((10, 67, 67), np.uint8))
    result = check_release(root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"missing lip file: 1\n    {missing} (clean sx134.wav exists)" in result.stdout
    assert f"lips and audio durations differ by more than 0.1 s: 1\n    {short}: 10 frames = 0.33 s" in result.stdout
    assert "!24M test/test 3w 2l 18n" in result.stdout and "!08F train/dev 3w 3l 18n" in result.stdout


def test_missing_lip_file_is_named(small_release, tmp_path):
    root, config = small_release
    path = root / LIPS_ROOT / "test" / "47M" / "sx134.mat"
    path.rename(path.with_name("sx134_moved.mat"))
    with pytest.raises(CorpusLayoutError, match=f"{path}: lip ROI file does not exist"):
        prepare_ntcd_timit(root, config, tmp_path / "corpus", tmp_path / "data")


def test_noisy_of_another_length_is_named(small_release, tmp_path):
    root, config = small_release
    noisy = root / NOISY_PREFIX / "White" / "-5" / "volunteers" / "09F" / "straightcam" / "si1130.wav"
    write_pcm16(noisy, np.zeros(RATE // 2))
    config.test_utts_per_speaker = 2  # both non-SA sentences of 09F are tested, so their noise is read
    with pytest.raises(CorpusLayoutError, match=f"{noisy}: 8000 samples at 16000 Hz, but the clean"):
        prepare_ntcd_timit(root, config, tmp_path / "corpus", tmp_path / "data")


def test_crossfade_keeps_the_power_of_joined_noise():
    rng = np.random.default_rng(0)
    segments = [rng.standard_normal(n).astype(np.float32) for n in (3000, 2000, 4000)]
    joined = crossfade_concatenate(segments, 160)
    assert len(joined) == 9000 - 2 * 160
    assert np.std(joined) == pytest.approx(1.0, abs=0.03)
    np.testing.assert_array_equal(joined[:2840], segments[0][:2840])


def test_listed_speaker_missing_from_the_release_is_named(small_release, tmp_path):
    root, config = small_release
    Path(config.test_speakers).write_text("09F\n31G\n")
    folder = root / "Clean" / "volunteers" / "31G" / "straightcam"
    with pytest.raises(CorpusLayoutError, match=f"{folder}: speaker folder does not exist"):
        prepare_ntcd_timit(root, config, tmp_path / "corpus", tmp_path / "data")


def test_check_release_names_a_lip_file_with_a_nan_coefficient_that_stage_1_refuses(small_release, tmp_path):
    root, config = small_release
    path = root / LIPS_ROOT / "test" / "09F" / "si1130.mat"
    with h5py.File(path, "r+") as handle:
        handle["data"][3, 100] = np.nan
    result = check_release(root)
    assert result.returncode == 1, result.stdout + result.stderr
    problem = f"{path}: 'data' holds NaN or infinite DCT coefficients (the first: nan in frame 4 of "
    assert f"lip file with NaN or infinite values: 1\n    {problem}" in result.stdout
    assert "!09F test/test 3w 3l 18n" in result.stdout
    with pytest.raises(CorpusLayoutError, match=re.escape(problem)):  # what stage 1 says of it
        prepare_ntcd_timit(root, config, tmp_path / "corpus", tmp_path / "data")


def test_a_file_given_as_the_root_is_named_a_file_not_a_missing_folder(tmp_path, monkeypatch, caplog):
    release = tmp_path / "NTCD-TIMIT.zip"
    release.write_bytes(b"PK\x03\x04")  # the archive, not the folder unpacked from it
    recipe = copy_recipe(tmp_path, "ntcd_timit")
    result = run_script(recipe, "--db_root", str(release), "--stop_stage", "1", check=False)
    assert result.returncode != 0 and f"NTCD-TIMIT root {release} is a file, not a folder" in result.stdout
    monkeypatch.chdir(recipe)  # the corpus config's speaker lists
    argv = ["--config", "conf/corpus.yaml", str(release), "corpus", "data"]
    message = failure(caplog, prepare_cli.build_parser, prepare_cli.main, argv)
    assert message == f"{release}: NTCD-TIMIT root is a file, not a folder"
    result = check_release(release)
    assert result.returncode == 1 and f"{release}: NTCD-TIMIT root is a file, not a folder" in result.stdout
