"""The mini_av recipe on the tiny corpus with two-epoch configs, stage by stage: outputs, reruns that do no work,
resume after a kill in stages 3, 4, 5 and 7, the values of the scores and RESULTS.md at the end, all on conftest's
`shared_run` (the stage 1-3 tests change its outputs, so they too wait for the run to end)."""

import os

import h5py
import numpy as np
import pytest

from avvae.fileio.audio import read_wav
from avvae.fileio.datadir import read_table, validate_data_dir
from tests.commands import kill_once_an_utterance_is_complete
from tests.recipe import KILL_STAGES, MODELS, TINY_RUN, recipe_env, run_recipe
from tests.training_data import history_rows

pytestmark = pytest.mark.recipe

SETS = ("train_si", "dev_si", "train_sd", "test", "test_mix", "test_unseen_mix", "noise_train", "noise_test")
SYSTEMS = (
    "mixture",
    "silence",
    "oracle",
    "nmf_sd",
    "nmf_si",
    "avae_si",
    "avvae_si",
    "avvae_sd",
    "supervised",
    "oracle_latent_avvae_si",
    "oracle_latent_avvae_sd",
)
# The systems whose outputs are a separation of the mixture (not a reference that repeats or removes it)
SEPARATING = (
    "oracle",
    "nmf_sd",
    "nmf_si",
    "avae_si",
    "avvae_si",
    "avvae_sd",
    "supervised",
    "oracle_latent_avvae_si",
    "oracle_latent_avvae_sd",
)


def snapshot(recipe):
    """Modification times of every output file (logs aside: each run appends to them)."""
    return {
        path: path.stat().st_mtime_ns
        for folder in ("corpus", "data", "dump")
        for path in (recipe / folder).rglob("*")
        if path.is_file() and "log" not in path.parts
    }


@pytest.fixture
def recipe(shared_run):
    return shared_run.path


def test_stages_write_valid_data_dirs_and_features(recipe):
    for name in SETS:
        validate_data_dir(recipe / "data" / name, require_lips=not name.startswith("noise"))
        with h5py.File(recipe / "dump" / name / "feats.h5") as handle:
            keys = (recipe / "data" / name / "wav.scp").read_text().split("\n")
            assert sorted(handle) == sorted(line.split()[0] for line in keys if line)
            assert all(handle[key].attrs["complete"] for key in handle)
        assert (recipe / "dump" / name / ".done").is_file()
    assert (
        (recipe / "dump" / "test_mix" / "log" / "dump.1.log")
        .read_text()
        .splitlines()[-1]
        .startswith("# Ended (code 0)")
    )


def test_rerun_does_no_work(recipe):
    before = snapshot(recipe)
    log = run_recipe(recipe, "--stop_stage", "3", "--nj", "2").stdout
    assert snapshot(recipe) == before
    assert log.count("is complete, skipping") == len(SETS) + 2, "every dump and both mixture sets"
    assert "nothing to do" in log and "data dirs are up to date" in log


def kill_dump_midway(recipe, target) -> bool:
    """Start stage 3 and SIGKILL it once its job has written a complete utterance; False if it ended first."""
    command = [*TINY_RUN, "--stage", "3", "--stop_stage", "3", "--nj", "1"]
    return kill_once_an_utterance_is_complete(command, recipe, target / "split1" / "feats.1.h5.partial", recipe_env())


def test_killed_dump_stage_resumes_to_the_same_features(recipe, tmp_path):
    target = recipe / "dump" / "train_si"  # the largest set of the tiny corpus: time to kill it midway
    reference = tmp_path / "reference.h5"
    (target / "feats.h5").rename(reference)
    for _ in range(3):  # a fast machine may finish the 10 utterances between two looks: start again
        (target / ".done").unlink(missing_ok=True)
        (target / "feats.h5").unlink(missing_ok=True)
        if kill_dump_midway(recipe, target):
            break
    else:
        pytest.fail("the dump always ended before it could be killed")
    assert not (target / "feats.h5").exists() and not (target / ".done").exists()

    log = run_recipe(recipe, "--stage", "3", "--stop_stage", "3", "--nj", "1").stdout
    computed, kept = dump_counts((target / "log" / "dump.1.log").read_text())
    assert kept >= 1 and computed >= 1 and computed + kept == len(read_table(recipe / "data" / "train_si" / "wav.scp"))
    with h5py.File(target / "feats.h5") as resumed, h5py.File(reference) as original:
        assert sorted(resumed) == sorted(original)
        for key in original:
            for name in original[key]:
                np.testing.assert_array_equal(resumed[key][name][()], original[key][name][()])
    assert "Successfully finished" in log
    os.replace(reference, target / "feats.h5")  # the file the shared run's trainings were made from (provenance)


def dump_counts(log: str) -> tuple[int, int]:
    """(computed, already there) of a dump job's log line "<file>: N utterances computed, M already there"."""
    line = next(line for line in log.splitlines() if "utterances computed" in line)
    words = line.split(": ")[-1].split()
    return int(words[0]), int(words[3])


def exp_snapshot(recipe):
    """Every output file of exp/ and its mtime; logs (log/ folders, the stage-time log) are appended on every run."""
    return {
        path: path.stat().st_mtime_ns
        for path in (recipe / "exp").rglob("*")
        if path.is_file() and "log" not in path.parts and path.name != "stage_times.tsv"
    }


def _column(scores, name):
    rows = [line.split("\t") for line in scores.read_text().splitlines()]
    return np.array([float(row[rows[0].index(name)]) for row in rows[1:]])


def _rows(scores) -> list[dict[str, str]]:
    lines = [line.split("\t") for line in scores.read_text().splitlines()]
    return [dict(zip(lines[0], line)) for line in lines[1:]]


def _cells(results: str, table: str, label: str) -> list[float]:
    """The numbers (means) of one row of one RESULTS.md table; a cell without one reads nan."""
    section = results.split(f"## {table}\n")[1].split("\n## ")[0]
    row = next(line for line in section.splitlines() if line.startswith(f"| {label} |"))
    return [
        float(cell.split()[0]) if cell.split() and cell.split()[0] not in ("–", "-") else float("nan")
        for cell in row.split("|")[2:-1]
    ]


def test_training_separation_and_scoring_end_in_results(shared_run):
    recipe, log = shared_run.path, shared_run.log
    speakers = [line.split()[0] for line in (recipe / "data" / "train_sd" / "spk2utt").read_text().splitlines()]
    for model in ("avae", "avvae"):
        assert (recipe / "exp" / f"{model}_si" / "model.pt").is_file()
        assert (recipe / "exp" / f"{model}_si" / "loss.png").is_file()
    assert all((recipe / "exp" / "avvae_sd" / spk / "model.pt").is_file() for spk in speakers)
    for system in SYSTEMS:
        for mix_set, count in (("test_mix", 3), ("test_unseen_mix", 2)):
            decode = recipe / "exp" / system / f"decode_{mix_set}"
            assert len(list((decode / "wav").glob("*.wav"))) == 3 * count
            assert len((decode / "scores.tsv").read_text().splitlines()) == 1 + 2 * count
    results = (recipe / "RESULTS.md").read_text()
    for label in (
        "Mixture (unprocessed)",
        "Silence (all-zero output)",
        "Oracle IRM",
        "NMF † (SI)",
        "A-VAE + MCEM †",
        "AV-VAE + MCEM",
        "Supervised AV",
        "AV-VAE oracle latent",
    ):
        assert f"| {label} |" in results
    assert (recipe / "exp" / "avvae_si" / "decoder" / "model.pt").is_file(), "two-stage: the decoder part"
    assert (recipe / "exp" / "avvae_si" / "diagnostics.yaml").is_file()
    oracle = _column(recipe / "exp" / "oracle" / "decode_test_mix" / "scores.tsv", "si_sdr_imp")
    assert np.isfinite(oracle).all() and oracle.mean() > 5.0, "the ideal ratio mask must beat the mixture by far"
    for system in ("avae_si", "avvae_si", "avvae_sd", "oracle_latent_avvae_si"):
        assert np.isfinite(_column(recipe / "exp" / system / "decode_test_mix" / "scores.tsv", "si_sdr")).all()
    assert "unseen babble -10 dB" in results
    assert (recipe / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert "Successfully finished" in log


@pytest.mark.parametrize("mix_set", ["test_mix", "test_unseen_mix"])
def test_scores_are_finite_and_the_oracle_beats_the_mixture_in_every_row(shared_run, mix_set):
    recipe = shared_run.path
    mixture = _rows(recipe / "exp" / "mixture" / f"decode_{mix_set}" / "scores.tsv")
    for system in SYSTEMS:
        for row in _rows(recipe / "exp" / system / f"decode_{mix_set}" / "scores.tsv"):
            names = (
                ("sdr", "stoi", "sdr_imp", "stoi_imp")
                if system == "silence"
                else ("si_sdr", "sdr", "sir", "sar", "stoi", "sdr_v3", "si_sdr_imp", "stoi_imp")
            )
            assert all(np.isfinite(float(row[name])) for name in names), (system, row)
    oracle = _rows(recipe / "exp" / "oracle" / f"decode_{mix_set}" / "scores.tsv")
    for ours, theirs in zip(oracle, mixture):
        assert ours["key"] == theirs["key"] and ours["speaker"] == theirs["speaker"]
        assert float(ours["si_sdr"]) > float(theirs["si_sdr"]) + 3.0 and float(ours["stoi"]) > float(theirs["stoi"])


def test_results_cells_are_numbers_and_the_oracle_leads(shared_run):
    results = (shared_run.path / "RESULTS.md").read_text()
    rows = {
        label: _cells(results, "SI-SDR improvement (dB)", label)
        for label in ("Mixture (unprocessed)", "Oracle IRM", "NMF † (SI)", "AV-VAE + MCEM", "AV-VAE oracle latent")
    }
    assert all(len(cells) == 10 and np.isfinite(cells).all() for cells in rows.values()), rows  # SI and SD columns
    assert np.all(np.array(rows["Mixture (unprocessed)"]) == 0.0)
    assert np.all(np.array(rows["Oracle IRM"]) > 3.0)
    for label in ("A-VAE + MCEM †", "Supervised AV"):  # trained SI only here: the SI columns
        cells = _cells(results, "SI-SDR improvement (dB)", label)
        assert np.isfinite(cells[:5]).all() and np.isnan(cells[5:]).all(), (label, cells)


@pytest.mark.parametrize("system", SEPARATING)
def test_outputs_add_up_to_the_mixture(shared_run, system):
    """Every separating system shares the mixture out (Wiener filters, masks that sum to one): speakers + noise."""
    recipe = shared_run.path
    for mix_set in ("test_mix", "test_unseen_mix"):
        decode = recipe / "exp" / system / f"decode_{mix_set}" / "wav"
        for key, path in read_table(recipe / "data" / mix_set / "wav.scp").items():
            mixture, _ = read_wav(path)
            parts = [read_wav(decode / f"{key}_{part}.wav")[0] for part in ("s1", "s2", "noise")]
            np.testing.assert_allclose(sum(parts), mixture, atol=2e-3 * np.abs(mixture).max(), err_msg=key)
            for speech in parts[:2]:  # neither the mixture itself nor silence
                share = np.sum(speech**2) / np.sum(mixture**2)
                assert 1e-4 < share < 0.99, (system, key, share)


def test_killed_training_resumes_from_its_checkpoint(shared_run):
    """Killed in stage 4 (SI) and in stage 5 (SD): the rerun continued the killed training, whose epochs before the
    kill kept their history rows (wall times included: a training redone from scratch would rewrite them)."""
    assert sorted(shared_run.killed) == list(KILL_STAGES)
    for stage in (4, 5):
        killed = shared_run.killed[stage]
        assert killed.rows, f"stage {stage} was killed before its first epoch"
        final = history_rows(killed.folder)
        assert final[: len(killed.rows)] == killed.rows and len(final) > len(killed.rows), stage
        assert (killed.folder / ".done").is_file()
        logs = killed.folder.parent if killed.folder.name == "decoder" else killed.folder  # a part's log: its model's
        assert (
            f"resuming {killed.folder.relative_to(shared_run.path)} after epoch {len(killed.rows)}"
            in (logs / "log" / "train.log").read_text()
        )
    assert shared_run.killed[4].folder == shared_run.path / "exp" / "avae_si"


def test_killed_separation_keeps_the_mixtures_it_finished(shared_run):
    killed = shared_run.killed[7]
    assert killed.wavs, "stage 7 was killed before a mixture was separated"
    finished = len(killed.wavs) // 3
    assert {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in killed.wavs} == killed.wavs
    total = len(list((killed.folder / "wav").glob("*_noise.wav")))
    assert (
        f"{total - finished} mixtures separated, {finished} already there"
        in (killed.folder / "log" / "decode.1.log").read_text()
    )


def test_rerun_of_training_and_decoding_does_no_work(shared_run):
    recipe = shared_run.path
    before = exp_snapshot(recipe)
    log = run_recipe(recipe, "--stage", "4", "--stop_stage", "8", "--nj", "1", *MODELS).stdout
    assert exp_snapshot(recipe) == before
    assert log.count("is complete, skipping") == 2 + 1 + 3 + 2, "SI, supervised and SD models, NMF dictionaries"
    assert log.count("is separated, skipping") == log.count("scores.tsv exists, skipping") == 2 * len(SYSTEMS)


def test_a_killed_decoding_resumes_with_only_the_missing_mixtures(shared_run):
    recipe = shared_run.path
    decode = recipe / "exp" / "avvae_sd" / "decode_test_mix"
    kept = {path: path.read_bytes() for path in (decode / "wav").glob("*.wav")}
    removed = sorted(decode.glob("wav/*_s1.wav"))[0]
    removed.unlink()
    (decode / ".done.decode").unlink()
    (decode / "scores.tsv").unlink()
    run_recipe(recipe, "--stage", "7", "--stop_stage", "8", "--nj", "1", *MODELS)
    assert "1 mixtures separated, 2 already there" in (decode / "log" / "decode.1.log").read_text()
    assert {path: path.read_bytes() for path in (decode / "wav").glob("*.wav")} == kept
    assert len((decode / "scores.tsv").read_text().splitlines()) == 1 + 2 * 3
