"""Decoding and scoring end to end on a small mixture dir: the decode CLI's methods and job split, score rows
named by speaker and condition, several decode dirs scored in one pass as each alone, a row recomputed from the
wav files with museval, pesq and pystoi themselves, the silence reference, the best permutation, steps/score.sh,
job parts merged sorted, reruns that skip, and errors that name the file."""

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pesq
import pystoi
import pytest

from avvae.bin import decode, score, train_nmf
from avvae.cli import run_main
from avvae.evaluation.error_budget import BUDGET_COLUMNS
from avvae.evaluation.results import read_scores
from avvae.evaluation.scoring import COLUMNS, MixtureDir, score_mixture
from avvae.features import FeatureConfig, dump_features
from avvae.fileio.audio import read_wav
from avvae.fileio.datadir import read_table
from avvae.fileio.decode_dir import output_paths, read_speaker_order
from avvae.mixing import MixConfig, make_mixtures
from tests.datadirs import make_noise_dir, make_speech_dir
from tests.test_metrics import museval_v3_sdr, museval_v4

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mixtures(tmp_path_factory):
    """A mixture dir of 2 two-speaker mixtures at -5 and 5 dB SNR, and its feats.h5."""
    root = tmp_path_factory.mktemp("scoring")
    speech, noise = make_speech_dir(root, speakers=3, utts=2), make_noise_dir(root)
    make_mixtures(speech, noise, root / "test_mix", root / "audio", MixConfig(num_mixtures=2, snr_db=[-5.0, 5.0]))
    dump_features(root / "test_mix", root / "dump" / "feats.h5", FeatureConfig())
    dump_features(speech, root / "dump_speech" / "feats.h5", FeatureConfig())
    return root / "test_mix", root / "dump" / "feats.h5"


def run_decode(feats, out_dir, method: str, nj: int = 1) -> None:
    for job in range(1, nj + 1):
        run_main(
            decode.build_parser,
            decode.main,
            [str(feats), str(out_dir), "--method", method, "--nj", str(nj), "--job", str(job)],
        )


def run_score(mix_dir, decode_dirs, nj: int = 1, *options: str) -> None:
    dirs = [str(d) for d in decode_dirs]
    for job in range(1, nj + 1):
        run_main(score.build_parser, score.main, [str(mix_dir), *dirs, "--nj", str(nj), "--job", str(job), *options])
    run_main(score.build_parser, score.main, [str(mix_dir), *dirs, "--nj", str(nj), "--merge"])


@pytest.fixture(scope="module")
def decoded(mixtures, tmp_path_factory):
    """The oracle, mixture and silence systems decoded and scored together in 2 jobs: {method: decode dir}."""
    mix_dir, feats = mixtures
    root = tmp_path_factory.mktemp("exp")
    dirs = {method: root / method / "decode_test" for method in ("oracle", "mixture", "silence")}
    for method, out in dirs.items():
        run_decode(feats, out, method, nj=2)
    run_score(mix_dir, dirs.values(), 2)
    return dirs


def test_scores_have_one_row_per_speaker_named_by_manifest_and_condition(mixtures, decoded):
    mix_dir, _ = mixtures
    oracle = decoded["oracle"]
    lines = (oracle / "scores.tsv").read_text().splitlines()
    assert tuple(lines[0].split("\t")) == COLUMNS
    assert COLUMNS[-8:] == ("sdr_v3", "sdr_v3_imp", "estimate", "permutation", *BUDGET_COLUMNS), "new ones last"
    rows = read_scores(oracle / "scores.tsv")
    manifest = [json.loads(line) for line in (mix_dir / "manifest.jsonl").read_text().splitlines()]
    assert [(r["key"], r["speaker"], r["condition"]) for r in rows] == [
        (e["id"], s["spk"], e["condition"]) for e in sorted(manifest, key=lambda e: e["id"]) for s in e["sources"]
    ]
    assert all(r["sdr_imp"] > 8 and r["si_sdr_imp"] > 8 and r["stoi_imp"] > 0 for r in rows)
    assert [(r["estimate"], r["permutation"]) for r in rows] == [("1", "fixed"), ("2", "fixed")] * 2


def test_a_row_recomputed_from_the_wavs_with_museval_pesq_and_pystoi(mixtures, decoded):
    mix_dir, _ = mixtures
    oracle = decoded["oracle"]
    row = read_scores(oracle / "scores.tsv")[1]  # the second speaker of the first mixture
    key, j = row["key"], 1
    read = lambda table: read_wav(read_table(mix_dir / table)[key])[0]  # noqa: E731
    references = np.stack([read("spk1.scp"), read("spk2.scp"), read("noise1.scp")]).astype(np.float64)
    estimates = np.stack([read_wav(path)[0] for path in output_paths(oracle, key, 2)]).astype(np.float64)
    mixture = np.broadcast_to(read("wav.scp"), references.shape).astype(np.float64)
    v4, v4_mixture = museval_v4(references, estimates), museval_v4(references, mixture)
    for name in ("sdr", "sir", "sar"):
        assert row[name] == pytest.approx(v4[name][j], abs=0.01)
    assert row["sdr_imp"] == pytest.approx(v4["sdr"][j] - v4_mixture["sdr"][j], abs=0.01)
    assert row["sir_imp"] == pytest.approx(v4["sir"][j] - v4_mixture["sir"][j], abs=0.01)
    assert row["sdr_v3"] == pytest.approx(museval_v3_sdr(references, estimates)[j], abs=0.01)
    assert row["pesq"] == pytest.approx(pesq.pesq(16000, references[j], estimates[j], "wb"), abs=1e-4)
    assert row["pesq_imp"] == pytest.approx(row["pesq"] - pesq.pesq(16000, references[j], mixture[j], "wb"), abs=2e-4)
    assert row["stoi"] == pytest.approx(pystoi.stoi(references[j], estimates[j], 16000), abs=1e-4)
    s, e = references[j] - references[j].mean(), estimates[j] - estimates[j].mean()
    target = np.dot(e, s) / np.dot(s, s) * s
    assert row["si_sdr"] == pytest.approx(10 * np.log10(np.sum(target**2) / np.sum((e - target) ** 2)), abs=1e-4)


def test_decode_dirs_scored_together_score_as_each_alone(mixtures, decoded, tmp_path):
    mix_dir, _ = mixtures
    alone = tmp_path / "decode_test"
    shutil.copytree(decoded["oracle"] / "wav", alone / "wav")
    run_score(mix_dir, [alone])
    assert (alone / "scores.tsv").read_text() == (decoded["oracle"] / "scores.tsv").read_text()


def test_mixture_method_scores_no_improvement_and_reruns_skip(mixtures, decoded):
    mix_dir, feats = mixtures
    out = decoded["mixture"]
    rows = read_scores(out / "scores.tsv")
    assert len(rows) == 4
    for row in rows:
        for name in ("sdr", "sir", "si_sdr", "pesq", "stoi", "sdr_v3"):
            assert row[f"{name}_imp"] == pytest.approx(0.0, abs=1e-3)
    stamp = (out / "scores.tsv").stat().st_mtime_ns
    wav_stamp = (out / "wav" / f"{rows[0]['key']}_s1.wav").stat().st_mtime_ns
    run_decode(feats, out, "mixture")
    run_score(mix_dir, [out])
    assert (out / "scores.tsv").stat().st_mtime_ns == stamp
    assert (out / "wav" / f"{rows[0]['key']}_s1.wav").stat().st_mtime_ns == wav_stamp


def test_silence_scores_zero_sdr_gains_by_attenuation_and_writes_its_undefined_values(decoded):
    silence = decoded["silence"]
    assert all(not np.any(read_wav(path)[0]) for path in (silence / "wav").glob("*_s?.wav"))
    rows, mixture_rows = read_scores(silence / "scores.tsv"), read_scores(decoded["mixture"] / "scores.tsv")
    for row, base in zip(rows, mixture_rows):
        assert row["sdr"] == 0.0 and row["sdr_imp"] == pytest.approx(-base["sdr"], abs=1e-3)
        assert row["si_sdr"] == row["si_sdr_imp"] == -math.inf and row["stoi"] == 0.0
        assert all(math.isnan(row[name]) for name in ("sir", "sar", "sdr_v3", "pesq", "pesq_imp"))
    assert max(row["sdr_imp"] for row in rows) > 3, "at -5 dB input SNR, silence 'improves' SDR"
    text = (silence / "scores.tsv").read_text()
    assert "\t-inf\t" in text and "\tnan\t" in text


def test_swapped_speakers_score_badly_unless_permutation_invariant(mixtures, decoded, tmp_path):
    mix_dir, _ = mixtures
    oracle = decoded["oracle"]
    key = next(iter(read_table(mix_dir / "wav.scp")))
    swapped_dir = tmp_path / "swapped"
    (swapped_dir / "wav").mkdir(parents=True)
    for j, other in ((1, 2), (2, 1), ("noise", "noise")):
        name = f"{key}_s{{}}.wav" if j != "noise" else f"{key}_{{}}.wav"
        shutil.copy(oracle / "wav" / name.format(other), swapped_dir / "wav" / name.format(j))
    expected = [r["sdr"] for r in read_scores(oracle / "scores.tsv") if r["key"] == key]
    table = MixtureDir.read(mix_dir)
    swapped = score_mixture(table, swapped_dir, key)
    assert all(row["sdr"] < sdr - 10 for row, sdr in zip(swapped, expected))
    invariant = score_mixture(table, swapped_dir, key, permutation_invariant=True)
    np.testing.assert_allclose([row["sdr"] for row in invariant], expected, atol=1e-3)
    assert [row["speaker"] for row in invariant] == [row["speaker"] for row in swapped]
    assert [(row["estimate"], row["permutation"]) for row in invariant] == [("2", "best"), ("1", "best")]
    oracle_rows = [r for r in read_scores(oracle / "scores.tsv") if r["key"] == key]
    for fixed, best, right in zip(swapped, invariant, oracle_rows):
        assert fixed["order_loss"] == pytest.approx(right["si_sdr"] - fixed["si_sdr"], abs=1e-3)
        assert fixed["order_loss"] > 10 and best["order_loss"] == right["order_loss"] == 0.0
        for name in BUDGET_COLUMNS[1:]:  # the shares are those of the right order, whatever was scored
            assert fixed[name] == pytest.approx(right[name], abs=1e-3) == best[name]


def test_error_budget_of_the_mixture_is_the_other_talker_and_the_noise_in_their_energies(mixtures, decoded):
    """The mixture as an estimate of speaker j errs by exactly the other talker plus the noise: no artifacts, and
    each share is that reference's energy over their sum's; silence has no error to split."""
    mix_dir, _ = mixtures
    rows = read_scores(decoded["mixture"] / "scores.tsv")
    table = MixtureDir.read(mix_dir)
    for index, row in enumerate(rows):  # sorted by key, the two speakers in order within a key
        j, key = index % 2, row["key"]
        other = read_wav(table.sources[1 - j][key])[0].astype(np.float64)
        noise = read_wav(table.noise[key])[0].astype(np.float64)
        other, noise = other - other.mean(), noise - noise.mean()
        error = np.sum((other + noise) ** 2)
        assert row["artifact_share"] < 0.5
        assert row["leakage_share"] == pytest.approx(100 * np.sum(other**2) / error, abs=1.0)
        assert row["noise_share"] == pytest.approx(100 * np.sum(noise**2) / error, abs=1.0)
        assert row["order_loss"] == 0.0
    shares = [(r["leakage_share"], r["noise_share"]) for r in rows]
    assert max(s[1] for s in shares) > 60 and max(s[0] for s in shares) > 60, "the -5 dB mixture is mostly noise"
    for row in read_scores(decoded["silence"] / "scores.tsv"):
        assert row["order_loss"] == 0.0 and all(math.isnan(row[name]) for name in BUDGET_COLUMNS[1:])


@pytest.mark.recipe
def test_score_sh_scores_several_systems_one_in_its_best_order(mixtures, decoded, tmp_path):
    mix_dir, _ = mixtures
    dirs = []
    for name in ("first", "second"):
        dirs.append(tmp_path / name / "decode_test")
        shutil.copytree(decoded["oracle"] / "wav", dirs[-1] / "wav")
        (dirs[-1] / ".done.decode").touch()
    command = (
        f". path.sh && steps/score.sh --nj 2 --log-dir {tmp_path}/log "
        f"--score-opts '--permutation-invariant {dirs[1]}' {mix_dir} {dirs[0]} {dirs[1]}"
    )
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == ["score.1.log", "score.2.log"]
    first, second = (read_scores(d / "scores.tsv") for d in dirs)
    assert {row["permutation"] for row in first} == {"fixed"} and {row["permutation"] for row in second} == {"best"}
    np.testing.assert_allclose([r["sdr"] for r in first], [r["sdr"] for r in second])
    rerun = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True)
    assert rerun.returncode == 0 and rerun.stderr.count("scores.tsv exists, skipping it") == 2


def test_missing_estimate_part_or_unknown_invariant_dir_is_an_error_naming_it(mixtures, decoded, tmp_path, caplog):
    mix_dir, _ = mixtures
    out = tmp_path / "partial"
    shutil.copytree(decoded["oracle"] / "wav", out / "wav")
    key = next(iter(read_table(mix_dir / "wav.scp")))
    (out / "wav" / f"{key}_noise.wav").unlink()
    with pytest.raises(SystemExit) as exit_info:
        run_main(score.build_parser, score.main, [str(mix_dir), str(out)])
    assert exit_info.value.code == 1
    assert f"{out / 'wav' / key}_noise.wav: estimate of mixture {key} does not exist" in caplog.text
    with pytest.raises(ValueError, match=r"split2/scores.1.tsv: scores of job 1 of 2 do not exist"):
        score.main(score.build_parser().parse_args([str(mix_dir), str(out), "--nj", "2", "--merge"]))
    with pytest.raises(ValueError, match=r"permutation-invariant dir\(s\) .*elsewhere.* are not among"):
        score.main(
            score.build_parser().parse_args(
                [str(mix_dir), str(out), "--permutation-invariant", str(tmp_path / "elsewhere")]
            )
        )


def test_nmf_decoding_uses_the_dictionaries_of_train_nmf_and_records_their_speaker_order(mixtures, tmp_path):
    mix_dir, feats = mixtures
    config = tmp_path / "nmf.yaml"
    config.write_text("rank: 4\ntrain_iterations: 10\nseparate_iterations: 10\n")
    speech_feats = feats.parents[1] / "dump_speech" / "feats.h5"
    run_main(
        train_nmf.build_parser, train_nmf.main, [str(speech_feats), str(tmp_path / "nmf_sd"), "--config", str(config)]
    )
    out = tmp_path / "nmf_sd" / "decode_test"
    run_main(
        decode.build_parser,
        decode.main,
        [str(feats), str(out), "--method", "nmf", "--nmf-dir", str(tmp_path / "nmf_sd")],
    )
    for key in read_table(mix_dir / "wav.scp"):
        mixture, _ = read_wav(read_table(mix_dir / "wav.scp")[key])
        estimates = [read_wav(path)[0] for path in output_paths(out, key, 2)]
        assert all(len(e) == len(mixture) for e in estimates)
        np.testing.assert_allclose(np.sum(estimates, axis=0), mixture, atol=1e-4)
    with pytest.raises(ValueError, match="--method nmf needs --nmf-dir"):
        decode.main(decode.build_parser().parse_args([str(feats), str(out), "--method", "nmf"]))
    assert read_speaker_order(out) == "fixed", "each speaker its own dictionary"
    run_main(
        train_nmf.build_parser,
        train_nmf.main,
        [str(speech_feats), str(tmp_path / "nmf_x"), "--config", str(config), "--speaker-independent"],
    )
    shared = tmp_path / "nmf_x" / "decode_test"
    run_main(
        decode.build_parser,
        decode.main,
        [str(feats), str(shared), "--method", "nmf", "--nmf-dir", str(tmp_path / "nmf_x")],
    )
    assert read_speaker_order(shared) == "none", "one dictionary for both speakers: their order is arbitrary"
