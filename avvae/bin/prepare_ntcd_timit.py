"""Write the data dirs of NTCD-TIMIT (train_si, dev_si, train_sd, test, noise_train, noise_test) from the release.

Usage: python -m avvae.bin.prepare_ntcd_timit --config conf/corpus.yaml --nj 4 /path/to/NTCD-TIMIT corpus data
`--speaker_split release` takes the release's own train/dev/test split (its lip ROI folders) instead of the lists.
"""

from __future__ import annotations

import argparse
import logging

from avvae.cli import run_main
from avvae.config import load_config
from avvae.corpus_prep.ntcd_timit import SPEAKER_SPLITS, NtcdConfig, prepare_ntcd_timit


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db_root", help="the NTCD-TIMIT release's root folder")
    parser.add_argument("corpus_dir", help="where converted lips and derived noise go, e.g. corpus")
    parser.add_argument("data_dir", help="where the data dirs go, e.g. data")
    parser.add_argument("--config", required=True, help="corpus config, e.g. conf/corpus.yaml")
    parser.add_argument("--nj", type=int, default=1, help="parallel processes for the lips conversion")
    parser.add_argument(
        "--speaker_split",
        choices=SPEAKER_SPLITS,
        help="override the config's speaker_split: lists (conf/speakers_*.txt) or release",
    )
    return parser


def main(args: argparse.Namespace) -> None:
    overrides = {"speaker_split": args.speaker_split} if args.speaker_split else None
    config = load_config(args.config, NtcdConfig, overrides)
    for name, count in prepare_ntcd_timit(args.db_root, config, args.corpus_dir, args.data_dir, args.nj).items():
        logging.info("%s/%s: %d entries", args.data_dir, name, count)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
