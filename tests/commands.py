"""Running the commands a user runs, from tests: the error an entry point stops with, and a job killed midway."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path

import h5py
import pytest

from avvae.cli import run_main


def failure(caplog, build_parser, main, argv: list[str]) -> str:
    """The error a command logs before it exits with status 1."""
    caplog.clear()
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as stop:
        run_main(build_parser, main, argv)
    assert stop.value.code == 1
    return caplog.records[-1].getMessage()


def kill_once_an_utterance_is_complete(command: list[str], cwd: Path, partial: Path, env: dict | None = None) -> bool:
    """Start `command` and SIGKILL its process group once the dump file `partial` holds a complete utterance;
    False if the command ended before."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 120
    while process.poll() is None and time.time() < deadline:
        try:
            with h5py.File(partial, "r", locking=False) as handle:
                if any(group.attrs.get("complete") for group in handle.values()):
                    break
        except OSError:  # not there yet, or caught mid-write
            pass
        time.sleep(0.01)
    if process.poll() is not None:
        return False
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return True
