"""Two dumps of one set at once: the second fails at its start, naming the folder and the first one's pid, and
leaves the first one's partial file alone; once the first has ended, a dump runs (no stale lock)."""

import logging
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from avvae.bin import dump_features
from avvae.cli import run_main
from tests.datadirs import make_speech_dir

ROOT = Path(__file__).resolve().parents[1]
HOLD = """
import sys
from avvae.fileio.job_lock import job_lock
with job_lock(sys.argv[1], "dump of this set"):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_a_second_dump_of_the_same_job_fails_clearly_and_spares_the_partial_file(tmp_path, caplog):
    data = make_speech_dir(tmp_path, speakers=2, utts=1)
    config = tmp_path / "feats.yaml"
    config.write_text("hop_length: 256\n")
    dump = tmp_path / "dump"
    output = dump / "split2" / "feats.1.h5"
    argv = [str(data), str(dump), "--config", str(config), "--nj", "2", "--job", "1"]
    output.parent.mkdir(parents=True)
    with h5py.File(output.with_name("feats.1.h5.partial"), "w") as partial:  # what the running dump wrote so far
        partial.create_group("spk0_000").attrs["complete"] = True
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(output)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert first.stdout.readline() == "locked\n"
        with caplog.at_level(logging.ERROR), pytest.raises(SystemExit):
            run_main(dump_features.build_parser, dump_features.main, argv)
        assert (
            caplog.records[-1]
            .getMessage()
            .startswith(f"{output.parent}: another dump of this set is running (pid {first.pid}), writing feats.1.h5")
        )
        with h5py.File(output.with_name("feats.1.h5.partial"), "r") as partial:
            assert list(partial) == ["spk0_000"]
        assert not output.exists()
        # the other job of the set is not held up
        run_main(dump_features.build_parser, dump_features.main, [*argv[:-1], "2"])
    finally:
        first.communicate("")
    output.with_name("feats.1.h5.partial").unlink()  # this test's stand-in, not a real partial dump
    run_main(dump_features.build_parser, dump_features.main, argv)
    with h5py.File(output, "r") as handle:
        assert list(handle) == ["spk0_000"]
    assert (dump / "split2" / "feats.2.h5").is_file()
