"""Train the supervised baseline (a target-speaker audio-visual mask network), speaker-independent.

  python -m avvae.bin.train_supervised --config conf/train_supervised.yaml --train dump/train_si/feats.h5 \\
      --dev dump/dev_si/feats.h5 --noise dump/noise_train/feats.h5 exp/supervised
Same loop as the VAEs (avvae.training.trainer): early stopping, checkpoint.pt, --resume, loss.png, torchrun.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from avvae.cli import run_main
from avvae.config import load_config
from avvae.supervised.config import SupervisedConfig
from avvae.supervised.files import MASK_NET
from avvae.supervised.setup import speaker_independent
from avvae.training.data import check_num_freqs
from avvae.training.distributed import Placement
from avvae.training.run import run_training
from avvae.training.trainer import Trainer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="training YAML (conf/train_supervised.yaml)")
    parser.add_argument("--train", type=Path, required=True, help="speech feats.h5 of the training utterances")
    parser.add_argument("--dev", type=Path, required=True, help="speech feats.h5 of the dev speakers")
    parser.add_argument("--noise", type=Path, required=True, help="noise feats.h5 for the training mixtures")
    parser.add_argument("--resume", action="store_true", help="continue from exp_dir/checkpoint.pt if present")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:<n> (default: cpu)")
    parser.add_argument("exp_dir", type=Path, help="output folder (config copy, checkpoints, model.pt, loss.png)")
    return parser


def main(args: argparse.Namespace) -> None:
    config = load_config(args.config, SupervisedConfig)

    def train(placement: Placement) -> None:
        check_num_freqs(args.config, config.model.num_freqs, (args.train, args.dev, args.noise))
        run = speaker_independent(config, args.train, args.dev, args.noise)
        Trainer(config, run.schedule, args.exp_dir, placement, MASK_NET).fit(run.model, run.train, run.dev, args.resume)

    run_training(args.exp_dir, config.num_threads, args.device, train)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
