"""Write a recipe's TIMING.md from its stage-time log (exp/stage_times.tsv, appended by utils/stage_times.sh):
per stage the wall and CPU time of its latest and its longest run, then every run."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avvae.cli import run_main
from avvae.errors import InputFileError
from avvae.evaluation.timing import write_timing


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "stage_times",
        nargs="?",
        default="exp/stage_times.tsv",
        help="the stage-time log (default: exp/stage_times.tsv)",
    )
    parser.add_argument("--out", default="TIMING.md", help="where the table goes (default: TIMING.md)")
    parser.add_argument("--title", help="title (default: the name of the current folder, i.e. the corpus)")
    return parser


def main(args: argparse.Namespace) -> None:
    if not Path(args.stage_times).is_file():
        raise InputFileError(f"{args.stage_times}: no stage-time log (the recipe writes it as its stages run)")
    count = write_timing(args.stage_times, args.out, args.title or Path.cwd().name)
    logging.info("%s: %d stage runs", args.out, count)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
