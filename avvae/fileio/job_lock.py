"""An exclusive lock per job output: a second run of the same job while the first is running (two dumps of one set
started at once) fails at its start, naming the folder and the running process, instead of deleting the first
one's partial file. The lock is an flock, so a killed job leaves no stale lock behind (its file stays, unlocked)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from avvae.errors import AvvaeError


class JobLockError(AvvaeError):
    """Another process is running the same job."""


@contextlib.contextmanager
def job_lock(output: str | Path, what: str) -> Iterator[None]:
    """Hold an exclusive lock on `<folder>/.<output name>.lock` (holding this process's pid) while the block runs;
    fail at once if another process holds it. `what` names the job in the message, e.g. "dump of this set"."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output.parent / f".{output.name}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise JobLockError(
                f"{output.parent}: another {what} is running (pid {holder}), writing {output.name}: wait for it to "
                "finish, or stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
