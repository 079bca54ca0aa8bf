"""egs/grid's two-talker protocol (conf/real) on the real GRID videos of REAL_GRID (tests/recipe.py): each talker's
folder given on its own, each talker's utterances split into train/dev/test, noise made from the training speech,
and test mixtures of s1 + s4 and of two sentences of s1."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from avvae.config import load_config
from avvae.corpus_prep.common import CorpusLayoutError
from avvae.corpus_prep.grid import GridConfig, prepare_grid
from avvae.fileio.audio import read_wav
from avvae.fileio.datadir import read_table, validate_data_dir
from avvae.fileio.lips import load_lips
from tests.recipe import REAL_GRID, copy_recipe, run_script

pytestmark = pytest.mark.recipe

SPLIT = {"s1": [6, 2, 2], "s4": [1, 0, 1]}  # the 10 s1 and 2 s4 videos of REAL_GRID
TESTED = {"s1": ["lrby8n"], "s4": ["pric2a"]}


@pytest.fixture(scope="module")
def real_recipe(tmp_path_factory):
    """run.sh --conf_dir conf/real through the test mixtures (stage 2), on the shared real videos."""
    recipe = copy_recipe(tmp_path_factory.mktemp("egs"), "grid")
    conf = recipe / "conf" / "real"
    for name, changes in (
        ("corpus.yaml", {"utterance_split": SPLIT, "test_utterances": TESTED, "noise_seconds": 5.0}),
        ("mix.yaml", {"num_mixtures": 4}),
    ):
        settings = yaml.safe_load((conf / name).read_text())
        settings.update(changes)
        (conf / name).write_text(yaml.safe_dump(settings))
    run_script(
        recipe,
        "--conf_dir",
        "conf/real",
        "--speaker_dir",
        f"s1={REAL_GRID / 's1'}",
        "--speaker_dir",
        f"s4={REAL_GRID / 's4'}",
        "--stop_stage",
        "2",
        "--nj",
        "1",
        "--local_data_opts",
        "--nj 2",
    )
    return recipe


def speaker_utterances(data: Path) -> dict[str, set[str]]:
    return {spk: set(utts.split()) for spk, utts in read_table(data / "spk2utt").items()}


def test_each_talker_is_split_into_train_dev_and_test(real_recipe):
    data = real_recipe / "data"
    sets = {name: speaker_utterances(data / name) for name in ("train_si", "dev_si", "test", "train_sd")}
    for part, name in enumerate(("train_si", "dev_si", "test")):
        assert {spk: len(utts) for spk, utts in sets[name].items()} == {
            spk: counts[part] for spk, counts in SPLIT.items() if counts[part]
        }
        validate_data_dir(data / name)
    assert sets["train_sd"] == sets["train_si"]
    assert "s1_lrby8n" in sets["test"]["s1"] and sets["test"]["s4"] == {"s4_pric2a"}, "test_utterances go to test"
    every = [utt for name in ("train_si", "dev_si", "test") for utts in sets[name].values() for utt in utts]
    assert len(every) == len(set(every)) == 12, "each video in one set only"


def test_both_video_sizes_give_3_s_of_audio_and_its_mouth_crops(real_recipe):
    data = real_recipe / "data"
    wavs, lips = read_table(data / "train_si" / "wav.scp"), read_table(data / "train_si" / "lips.scp")
    assert {key.split("_")[0] for key in wavs} == {"s1", "s4"}  # 360x288 and 720x576 videos
    for key, path in wavs.items():
        samples, rate = read_wav(path)
        frames, fps = load_lips(lips[key])
        assert rate == 16000 and abs(len(samples) / rate - 3.0) < 0.05 and np.abs(samples).max() > 0.05, key
        assert fps == 25.0 and frames.shape[1:] == (67, 67) and abs(len(frames) - fps * len(samples) / rate) <= 1, key
        assert frames.std() > 10, key


def test_noise_is_made_from_the_training_speech_and_differs_between_train_and_test(real_recipe):
    data = real_recipe / "data"
    recordings = {}
    for name in ("noise_train", "noise_test"):
        assert sorted(read_table(data / name / "spk2utt")) == ["brown", "pink", "ssn", "white"]
        validate_data_dir(data / name, require_lips=False)
        for key, path in read_table(data / name / "wav.scp").items():
            recordings[name, read_table(data / name / "utt2spk")[key]] = read_wav(path)[0]
    for kind in ("white", "pink", "brown", "ssn"):
        train, test = recordings["noise_train", kind], recordings["noise_test", kind]
        assert len(train) == 5 * 16000 and abs(np.corrcoef(np.diff(train), np.diff(test))[0, 1]) < 0.05, kind
    speech = np.concatenate([read_wav(path)[0] for path in read_table(data / "train_si" / "wav.scp").values()])

    def low_band_share(signal: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(signal)) ** 2
        return power[: len(power) // 8].sum() / power.sum()  # below 1 kHz

    assert low_band_share(recordings["noise_train", "ssn"]) == pytest.approx(low_band_share(speech), abs=0.1)
    assert low_band_share(recordings["noise_train", "white"]) < 0.2


def test_mixtures_pair_s1_with_s4_and_two_sentences_of_s1(real_recipe):
    mix = real_recipe / "data" / "test_mix"
    validate_data_dir(mix)
    manifest = [json.loads(line) for line in (mix / "manifest.jsonl").read_text().splitlines()]
    test = speaker_utterances(real_recipe / "data" / "test")
    assert [[source["spk"] for source in entry["sources"]] for entry in manifest] == [["s1", "s4"], ["s1", "s1"]] * 2
    for entry in manifest:
        utts = [source["utt"] for source in entry["sources"]]
        assert utts[0] != utts[1] and all(utt in test[source["spk"]] for utt, source in zip(utts, entry["sources"]))
    assert [entry["condition"] for entry in manifest] == ["s1+s4-snr-5", "s1+s1-snr-5", "s1+s4-snr0", "s1+s1-snr0"]


def test_without_a_noise_folder_or_generated_noise_nothing_is_written_and_the_error_says_what_to_give(
    real_recipe, tmp_path
):
    config = load_config(real_recipe / "conf" / "real" / "corpus.yaml", GridConfig)
    with pytest.raises(CorpusLayoutError, match="no noise folder: pass --noise_root to run.sh or set GRID_NOISE"):
        prepare_grid(
            real_recipe / "corpus" / "release",
            dataclasses.replace(config, noise="folder"),
            None,
            real_recipe / "corpus",
            tmp_path / "data",
        )
    assert not (tmp_path / "data").exists()
