"""Export the model of a training checkpoint as a model file that decoding reads.

Training keeps the best dev epoch as <exp>/model.pt; this takes the model of <exp>/checkpoint.pt instead (the last
epoch trained), or of any checkpoint, for a VAE or the supervised network alike:

  python -m avvae.bin.export_model exp/avvae_si/checkpoint.pt exp/avvae_si_last/model.pt
"""

from __future__ import annotations

import argparse
import logging

from avvae.cli import run_main
from avvae.models.files import CHECKPOINT_FORMAT, load_file, save_file


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a training checkpoint, e.g. exp/avvae_si/checkpoint.pt")
    parser.add_argument("model", help="the model file to write, e.g. exp/avvae_si_last/model.pt")
    return parser


def main(args: argparse.Namespace) -> None:
    checkpoint = load_file(args.checkpoint, CHECKPOINT_FORMAT)
    save_file(checkpoint["model"], args.model)
    logging.info("%s: the model of epoch %d (%s)", args.model, checkpoint["epoch"], checkpoint["model"]["format"])


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
