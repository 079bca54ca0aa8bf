"""Write the data dirs of GRID (train_si, dev_si, train_sd, test, noise_train, noise_test) from the release.

The lips and the 16 kHz audio must be there first (avvae.bin.extract_grid_lips); `text` comes from the ids.
Usage: python -m avvae.bin.prepare_grid --config conf/corpus.yaml [--noise-root NOISE] /path/to/GRID corpus data
"""

from __future__ import annotations

import argparse
import logging

from avvae.cli import run_main
from avvae.config import load_config
from avvae.corpus_prep.grid import GridConfig, prepare_grid


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db_root", help="the GRID release's root folder")
    parser.add_argument("corpus_dir", help="holds lips/ and wav/ (from extract_grid_lips)")
    parser.add_argument("data_dir", help="where the data dirs go, e.g. data")
    parser.add_argument("--config", required=True, help="corpus config, e.g. conf/corpus.yaml")
    parser.add_argument(
        "--noise-root",
        help="noise folder: <root>/{train,test}/<type>/<name>.wav (not needed with "
        "`noise: generated` in the corpus config)",
    )
    return parser


def main(args: argparse.Namespace) -> None:
    config = load_config(args.config, GridConfig)
    counts = prepare_grid(args.db_root, config, args.noise_root, args.corpus_dir, args.data_dir)
    for name, count in counts.items():
        logging.info("%s/%s: %d entries", args.data_dir, name, count)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
