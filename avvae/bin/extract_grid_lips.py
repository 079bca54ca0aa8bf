"""Lips (the mouth, 67x67 grayscale) and 16 kHz audio from GRID's videos, one job's share of the utterances.

Both come from the same .mpg (its frames and its own audio track), so lips and audio share one clock. With
--picture PATH instead, writes a PNG of a few speakers' crops for a person to check (no lips written).
Usage: python -m avvae.bin.extract_grid_lips --config conf/corpus.yaml --crops conf/crops.yaml --nj 4 --job 1 \
         /path/to/GRID corpus
       python -m avvae.bin.extract_grid_lips --config conf/corpus.yaml --crops conf/crops.yaml \
         --picture data/local/crops.png /path/to/GRID corpus
"""

from __future__ import annotations

import argparse
import logging

from avvae.cli import run_main
from avvae.config import load_config
from avvae.corpus_prep.grid import GridConfig, extract_media, write_crops_picture


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db_root", help="the GRID release's root folder")
    parser.add_argument("corpus_dir", help="where lips/<spk>/<utt>.npz and wav/<spk>/<utt>.wav go, e.g. corpus")
    parser.add_argument("--config", required=True, help="corpus config, e.g. conf/corpus.yaml")
    parser.add_argument("--crops", required=True, help="fixed mouth box per speaker, e.g. conf/crops.yaml")
    parser.add_argument("--nj", type=int, default=1, help="number of jobs the utterances are split into")
    parser.add_argument("--job", type=int, default=1, help="which job this is, 1..nj")
    parser.add_argument("--picture", help="write a PNG of a few speakers' crops here instead of the lips")
    return parser


def main(args: argparse.Namespace) -> None:
    config = load_config(args.config, GridConfig)
    if args.picture:
        logging.info(
            "%s: crops of a few speakers written", write_crops_picture(args.db_root, config, args.crops, args.picture)
        )
        return
    count = extract_media(args.db_root, config, args.crops, args.corpus_dir, args.nj, args.job)
    logging.info("%s: lips and audio of %d videos written by job %d/%d", args.corpus_dir, count, args.job, args.nj)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
