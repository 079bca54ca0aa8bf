"""Dump one job's share of a data dir to HDF5 features (STFT, power, lips at the STFT rate).

With --nj N --job J the job writes <dump_dir>/split<N>/feats.<J>.h5; `merge_features` joins the parts.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avvae.cli import run_main, split_keys
from avvae.config import load_config
from avvae.fileio.datadir import read_table
from avvae.fileio.job_lock import job_lock


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data_dir")
    parser.add_argument("dump_dir")
    parser.add_argument("--config", required=True, help="feature config, e.g. conf/feats.yaml")
    parser.add_argument("--nj", type=int, default=1, help="number of jobs the keys are split into")
    parser.add_argument("--job", type=int, default=1, help="which job this is, 1..nj")
    return parser


def main(args: argparse.Namespace) -> None:
    output = Path(args.dump_dir) / f"split{args.nj}" / f"feats.{args.job}.h5"
    if output.exists():  # the job's part is complete (dump_features renames it last): nothing to do
        logging.info("%s exists, nothing to do", output)
        return
    # lazy: avvae.features imports torch (the STFT), seconds of start-up that a finished job need not pay
    from avvae.features import FeatureConfig, dump_features

    config = load_config(args.config, FeatureConfig)
    keys = split_keys(list(read_table(Path(args.data_dir) / "wav.scp")), args.nj, args.job)
    with job_lock(output, "dump of this set"):
        dump_features(args.data_dir, output, config, keys)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
