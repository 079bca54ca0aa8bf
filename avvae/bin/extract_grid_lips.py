"""Crop GRID's videos to the mouth, 67x67 grayscale, into lips .npz files (one job's share of the utterances).

Usage: python -m avvae.bin.extract_grid_lips --config conf/corpus.yaml --crops conf/crops.yaml --nj 4 --job 1 \
         /path/to/GRID corpus/lips
"""

from __future__ import annotations

import argparse
import logging

from avvae.cli import run_main
from avvae.config import load_config
from avvae.corpus_prep.grid import GridConfig, extract_lips


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db_root", help="the GRID release's root folder")
    parser.add_argument("lips_dir", help="where <spk>/<utt>.npz go, e.g. corpus/lips")
    parser.add_argument("--config", required=True, help="corpus config, e.g. conf/corpus.yaml")
    parser.add_argument("--crops", required=True, help="mouth box per speaker, e.g. conf/crops.yaml")
    parser.add_argument("--nj", type=int, default=1, help="number of jobs the utterances are split into")
    parser.add_argument("--job", type=int, default=1, help="which job this is, 1..nj")
    return parser


def main(args: argparse.Namespace) -> None:
    config = load_config(args.config, GridConfig)
    count = extract_lips(args.db_root, config, args.crops, args.lips_dir, args.nj, args.job)
    logging.info("%s: %d lips files written by job %d/%d", args.lips_dir, count, args.job, args.nj)


if __name__ == "__main__":
    run_main(build_parser, main)
