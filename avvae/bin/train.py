"""Train a speech VAE (A-VAE, AV-VAE or CVAE), speaker-independent or, with --speaker, speaker-dependent.

  python -m avvae.bin.train --config conf/train_avvae.yaml --train dump/train_si/feats.h5 \\
      --dev dump/dev_si/feats.h5 --noise dump/noise_train/feats.h5 exp/avvae_si
  python -m avvae.bin.train --config conf/train_avvae.yaml --train dump/train_sd/feats.h5 --speaker s01 \\
      --interferers dump/train_si/feats.h5 --noise dump/noise_train/feats.h5 --init exp/avvae_si/model.pt \\
      exp/avvae_sd/s01
Several GPUs: torchrun --nproc_per_node N -m avvae.bin.train --device cuda ...
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from avvae.atomic import is_done
from avvae.cli import run_main
from avvae.config import load_config
from avvae.training import distributed
from avvae.training.config import TrainConfig
from avvae.training.setup import speaker_dependent, speaker_independent
from avvae.training.trainer import Trainer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, required=True, help="training YAML (conf/train_<model>.yaml)")
    parser.add_argument("--train", type=Path, required=True, help="speech feats.h5 of the training utterances")
    parser.add_argument("--dev", type=Path, help="speech feats.h5 of the dev speakers (SI training)")
    parser.add_argument("--noise", type=Path, required=True, help="noise feats.h5 for the training mixtures")
    parser.add_argument("--speaker", help="train speaker-dependent for this speaker of --train")
    parser.add_argument("--interferers", type=Path, help="speech feats.h5 of interfering speakers (SD training)")
    parser.add_argument("--init", type=Path, help="model.pt to fine-tune from (SD training with sd.init: si)")
    parser.add_argument("--resume", action="store_true", help="continue from exp_dir/checkpoint.pt if present")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:<n> (default: cpu)")
    parser.add_argument("exp_dir", type=Path, help="output folder (config copy, checkpoints, model.pt, loss.png)")
    return parser


def main(args: argparse.Namespace) -> None:
    config = load_config(args.config, TrainConfig)
    if is_done(args.exp_dir):
        logging.info("%s is complete, nothing to do", args.exp_dir)
        return
    if config.num_threads > 0:
        torch.set_num_threads(config.num_threads)
    if args.speaker is None:
        if args.dev is None:
            raise ValueError("SI training needs --dev (or give --speaker for SD training)")
        run = speaker_independent(config, args.train, args.dev, args.noise)
    else:
        if args.interferers is None:
            raise ValueError("SD training needs --interferers (the SI training feats.h5)")
        run = speaker_dependent(config, args.train, args.speaker, args.interferers, args.noise, args.init)
    placement = distributed.start(args.device)
    try:
        Trainer(config, run.schedule, args.exp_dir, placement).fit(run.model, run.train, run.dev, args.resume)
    finally:
        distributed.stop(placement)


if __name__ == "__main__":
    run_main(build_parser, main)
