"""Draw the mixtures of a speech data dir with noise, writing a mixture data dir and its manifest."""

from __future__ import annotations

import argparse
import logging

from avvae.cli import run_main
from avvae.config import load_config
from avvae.mixing import MixConfig, make_mixtures


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("speech_dir", help="speech data dir, e.g. data/test")
    parser.add_argument("noise_dir", help="noise data dir (wav.scp; utt2spk maps noise id -> noise type)")
    parser.add_argument("out_dir", help="mixture data dir to write, e.g. data/test_mix")
    parser.add_argument("audio_dir", help="where the mixture, reference and lips files go")
    parser.add_argument("--config", required=True, help="mixing config, e.g. conf/mix.yaml")
    return parser


def main(args: argparse.Namespace) -> None:
    count = make_mixtures(
        args.speech_dir, args.noise_dir, args.out_dir, args.audio_dir, load_config(args.config, MixConfig)
    )
    logging.info("%s: %d mixtures", args.out_dir, count)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
