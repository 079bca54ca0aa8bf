"""Export a feats.h5 to Kaldi ark/scp (power [N, F]; lips [N, H*W] in [0, 1]), or import such scps back."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avvae.cli import run_main
from avvae.fileio.kaldi_interop import EXPORTABLE, export_to_kaldi, write_imported_features


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("feats_h5", help="dump/<set>/feats.h5 (written by --import, read otherwise)")
    parser.add_argument("kaldi_dir", help="folder of <name>.ark/.scp")
    parser.add_argument("--names", nargs="+", default=list(EXPORTABLE), choices=EXPORTABLE)
    parser.add_argument("--import", dest="import_", action="store_true", help="build feats_h5 from kaldi_dir")
    return parser


def main(args: argparse.Namespace) -> None:
    kaldi_dir = Path(args.kaldi_dir)
    if args.import_:
        lips = kaldi_dir / "lips.scp"
        count = write_imported_features(
            kaldi_dir / "power.scp",
            lips if lips.is_file() else None,
            args.feats_h5,
            {"kind": "speech", "imported_from": str(kaldi_dir)},
        )
        logging.info("%s: %d utterances imported", args.feats_h5, count)
    else:
        for name, scp in export_to_kaldi(args.feats_h5, kaldi_dir, tuple(args.names)).items():
            logging.info("%s -> %s", name, scp)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
