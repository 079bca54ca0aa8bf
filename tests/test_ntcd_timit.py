"""egs/ntcd_timit on a small tree laid out as the NTCD-TIMIT release: data prep and feature dump through run.sh,
training to RESULTS.md with one-epoch configs, and clear errors for a missing root, a missing lips folder and a
noisy file that does not match its clean one."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from PIL import Image

from avvae.audio import read_wav, write_wav
from avvae.config import load_config
from avvae.corpus_prep.common import CorpusLayoutError, crossfade_concatenate
from avvae.corpus_prep.ntcd_timit import NtcdConfig, prepare_ntcd_timit
from avvae.datadir import read_table, validate_data_dir
from avvae.lips import load_lips
from avvae.stft import StftConfig
from tests.datadirs import RATE, lips_for, voiced_utterance
from tests.recipe import copy_recipe, run_script, shrink_configs

VOLUNTEERS = ("01M", "13F", "30F", "31F")
UTTS = ("sa1", "si1130", "sx134")
NOISES = ("car", "white")
SPEECH_SETS = ("train_si", "dev_si", "train_sd", "test")


def make_release(root: Path, seed: int = 0) -> tuple[Path, dict[str, np.ndarray]]:
    """Clean audio, PNG lip frames and -5 dB noisy versions of 4 volunteers and a lipspeaker, 3 sentences each;
    returns the root and the lip frames written, by utterance key."""
    rng = np.random.default_rng(seed)
    lips = {}
    speakers = [("volunteers", spk) for spk in VOLUNTEERS] + [("lipspeakers", "Lipspkr1")]
    for index, (group, spk) in enumerate(speakers):
        for utt in UTTS:
            clean = voiced_utterance(rng, rng.uniform(1.0, 1.4), f0=100 + 30 * index)
            write_wav(root / "Clean" / group / spk / "straightcam" / f"{utt}.wav", clean, RATE, subtype="PCM_16")
            frames = root / "lips_roi" / group / spk / "straightcam" / utt
            frames.mkdir(parents=True)
            lips[f"{spk}_{utt}"] = lips_for(clean)
            for number, frame in enumerate(lips[f"{spk}_{utt}"], start=1):
                Image.fromarray(frame).save(frames / f"{number}.png")
            for noise in NOISES:
                noisy = clean + 0.3 * rng.standard_normal(len(clean)).astype(np.float32)
                write_wav(root / noise / "-5" / group / spk / "straightcam" / f"{utt}.wav",
                          np.clip(noisy, -1, 1), RATE, subtype="PCM_16")
    return root, lips


def tiny_config(recipe: Path) -> None:
    """Point the recipe's conf at the small tree: 1 dev and 2 test volunteers, short noises, 3 mixtures."""
    (recipe / "conf" / "speakers_dev.txt").write_text("13F\n")
    (recipe / "conf" / "speakers_test.txt").write_text("# the test volunteers\n30F\n31F\n")
    corpus = yaml.safe_load((recipe / "conf" / "corpus.yaml").read_text())
    corpus.update(lipspeakers=["Lipspkr1"], test_utts_per_speaker=1, noise_types=list(NOISES),
                  noise_seconds_train=2.0, noise_seconds_test=2.0)
    (recipe / "conf" / "corpus.yaml").write_text(yaml.safe_dump(corpus))
    mix = yaml.safe_load((recipe / "conf" / "mix.yaml").read_text())
    mix.update(num_mixtures=3)
    (recipe / "conf" / "mix.yaml").write_text(yaml.safe_dump(mix))


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    release, lips = make_release(tmp_path_factory.mktemp("NTCD-TIMIT"))
    recipe = copy_recipe(tmp_path_factory.mktemp("egs"), "ntcd_timit")
    tiny_config(recipe)
    run_script(recipe, "--db_root", str(release), "--stop_stage", "3", "--nj", "1")
    return recipe, lips


def test_data_dirs_hold_the_splits(recipe):
    recipe, _ = recipe
    speakers = {name: set(read_table(recipe / "data" / name / "spk2utt")) for name in SPEECH_SETS}
    assert speakers == {"train_si": {"01M", "Lipspkr1"}, "dev_si": {"13F"}, "train_sd": {"30F", "31F"},
                        "test": {"30F", "31F"}}
    test = set(read_table(recipe / "data" / "test" / "wav.scp"))
    assert len(test) == 2 and not test & set(read_table(recipe / "data" / "train_sd" / "wav.scp"))
    assert not any(key.endswith("_sa1") for key in test), "SA sentences never go to test"
    assert read_table(recipe / "data" / "train_si" / "wav.scp")["01M_sx134"].endswith(
        "Clean/volunteers/01M/straightcam/sx134.wav")
    for name in SPEECH_SETS:
        validate_data_dir(recipe / "data" / name)
    for name in ("noise_train", "noise_test"):
        assert sorted(read_table(recipe / "data" / name / "spk2utt")) == sorted(NOISES)
        validate_data_dir(recipe / "data" / name, require_lips=False)


def test_training_separation_and_results_run_on_the_tree(recipe):
    recipe, _ = recipe
    shrink_configs(recipe)
    run_script(recipe, "--stage", "4", "--nj", "1", "--si_models", "avvae", "--sd_models", "avvae",
               "--supervised", "false")
    assert all((recipe / "exp" / "avvae_sd" / spk / "model.pt").is_file() for spk in ("30F", "31F"))
    results = (recipe / "RESULTS.md").read_text()
    sdr = results.split("## SDR improvement (dB)")[1].split("##")[0]
    row = next(line for line in sdr.splitlines() if line.startswith("| AV-VAE + MCEM"))
    assert all(cell.strip() for cell in row.split("|")[1:-1]), "SI and SD columns all filled"
    assert "| NMF † (SI) |" in sdr and "| Oracle IRM |" in sdr


def test_lips_are_the_png_frames_in_order(recipe):
    recipe, written = recipe
    for key, path in read_table(recipe / "data" / "train_si" / "lips.scp").items():
        frames, fps = load_lips(path)
        assert fps == 30.0 and len(written[key]) > 10, "frames 1.png ... 10.png and more: natural order matters"
        np.testing.assert_array_equal(frames, written[key])


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
        assert sorted(handle) == ["car_test_ntcd", "white_test_ntcd"]
        assert handle.attrs["kind"] == "noise"


def test_noise_is_noisy_minus_clean(recipe):
    """The derived noise has the level of the added noise (0.3 standard deviation), not of the speech."""
    recipe, _ = recipe
    noise, _ = read_wav(read_table(recipe / "data" / "noise_test" / "wav.scp")["white_test_ntcd"])
    assert len(noise) >= 2 * RATE
    assert np.std(noise) == pytest.approx(0.3, rel=0.05)


def test_missing_root_is_named(tmp_path):
    recipe = copy_recipe(tmp_path, "ntcd_timit")
    result = run_script(recipe, "--stop_stage", "1", check=False)
    assert result.returncode != 0 and "no NTCD-TIMIT root" in result.stdout and "db.sh" in result.stdout
    result = run_script(recipe, "--db_root", str(tmp_path / "nowhere"), "--stop_stage", "1", check=False)
    assert result.returncode != 0 and f"NTCD-TIMIT root {tmp_path / 'nowhere'} does not exist" in result.stdout


@pytest.fixture
def small_release(tmp_path, monkeypatch):
    """A release and a config of it for direct calls, from inside a copy of the recipe (speaker lists in conf/)."""
    release, _ = make_release(tmp_path / "release")
    recipe = copy_recipe(tmp_path, "ntcd_timit")
    tiny_config(recipe)
    monkeypatch.chdir(recipe)
    return release, load_config(recipe / "conf" / "corpus.yaml", NtcdConfig)


def test_missing_lips_folder_is_named(small_release, tmp_path):
    release, config = small_release
    folder = release / "lips_roi" / "volunteers" / "30F" / "straightcam" / "sx134"
    folder.rename(folder.with_name("sx134_moved"))
    with pytest.raises(CorpusLayoutError, match=f"{folder}: lip ROI folder does not exist"):
        prepare_ntcd_timit(release, config, tmp_path / "corpus", tmp_path / "data")


def test_noisy_of_another_length_is_named(small_release, tmp_path):
    release, config = small_release
    noisy = release / "white" / "-5" / "volunteers" / "30F" / "straightcam" / "si1130.wav"
    write_wav(noisy, np.zeros(RATE // 2, np.float32), RATE, subtype="PCM_16")
    config.test_utts_per_speaker = 2  # both non-SA sentences of 30F are tested, so their noise is read
    with pytest.raises(CorpusLayoutError, match=f"{noisy}: 8000 samples at 16000 Hz, but the clean"):
        prepare_ntcd_timit(release, config, tmp_path / "corpus", tmp_path / "data")


def test_crossfade_keeps_the_power_of_joined_noise():
    rng = np.random.default_rng(0)
    segments = [rng.standard_normal(n).astype(np.float32) for n in (3000, 2000, 4000)]
    joined = crossfade_concatenate(segments, 160)
    assert len(joined) == 9000 - 2 * 160
    assert np.std(joined) == pytest.approx(1.0, abs=0.03)
    np.testing.assert_array_equal(joined[:2840], segments[0][:2840])


def test_listed_speaker_missing_from_the_release_is_named(small_release, tmp_path):
    release, config = small_release
    Path(config.test_speakers).write_text("30F\n31G\n")
    folder = release / "Clean" / "volunteers" / "31G" / "straightcam"
    with pytest.raises(CorpusLayoutError, match=f"{folder}: speaker folder does not exist"):
        prepare_ntcd_timit(release, config, tmp_path / "corpus", tmp_path / "data")
