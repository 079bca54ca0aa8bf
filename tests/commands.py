"""Running the commands a user runs, from tests: the error an entry point stops with, and a job killed midway."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, TypeVar

import h5py
import pytest

from avvae.cli import run_main

T = TypeVar("T")


def failure(caplog, build_parser, main, argv: list[str]) -> str:
    """The error a command logs before it exits with status 1."""
    caplog.clear()
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as stop:
        run_main(build_parser, main, argv)
    assert stop.value.code == 1
    return caplog.records[-1].getMessage()


def kill_when(
    command: list[str], cwd: Path, ready: Callable[[], T | None], env: dict | None = None, seconds: float = 120
) -> T | None:
    """Start `command` in a process group of its own and SIGKILL its whole process group as soon as `ready()` returns
    something (the work in progress), which is returned; None if the command ended first (or `seconds` passed: it
    is killed then too)."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + seconds
    found = None
    try:
        while found is None and process.poll() is None and time.time() < deadline:
            found = ready()
            if found is None:
                time.sleep(0.01)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return found


def complete_utterances(partial: Path) -> int:
    """How many utterances a partial dump holds complete (0 while it is missing or caught mid-write: HDF5 then
    reports a missing object (KeyError), an unreadable file (OSError) or a link past the file's end (RuntimeError,
    "addr overflow"))."""
    try:
        with h5py.File(partial, "r", locking=False) as handle:
            groups = [handle.get(key) for key in handle]  # None for a group whose link is written, not yet its object
            return sum(group is not None and bool(group.attrs.get("complete")) for group in groups)
    except (OSError, KeyError, RuntimeError):
        return 0


def kill_once_an_utterance_is_complete(command: list[str], cwd: Path, partial: Path, env: dict | None = None) -> bool:
    """Start `command` and SIGKILL its process group once the dump file `partial` holds a complete utterance;
    False if the command ended before."""
    return kill_when(command, cwd, lambda: complete_utterances(partial) > 0 or None, env) is not None
