"""What every command-line entry point shares: logging of its command line, elapsed time and clear failures."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Callable, Sequence

from avvae.errors import AvvaeError, UsageError


def run_main(
    build_parser: Callable[[], argparse.ArgumentParser],
    body: Callable[[argparse.Namespace], None],
    argv: Sequence[str] | None = None,
) -> None:
    """Parse arguments, log the command line, run `body`, log the elapsed time.

    An AvvaeError (bad input: a data dir, config, audio, lips or model file, an option) ends the program with its
    message on one line and exit code 1 instead of a traceback, since the message already names what is at fault.
    Anything else, a ValueError from numpy or torch included, is a bug and keeps its traceback.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s", stream=sys.stderr
    )
    logging.info("%s", " ".join([sys.argv[0], *(sys.argv[1:] if argv is None else argv)]))
    start = time.time()
    try:
        body(args)
    except AvvaeError as error:
        logging.error("%s", error)
        sys.exit(1)
    logging.info("elapsed time %.1f s", time.time() - start)


def split_keys(keys: Sequence[str], num_jobs: int, job: int) -> list[str]:
    """Keys of job `job` (1-based) out of `num_jobs` contiguous, near-equal parts (like Kaldi's split_scp)."""
    if not 1 <= job <= num_jobs:
        raise UsageError(f"job {job} is outside 1..{num_jobs}")
    start = (job - 1) * len(keys) // num_jobs
    end = job * len(keys) // num_jobs
    return list(keys[start:end])
