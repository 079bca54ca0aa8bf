"""Writes that fail for want of space, in words: the file, why, and what is kept for a rerun, instead of a library's
traceback (torch says only `enforce fail at inline_container.cc`, HDF5 `Can't decrement id ref count`)."""

from __future__ import annotations

import contextlib
import errno
import shutil
from pathlib import Path
from typing import Iterator

from avvae.errors import AvvaeError

MIN_FREE = 2**20  # bytes: below this, a failed write is put down to a full disk, and a write is not begun


class DiskFullError(AvvaeError):
    """A write failed, or would fail, for want of space: the message names the file and what is kept."""


def _chain(error: BaseException) -> list[BaseException]:
    """`error` and the exceptions it was raised from or while handling."""
    chain: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    return chain


def _refused_for(error: BaseException, code: int) -> bool:
    """Whether `error` carries the errno `code`, as an errno or in HDF5's words (`errno = 28,`)."""
    return getattr(error, "errno", None) == code or f"errno = {code}," in str(error)


def no_space(error: BaseException) -> BaseException | None:
    """The first exception of the chain of `error` that is a write refused for want of space (ENOSPC: the disk is
    full; EDQUOT: the user's disk quota is), or None."""
    return next(
        (cause for cause in _chain(error) if _refused_for(cause, errno.ENOSPC) or _refused_for(cause, errno.EDQUOT)),
        None,
    )


def write_failure(path: Path, error: BaseException) -> str:
    """Why writing `path` failed, in words: the disk quota is exceeded (EDQUOT in the chain), the disk is full
    (ENOSPC in the chain, or under MIN_FREE left) or the write was refused, with the free space and the library's
    own message."""
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    if not path.parent.is_dir():
        return f"cannot write the file ({message})"
    free = shutil.disk_usage(path.parent).free
    cause = no_space(error)
    if cause is not None and _refused_for(cause, errno.EDQUOT):
        reason = "the disk quota is exceeded"
    elif free < MIN_FREE or cause is not None:
        reason = "the disk is full"
    else:
        reason = "the write failed (disk full, quota or file size limit?)"
    return f"cannot write the file: {reason}; {free / 2**20:.1f} MiB free in {path.parent} ({message})"


@contextlib.contextmanager
def naming_full_disk(path: str | Path, kept: str) -> Iterator[None]:
    """Turn a write inside the block that fails for want of space into a DiskFullError naming `path`, why, and
    `kept`: what is kept for a rerun."""
    try:
        yield
    except (OSError, RuntimeError) as error:
        own = next((cause for cause in _chain(error) if isinstance(cause, DiskFullError)), None)
        if own is not None:  # refused before writing, then closing the file failed too: the refusal says why
            raise own from None
        cause = no_space(error)  # the failed write, not the error that closing its HDF5 file raised after it
        if cause is None:
            raise
        raise DiskFullError(f"{path}: {write_failure(Path(path), cause)}; {kept}") from error


def require_space(path: Path, needed: int, what: str, kept: str) -> None:
    """Refuse to begin writing about `needed` bytes of `what` into `path` when its disk has not that much (and
    MIN_FREE) free: a file that a write fails in midway may be left unreadable (HDF5), so it is not begun."""
    free = shutil.disk_usage(path.parent).free
    if free < needed + MIN_FREE:
        raise DiskFullError(
            f"{path}: cannot write {what} (about {needed / 2**20:.1f} MiB): the disk is full; "
            f"{free / 2**20:.1f} MiB free in {path.parent}; {kept}"
        )
