"""Decoding and scoring end to end on a small mixture dir: the decode CLI's methods and job split, score rows
named by speaker and condition, job parts merged sorted, reruns that skip, and errors that name the file."""

import json
import shutil

import numpy as np
import pytest

from avvae.audio import read_wav
from avvae.bin import decode, score, train_nmf
from avvae.cli import run_main
from avvae.datadir import read_table
from avvae.decode_dir import output_paths
from avvae.features import FeatureConfig, dump_features
from avvae.mixing import MixConfig, make_mixtures
from avvae.results import read_scores
from avvae.scoring import COLUMNS, MixtureDir, score_mixture
from tests.datadirs import make_noise_dir, make_speech_dir


@pytest.fixture(scope="module")
def mixtures(tmp_path_factory):
    """A mixture dir of 2 two-speaker mixtures at 0 and 5 dB SNR, and its feats.h5."""
    root = tmp_path_factory.mktemp("scoring")
    speech, noise = make_speech_dir(root, speakers=3, utts=2), make_noise_dir(root)
    make_mixtures(speech, noise, root / "test_mix", root / "audio", MixConfig(num_mixtures=2, snr_db=[0.0, 5.0]))
    dump_features(root / "test_mix", root / "dump" / "feats.h5", FeatureConfig())
    dump_features(speech, root / "dump_speech" / "feats.h5", FeatureConfig())
    return root / "test_mix", root / "dump" / "feats.h5"


def run_decode(feats, out_dir, method: str, nj: int = 1) -> None:
    for job in range(1, nj + 1):
        run_main(decode.build_parser, decode.main,
                 [str(feats), str(out_dir), "--method", method, "--nj", str(nj), "--job", str(job)])


def run_score(mix_dir, decode_dir, nj: int = 1, *options: str) -> None:
    for job in range(1, nj + 1):
        run_main(score.build_parser, score.main, [str(mix_dir), str(decode_dir), "--nj", str(nj), "--job", str(job),
                                                  *options])
    run_main(score.build_parser, score.main, [str(mix_dir), str(decode_dir), "--nj", str(nj), "--merge"])


@pytest.fixture(scope="module")
def oracle(mixtures, tmp_path_factory):
    mix_dir, feats = mixtures
    out = tmp_path_factory.mktemp("oracle") / "decode_test"
    run_decode(feats, out, "oracle", nj=2)
    run_score(mix_dir, out, 2)
    return out


def test_scores_have_one_row_per_speaker_named_by_manifest_and_condition(mixtures, oracle):
    mix_dir, _ = mixtures
    lines = (oracle / "scores.tsv").read_text().splitlines()
    assert tuple(lines[0].split("\t")) == COLUMNS
    rows = read_scores(oracle / "scores.tsv")
    manifest = [json.loads(line) for line in (mix_dir / "manifest.jsonl").read_text().splitlines()]
    assert [(r["key"], r["speaker"], r["condition"]) for r in rows] == [
        (e["id"], s["spk"], e["condition"]) for e in sorted(manifest, key=lambda e: e["id"]) for s in e["sources"]]
    assert all(r["sdr_imp"] > 8 and r["si_sdr_imp"] > 8 and r["stoi_imp"] > 0 for r in rows)


def test_mixture_method_scores_no_improvement_and_reruns_skip(mixtures, tmp_path):
    mix_dir, feats = mixtures
    out = tmp_path / "decode_mixture"
    run_decode(feats, out, "mixture")
    run_score(mix_dir, out)
    rows = read_scores(out / "scores.tsv")
    assert len(rows) == 4
    for row in rows:
        for name in ("sdr", "sir", "si_sdr", "pesq", "stoi"):
            assert row[f"{name}_imp"] == pytest.approx(0.0, abs=1e-3)
    stamp = (out / "scores.tsv").stat().st_mtime_ns
    wav_stamp = (out / "wav" / f"{rows[0]['key']}_s1.wav").stat().st_mtime_ns
    run_decode(feats, out, "mixture")
    run_score(mix_dir, out)
    assert (out / "scores.tsv").stat().st_mtime_ns == stamp
    assert (out / "wav" / f"{rows[0]['key']}_s1.wav").stat().st_mtime_ns == wav_stamp


def test_swapped_speakers_score_badly_unless_permutation_invariant(mixtures, oracle, tmp_path):
    mix_dir, _ = mixtures
    key = next(iter(read_table(mix_dir / "wav.scp")))
    for j, other in ((1, 2), (2, 1), ("noise", "noise")):
        name = f"{key}_s{{}}.wav" if j != "noise" else f"{key}_{{}}.wav"
        (tmp_path / "wav").mkdir(exist_ok=True)
        shutil.copy(oracle / "wav" / name.format(other), tmp_path / "wav" / name.format(j))
    expected = [r["sdr"] for r in read_scores(oracle / "scores.tsv") if r["key"] == key]
    table = MixtureDir.read(mix_dir)
    swapped = score_mixture(table, tmp_path, key)
    assert all(row["sdr"] < sdr - 10 for row, sdr in zip(swapped, expected))
    invariant = score_mixture(table, tmp_path, key, permutation_invariant=True)
    np.testing.assert_allclose([row["sdr"] for row in invariant], expected, atol=1e-3)
    assert [row["speaker"] for row in invariant] == [row["speaker"] for row in swapped]


def test_missing_estimate_or_part_is_an_error_naming_the_file(mixtures, oracle, tmp_path, caplog):
    mix_dir, _ = mixtures
    out = tmp_path / "partial"
    shutil.copytree(oracle / "wav", out / "wav")
    key = next(iter(read_table(mix_dir / "wav.scp")))
    (out / "wav" / f"{key}_noise.wav").unlink()
    with pytest.raises(SystemExit) as exit_info:
        run_main(score.build_parser, score.main, [str(mix_dir), str(out)])
    assert exit_info.value.code == 1
    assert f"{out / 'wav' / key}_noise.wav: estimate of mixture {key} does not exist" in caplog.text
    with pytest.raises(ValueError, match=r"split2/scores.1.tsv: scores of job 1 of 2 do not exist"):
        score.main(score.build_parser().parse_args([str(mix_dir), str(out), "--nj", "2", "--merge"]))


def test_nmf_decoding_uses_the_dictionaries_of_train_nmf(mixtures, tmp_path):
    mix_dir, feats = mixtures
    config = tmp_path / "nmf.yaml"
    config.write_text("rank: 4\ntrain_iterations: 10\nseparate_iterations: 10\n")
    speech_feats = feats.parents[1] / "dump_speech" / "feats.h5"
    run_main(train_nmf.build_parser, train_nmf.main,
             [str(speech_feats), str(tmp_path / "nmf_sd"), "--config", str(config)])
    out = tmp_path / "nmf_sd" / "decode_test"
    run_main(decode.build_parser, decode.main, [str(feats), str(out), "--method", "nmf", "--nmf-dir",
                                                str(tmp_path / "nmf_sd")])
    for key in read_table(mix_dir / "wav.scp"):
        mixture, _ = read_wav(read_table(mix_dir / "wav.scp")[key])
        estimates = [read_wav(path)[0] for path in output_paths(out, key, 2)]
        assert all(len(e) == len(mixture) for e in estimates)
        np.testing.assert_allclose(np.sum(estimates, axis=0), mixture, atol=1e-4)
    with pytest.raises(ValueError, match="--method nmf needs --nmf-dir"):
        decode.main(decode.build_parser().parse_args([str(feats), str(out), "--method", "nmf"]))
