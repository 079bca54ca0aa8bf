"""Check a Kaldi-style data dir (speech or mixture) like Kaldi's validate_data_dir.sh."""

from __future__ import annotations

import argparse
import logging

from avvae.cli import run_main
from avvae.fileio.datadir import validate_data_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data_dir", help="e.g. data/train_si or data/test_mix")
    parser.add_argument("--sample-rate", type=int, default=16000, help="expected sample rate of every wav")
    parser.add_argument("--lips-tolerance", type=float, default=0.1, help="allowed |lips - audio| duration, s")
    parser.add_argument("--no-lips", action="store_true", help="accept a dir without lips.scp (noise sets)")
    return parser


def main(args: argparse.Namespace) -> None:
    count = validate_data_dir(args.data_dir, args.sample_rate, args.lips_tolerance, require_lips=not args.no_lips)
    logging.info("%s: valid, %d utterances", args.data_dir, count)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
