"""Stale outputs are detected through the commands a user runs: a dump made (or begun) with another feats config, a
decode made before the model was retrained, scores made in another speaker order, and a model file with flipped bytes
in a weight. Also a done marker that cannot be read, a finished decode that lost some of its wavs, and scoring job
files left by an earlier scoring."""

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from avvae.features import FeatureConfig, dump_features
from avvae.fileio.audio import read_wav, write_wav
from avvae.mixing import MixConfig, make_mixtures
from avvae.models import ModelConfig, SpeechVAE, load_model
from avvae.models.files import ModelFileError, save_model
from tests.commands import kill_once_an_utterance_is_complete
from tests.datadirs import make_noise_dir, make_speech_dir

pytestmark = pytest.mark.recipe

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT),
    "PATH": f"{ROOT}/.venv/bin:{ROOT}/utils:{os.environ['PATH']}",
    "OMP_NUM_THREADS": "1",
}
OTHER_FEATS = "n_fft: 512\nhop_length: 128\n"


def step(workdir: Path, script: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run steps/<script> in `workdir` (paths relative to it, as in a recipe); stdout+stderr in .stdout."""
    result = subprocess.run(
        [str(ROOT / "steps" / script), *args],
        cwd=workdir,
        env=ENV,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{script} failed:\n{result.stdout[-3000:]}")
    return result


@pytest.fixture
def workdir(tmp_path):
    make_speech_dir(tmp_path / "speech", speakers=3, utts=3)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "feats.yaml").write_text("hop_length: 533\n")
    return tmp_path


def n_fft_of(feats: Path) -> set[int]:
    with h5py.File(feats) as handle:
        return {handle.attrs["n_fft"]} | {handle[key]["power"].shape[1] * 2 - 2 for key in handle}


def test_a_dump_made_with_another_feats_config_is_refused_then_redone_with_force(workdir):
    dump = ["--nj", "2", "speech/data", "dump/speech"]
    step(workdir, "dump_features.sh", *dump)
    feats = workdir / "dump" / "speech" / "feats.h5"
    made = feats.stat().st_mtime_ns
    assert "is complete, skipping" in step(workdir, "dump_features.sh", *dump).stdout

    (workdir / "conf" / "feats.yaml").write_text(OTHER_FEATS)
    refused = step(workdir, "dump_features.sh", *dump, check=False)
    assert refused.returncode != 0
    assert (
        "dump/speech: conf/feats.yaml changed since the dump was made (rerun with --force true to redo it)"
        in refused.stdout
    )
    assert feats.stat().st_mtime_ns == made and n_fft_of(feats) == {1024}

    step(workdir, "dump_features.sh", "--force", "true", *dump)
    assert n_fft_of(feats) == {512}
    assert "is complete, skipping" in step(workdir, "dump_features.sh", *dump).stdout


def test_a_killed_dump_resumed_with_another_feats_config_is_refused(workdir):
    dump = workdir / "dump" / "speech"
    partial = dump / "split1" / "feats.1.h5.partial"
    command = [str(ROOT / "steps" / "dump_features.sh"), "--nj", "1", "speech/data", "dump/speech"]
    for _ in range(3):  # a fast machine may finish the 9 utterances between two looks: start again
        if kill_once_an_utterance_is_complete(command, workdir, partial, ENV):
            break
        subprocess.run(["rm", "-r", str(dump)], check=True)
    else:
        pytest.fail("the dump always ended before it could be killed")

    (workdir / "conf" / "feats.yaml").write_text(OTHER_FEATS)
    refused = step(workdir, "dump_features.sh", "--nj", "1", "speech/data", "dump/speech", check=False)
    assert refused.returncode != 0
    assert "dump/speech: conf/feats.yaml changed since the dump began (it did not finish)" in refused.stdout
    assert not (dump / "feats.h5").exists() and partial.is_file()

    # the job itself, run by hand on the partial file, refuses to append utterances of other settings to it
    job = subprocess.run(
        [sys.executable, "-m", "avvae.bin.dump_features", "--config", "conf/feats.yaml", "speech/data", "dump/speech"],
        cwd=workdir,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert job.returncode == 1
    assert "feats.1.h5.partial: a partial dump made with n_fft=1024 (wanted 512), hop_length=533 (wanted 128)" in (
        job.stderr
    )
    assert not (dump / "split1" / "feats.1.h5").exists() and n_fft_of(partial) == {1024}


def test_a_done_marker_that_cannot_be_read_is_refused_naming_it_then_redone_with_force(workdir):
    dump = ["--nj", "2", "speech/data", "dump/speech"]
    step(workdir, "dump_features.sh", *dump)
    marker = workdir / "dump" / "speech" / ".done"
    (workdir / "conf" / "feats.yaml").write_text(OTHER_FEATS)
    for content in (marker.read_bytes()[:100], b""):  # cut short, emptied
        marker.write_bytes(content)
        refused = step(workdir, "dump_features.sh", *dump, check=False)
        assert refused.returncode != 0
        assert (
            "dump/speech/.done: not a done marker (cut short or emptied?), so what made the dump is unknown: "
            "delete it to redo the dump (rerun with --force true to remove the dump and make it again)"
        ) in refused.stdout
    step(workdir, "dump_features.sh", "--force", "true", *dump)
    assert n_fft_of(workdir / "dump" / "speech" / "feats.h5") == {512}

    marker.write_text("2026-11-29 13:16:47\n")  # as markers were before they recorded provenance: reused
    assert (
        "has no provenance (made before it was recorded): reused as it is"
        in step(workdir, "dump_features.sh", *dump).stdout
    )


def mixture_workdir(root: Path, num_mixtures: int) -> Path:
    """A recipe-like folder: data/test_mix of `num_mixtures` mixtures, its features, conf/mcem.yaml."""
    speech = make_speech_dir(root / "speech", speakers=2, utts=1)
    noise = make_noise_dir(root, seconds=2.0)
    data = root / "data" / "test_mix"
    make_mixtures(speech, noise, data, root / "mix_audio", MixConfig(num_mixtures=num_mixtures, snr_db=[5.0]))
    dump_features(data, root / "dump" / "test_mix" / "feats.h5", FeatureConfig())
    (root / "conf").mkdir()
    (root / "conf" / "mcem.yaml").write_text(
        "iterations: 2\ndraws: 2\nburn_in: 1\nfinal_draws: 2\nfinal_burn_in: 1\nsampler: mh\ninit: prior\n"
    )
    return root


@pytest.fixture
def mixtures(tmp_path):
    return mixture_workdir(tmp_path, 1)


def small_model(seed: int) -> SpeechVAE:
    torch.manual_seed(seed)
    return SpeechVAE(ModelConfig(kind="avae", latent_dim=4, hidden_dim=16))


def test_a_decode_made_before_the_model_was_retrained_is_refused_as_stale(mixtures):
    save_model(small_model(0), mixtures / "exp" / "avae_si" / "model.pt")
    decode = [
        "--nj",
        "1",
        "--decode-opts",
        "--method mcem --model-dir exp/avae_si --config conf/mcem.yaml",
        "data/test_mix",
        "dump/test_mix/feats.h5",
        "exp/avae_si/decode_test_mix",
    ]
    step(mixtures, "decode.sh", *decode)
    assert "is separated, skipping" in step(mixtures, "decode.sh", *decode).stdout

    save_model(small_model(1), mixtures / "exp" / "avae_si" / "model.pt")  # trained again
    refused = step(mixtures, "decode.sh", *decode, check=False)
    assert refused.returncode != 0
    assert (
        "exp/avae_si/decode_test_mix: exp/avae_si/model.pt changed since the decode was made (rerun with --force "
        "true to redo it)"
    ) in refused.stdout


def test_a_finished_decode_stays_done_without_its_inputs_and_a_new_one_names_the_missing_one(mixtures):
    decode = ["--nj", "1", "--decode-opts", "--method oracle", "data/test_mix", "dump/test_mix/feats.h5"]
    step(mixtures, "decode.sh", *decode, "exp/oracle/decode_test_mix")
    (mixtures / "dump" / "test_mix" / "feats.h5").unlink()  # the features removed to save room
    assert "is separated, skipping" in step(mixtures, "decode.sh", *decode, "exp/oracle/decode_test_mix").stdout
    refused = step(mixtures, "decode.sh", *decode, "exp/other/decode_test_mix", check=False)
    assert refused.returncode != 0
    assert "dump/test_mix/feats.h5: missing input of exp/other/decode_test_mix" in refused.stdout


def test_scores_in_another_speaker_order_are_refused_then_redone_with_force(mixtures):
    decode = "exp/oracle/decode_test_mix"
    step(
        mixtures,
        "decode.sh",
        "--nj",
        "1",
        "--decode-opts",
        "--method oracle",
        "data/test_mix",
        "dump/test_mix/feats.h5",
        decode,
    )
    best = ["--score-opts", f"--permutation-invariant ./{decode}", "data/test_mix", decode]  # the same folder
    step(mixtures, "score.sh", "--nj", "1", *best)
    assert "scores.tsv exists, skipping" in step(mixtures, "score.sh", "--nj", "1", *best).stdout
    assert set(column(mixtures / decode, "permutation")) == {"best"}

    refused = step(mixtures, "score.sh", "--nj", "1", "data/test_mix", decode, check=False)
    assert refused.returncode != 0
    assert (
        f"{decode}: option permutation was 'best', now 'fixed' since scores.tsv was made (rerun with --force "
        "true to redo it)"
    ) in refused.stdout
    step(mixtures, "score.sh", "--nj", "1", "--force", "true", "data/test_mix", decode)
    assert set(column(mixtures / decode, "permutation")) == {"fixed"}

    marker = mixtures / decode / ".done.score"  # a record written before the order was recorded is not stale
    record = json.loads(marker.read_text())
    del record["options"]["permutation"]
    marker.write_text(json.dumps(record))
    assert "scores.tsv exists, skipping" in step(mixtures, "score.sh", "--nj", "1", *best).stdout


ORACLE = [
    "--nj",
    "1",
    "--decode-opts",
    "--method oracle",
    "data/test_mix",
    "dump/test_mix/feats.h5",
    "exp/oracle/decode_test_mix",
]


def test_a_decode_that_lost_wavs_redoes_those_mixtures_and_then_its_scores(tmp_path):
    workdir = mixture_workdir(tmp_path, 2)
    decode = workdir / "exp" / "oracle" / "decode_test_mix"
    step(workdir, "decode.sh", *ORACLE)
    step(workdir, "score.sh", "--nj", "1", "data/test_mix", "exp/oracle/decode_test_mix")
    first, second = (noise.name[: -len("_noise.wav")] for noise in sorted(decode.glob("wav/*_noise.wav")))
    kept = {path: path.stat().st_mtime_ns for path in decode.glob(f"wav/{second}_*.wav")}
    lost = decode / "wav" / f"{first}_s1.wav"
    lost.unlink()

    redone = step(workdir, "decode.sh", *ORACLE)
    assert (
        f"exp/oracle/decode_test_mix: 1 output file(s) of the decode missing or of another size since it "
        f"finished (wav/{lost.name}): made again"
    ) in redone.stdout
    assert lost.is_file() and {path: path.stat().st_mtime_ns for path in kept} == kept  # the other mixture is kept
    assert "is separated, skipping" in step(workdir, "decode.sh", *ORACLE).stdout

    rescored = step(workdir, "score.sh", "--nj", "1", "data/test_mix", "exp/oracle/decode_test_mix")
    assert (
        "exp/oracle/decode_test_mix: exp/oracle/decode_test_mix/.done.decode made again since scores.tsv was "
        "made: scores.tsv is made again too"
    ) in rescored.stdout
    assert (decode / "scores.tsv").stat().st_mtime_ns > lost.stat().st_mtime_ns


def test_scores_are_made_again_from_the_estimates_not_from_the_job_files_of_an_earlier_scoring(mixtures):
    decode = mixtures / "exp" / "oracle" / "decode_test_mix"
    step(mixtures, "decode.sh", *ORACLE)
    score = ["--nj", "1", "data/test_mix", "exp/oracle/decode_test_mix"]
    step(mixtures, "score.sh", *score)
    assert (decode / "split1" / "scores.1.tsv").is_file()
    estimate = next(decode.glob("wav/*_s1.wav"))
    samples, rate = read_wav(estimate)
    write_wav(estimate, np.zeros_like(samples), rate)  # the same size: the decode itself looks intact
    (decode / "scores.tsv").unlink()

    step(mixtures, "score.sh", *score)
    assert column(decode, "si_sdr")[0] == "-inf"  # the silent estimate's row, scored again


def column(decode: Path, name: str) -> list[str]:
    """A column of a decode dir's scores.tsv."""
    rows = [line.split("\t") for line in (decode / "scores.tsv").read_text().splitlines()]
    return [row[rows[0].index(name)] for row in rows[1:]]


def test_flipped_bytes_inside_a_weight_fail_the_checksum_naming_the_file(tmp_path):
    model = small_model(0)
    path = tmp_path / "model.pt"
    save_model(model, path)
    weight = model.state_dict()["encoder.hidden.0.weight"].numpy().tobytes()
    data = bytearray(path.read_bytes())
    start = data.find(weight)
    assert start > 0 and len(weight) > 1000, "the weight is stored as its raw bytes"
    middle = start + len(weight) // 2
    data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=f"{path}: parameters fail their checksum: the file is corrupt"):
        load_model(path)
