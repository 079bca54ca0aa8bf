"""A broken mixture data dir is refused with an error naming the file and what is wrong: by validation (the data
dir checks of stage 2 and of decoding) and by scoring, which reads the references and the manifest."""

import json
import shutil

import numpy as np
import pytest

from avvae.evaluation.scoring import MixtureDir, mixture_scorer
from avvae.fileio.audio import read_wav, write_wav
from avvae.fileio.datadir import DataDirError, read_table, validate_data_dir, write_table
from avvae.mixing import MixConfig, make_mixtures
from tests.datadirs import make_noise_dir, make_speech_dir


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    speech, noise = make_speech_dir(root, speakers=3, utts=1), make_noise_dir(root, seconds=2.0)
    make_mixtures(speech, noise, root / "mix", root / "audio", MixConfig(num_mixtures=2, seed=3))
    return root / "mix"


@pytest.fixture
def broken(mixed, tmp_path):
    """A copy of the mixture dir to break (its audio stays where it is)."""
    shutil.copytree(mixed, tmp_path / "mix")
    return tmp_path / "mix"


def drop_first_entry(path):
    table = read_table(path)
    write_table(path, dict(list(table.items())[1:]))
    return next(iter(table))


def test_a_source_table_without_a_mixture_is_named(broken):
    assert validate_data_dir(broken) == 2
    key = drop_first_entry(broken / "spk2.scp")
    with pytest.raises(DataDirError, match=rf"{broken / 'spk2.scp'}: keys differ from wav.scp \(missing: \['{key}'\]"):
        validate_data_dir(broken)
    with pytest.raises(DataDirError, match=f"{broken / 'spk2.scp'}: no entry for mixture '{key}'"):
        mixture_scorer(MixtureDir.read(broken), key)


def test_a_reference_of_another_length_is_named(broken, tmp_path):
    key, path = next(iter(read_table(broken / "noise1.scp").items()))
    samples, rate = read_wav(path)
    write_wav(tmp_path / "short.wav", samples[:-160], rate)
    write_table(broken / "noise1.scp", {**read_table(broken / "noise1.scp"), key: str(tmp_path / "short.wav")})
    with pytest.raises(DataDirError, match=f"{broken / 'noise1.scp'}: {key}: length differs from the mixture"):
        validate_data_dir(broken)
    with pytest.raises(
        ValueError,
        match=f"{tmp_path / 'short.wav'}: noise has {len(samples) - 160} samples, the mixture {len(samples)}",
    ):
        mixture_scorer(MixtureDir.read(broken), key)


def test_missing_lips_of_a_speaker_are_named(broken):
    (broken / "lips2.scp").unlink()
    with pytest.raises(DataDirError, match=f"{broken / 'lips2.scp'}: file does not exist"):
        validate_data_dir(broken)


def test_a_missing_or_inconsistent_manifest_is_named(broken):
    manifest = broken / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["sources"] = entry["sources"][:1]
    manifest.write_text("\n".join([lines[0], json.dumps(entry)]) + "\n")
    with pytest.raises(DataDirError, match=f"{manifest}:2: key 'sources' must be a list of 2 sources"):
        MixtureDir.read(broken)
    manifest.unlink()
    with pytest.raises(DataDirError, match=f"{manifest}: file does not exist"):
        validate_data_dir(broken)
    with pytest.raises(DataDirError, match=f"{manifest}: file does not exist"):
        MixtureDir.read(broken)


def test_a_speech_dir_is_not_a_mixture_dir_to_score(mixed, tmp_path):
    speech = make_speech_dir(tmp_path, speakers=1, utts=1)
    with pytest.raises(DataDirError, match=f"{speech}: not a mixture data dir \\(no spk1.scp\\)"):
        MixtureDir.read(speech)
    assert np.isfinite(
        mixture_scorer(MixtureDir.read(mixed), next(iter(read_table(mixed / "wav.scp")))).baseline[0]["sdr"]
    )
