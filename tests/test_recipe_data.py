"""The recipe's data stages (1-3) on the tiny corpus: outputs, a rerun that does no work, resume after a kill."""

import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from avvae.datadir import validate_data_dir
from tests.recipe import copy_recipe, run_recipe

SETS = ("train_si", "dev_si", "train_sd", "test", "test_mix", "noise_train", "noise_test")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    recipe = copy_recipe(tmp_path_factory.mktemp("egs"))
    run_recipe(recipe, "--stop_stage", "3", "--nj", "2")
    return recipe


def snapshot(recipe):
    """Modification times of every output file (logs aside: each run appends to them)."""
    return {path: path.stat().st_mtime_ns for folder in ("corpus", "data", "dump")
            for path in (recipe / folder).rglob("*") if path.is_file() and "log" not in path.parts}


def test_stages_write_valid_data_dirs_and_features(recipe):
    for name in SETS:
        validate_data_dir(recipe / "data" / name, require_lips=not name.startswith("noise"))
        with h5py.File(recipe / "dump" / name / "feats.h5") as handle:
            keys = (recipe / "data" / name / "wav.scp").read_text().split("\n")
            assert sorted(handle) == sorted(line.split()[0] for line in keys if line)
            assert all(handle[key].attrs["complete"] for key in handle)
        assert (recipe / "dump" / name / ".done").is_file()
    assert (recipe / "dump" / "test_mix" / "log" / "dump.1.log").read_text().splitlines()[-1].startswith(
        "# Ended (code 0)")


def test_rerun_does_no_work(recipe):
    before = snapshot(recipe)
    log = run_recipe(recipe, "--stop_stage", "3", "--nj", "2").stdout
    assert snapshot(recipe) == before
    assert log.count("is complete, skipping") == len(SETS) + 1, "every dump and the mixtures"
    assert "nothing to do" in log and "data dirs are up to date" in log


def test_killed_dump_stage_resumes_to_the_same_features(recipe, tmp_path):
    target = recipe / "dump" / "test_mix"
    reference = tmp_path / "reference.h5"
    (target / "feats.h5").rename(reference)
    (target / ".done").unlink()
    process = subprocess.Popen(["./run.sh", "--local_data_opts", "--size tiny", "--stage", "3", "--stop_stage", "3",
                                "--nj", "1"], cwd=recipe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    partial = target / "split1" / "feats.1.h5.partial"
    deadline = time.time() + 120
    while process.poll() is None and time.time() < deadline:
        try:
            with h5py.File(partial, "r", locking=False) as handle:
                if sum(bool(group.attrs.get("complete")) for group in handle.values()) >= 2:
                    break
        except OSError:  # not there yet, or caught mid-write
            pass
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (target / "feats.h5").exists() and not (target / ".done").exists()

    log = run_recipe(recipe, "--stage", "3", "--stop_stage", "3", "--nj", "1").stdout
    assert "already there" in (target / "log" / "dump.1.log").read_text()
    with h5py.File(target / "feats.h5") as resumed, h5py.File(reference) as original:
        assert sorted(resumed) == sorted(original)
        for key in original:
            for name in original[key]:
                np.testing.assert_array_equal(resumed[key][name][()], original[key][name][()])
    assert "Successfully finished" in log
