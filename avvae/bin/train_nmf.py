"""Learn IS-NMF speech dictionaries from the clean power spectrograms of a speech feats.h5.

SD (default): one dictionary per speaker (--speakers, default every speaker of the file), e.g. from
dump/train_sd into exp/nmf_sd. SI (--speaker-independent): one dictionary over all utterances, e.g. from
dump/train_si into exp/nmf_si. Writes <out_dir>/dictionaries.npz (atomically; skipped when present) and a copy
of the config as <out_dir>/nmf.yaml, which decoding uses.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avvae.cli import run_main
from avvae.config import load_config, save_config
from avvae.separation.nmf import NmfConfig, learn_dictionaries, save_dictionaries


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("feats", help="speech features, e.g. dump/train_sd/feats.h5")
    parser.add_argument("out_dir", help="e.g. exp/nmf_sd")
    parser.add_argument("--config", required=True, help="NMF config, e.g. conf/nmf.yaml")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--speakers", nargs="+", help="SD: the speakers to learn (default: all in feats)")
    group.add_argument("--speaker-independent", action="store_true", help="SI: one dictionary for all speakers")
    return parser


def main(args: argparse.Namespace) -> None:
    out_dir = Path(args.out_dir)
    output = out_dir / "dictionaries.npz"
    if output.is_file():
        logging.info("%s exists, nothing to do", output)
        return
    config = load_config(args.config, NmfConfig)
    dictionaries = learn_dictionaries(args.feats, config, args.speakers, args.speaker_independent)
    save_config(config, out_dir / "nmf.yaml")
    save_dictionaries(output, dictionaries)
    logging.info("%s: %d dictionaries of rank %d", output, len(dictionaries), config.rank)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
