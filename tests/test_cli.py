"""How a command ends when something goes wrong (avvae.cli.run_main): bad input, an AvvaeError, in one line that
names the file and exit status 1; any other exception, a ValueError from numpy included, with its traceback, since
it is a bug and the traceback is what finds it."""

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import avvae
from avvae.errors import AvvaeError

ROOT = Path(__file__).resolve().parents[1]


def python(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )


def errors_logged(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " ERROR: " in line]


def test_a_bad_config_is_one_line_naming_the_file(tmp_path):
    """A config dataclass's own check (a speaker group of three for two speakers per mixture) as before: one ERROR
    line that names the file, exit status 1, no traceback."""
    (tmp_path / "mix.yaml").write_text("num_speakers: 2\nspeaker_groups: [[a, b, c]]\n")
    result = python(
        ["-m", "avvae.bin.make_mixtures", "--config", "mix.yaml", "speech", "noise", "mix", "audio"], tmp_path
    )
    assert result.returncode == 1
    assert [line.split(" ERROR: ", 1)[1] for line in errors_logged(result.stderr)] == [
        "mix.yaml: speaker_groups: ['a', 'b', 'c'] has 3 speakers, num_speakers is 2"
    ]
    assert "Traceback" not in result.stderr


def test_an_internal_value_error_keeps_its_traceback(tmp_path):
    """numpy's own ValueError inside a command (make_mixtures' work replaced by a failing reshape) is a bug: its
    traceback is printed, not a one-line message that would pass for bad input."""
    (tmp_path / "mix.yaml").write_text("{}\n")
    code = """if True:
        import numpy as np
        from avvae.bin import make_mixtures

        make_mixtures.make_mixtures = lambda *args: np.zeros(2).reshape(3)
        make_mixtures.cli()
    """
    result = python(["-c", code, "--config", "mix.yaml", "speech", "noise", "mix", "audio"], tmp_path)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "ValueError: cannot reshape array of size 2 into shape (3,)" in result.stderr
    assert errors_logged(result.stderr) == []


def test_every_error_type_of_the_package_is_an_avvae_error():
    """So that run_main reports each as bad input; and a ValueError, for callers that catch that."""
    found = {}
    for module in pkgutil.walk_packages(avvae.__path__, "avvae."):
        for name, value in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(value, Exception) and value.__module__.startswith("avvae."):
                found[name] = value
    assert {"ConfigError", "DataDirError", "ModelFileError", "UsageError", "InputFileError"} <= set(found)
    assert [name for name, error in sorted(found.items()) if not issubclass(error, AvvaeError)] == []
    assert issubclass(AvvaeError, ValueError)
