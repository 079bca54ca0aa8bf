"""Train a speech VAE (A-VAE, AV-VAE or CVAE), speaker-independent or, with --speaker, speaker-dependent.

  python -m avvae.bin.train --config conf/train_avvae.yaml --train dump/train_si/feats.h5 \\
      --dev dump/dev_si/feats.h5 --noise dump/noise_train/feats.h5 exp/avvae_si
  python -m avvae.bin.train --config conf/train_avvae.yaml --train dump/train_sd/feats.h5 --speaker s01 \\
      --interferers dump/train_si/feats.h5 --noise dump/noise_train/feats.h5 --init exp/avvae_si/model.pt \\
      exp/avvae_sd/s01
Several GPUs: torchrun --nproc_per_node N -m avvae.bin.train --device cuda ...

With `mode: two_stage` the decoder part trains into exp_dir/decoder first, then the encoder part into exp_dir.
Every part ends by measuring the model on dev data: exp_dir/diagnostics.yaml and diagnostics.png.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avvae.cli import run_main
from avvae.config import load_config
from avvae.errors import UsageError
from avvae.fileio.atomic import is_done
from avvae.models import load_model
from avvae.training import diagnostics
from avvae.training.config import TrainConfig
from avvae.training.data import check_num_freqs
from avvae.training.distributed import Placement
from avvae.training.run import run_training
from avvae.training.setup import (
    DECODER_DIR,
    TrainingRun,
    parts,
    si_start,
    speaker_dependent,
    speaker_independent,
)
from avvae.training.trainer import DEV_SEED, Trainer


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


def _diagnose(run: TrainingRun, config: TrainConfig, reference: Path | None):
    """The finishing step of a part: the best model measured on the first dev utterances, and, for SD training,
    the SI model it started from measured on the same utterances (does SD beat SI on its own speaker?)."""

    def finish(exp_dir: Path) -> None:
        batches, wanted = [], config.diagnostic_utterances
        for batch in run.dev.batches(DEV_SEED, 0, config.batch_size):
            batches.append(batch)
            if sum(len(b.keys) for b in batches) >= wanted:
                break
        model = load_model(exp_dir / "model.pt")
        encoder_input = run.spec.objective(model).encoder_input
        result = diagnostics.measure(model, batches, config.seed, encoder_input)
        if reference is not None:
            start = diagnostics.measure(load_model(reference), batches, config.seed, encoder_input)
            curves = result.pop("curves")  # kept last in the yaml
            result["si_model"] = {key: value for key, value in start.items() if key.startswith("is_per_bin")}
            result["curves"] = curves
        diagnostics.write(result, exp_dir, run.schedule.title)
        logging.info("%s: %s", exp_dir, diagnostics.summary(result))

    return finish


def _si_reference(args: argparse.Namespace, config: TrainConfig, part: str) -> Path | None:
    """The SI model file an SD part fine-tunes (None for SI training or SD from scratch)."""
    if args.speaker is None or config.sd.init != "si" or args.init is None:
        return None
    return si_start(args.init, part)


def _run(config: TrainConfig, args: argparse.Namespace, part: str, decoder: Path | None) -> TrainingRun:
    if args.speaker is None:
        if args.dev is None:
            raise UsageError("SI training needs --dev (or give --speaker for SD training)")
        return speaker_independent(config, args.train, args.dev, args.noise, part, decoder)
    if args.interferers is None:
        raise UsageError("SD training needs --interferers (the SI training feats.h5)")
    return speaker_dependent(config, args.train, args.speaker, args.interferers, args.noise, args.init, part, decoder)


def main(args: argparse.Namespace) -> None:
    config = load_config(args.config, TrainConfig)

    def train(placement: Placement) -> None:
        check_num_freqs(args.config, config.model.num_freqs, (args.train, args.dev, args.interferers, args.noise))
        decoder = None
        for part in parts(config):
            exp_dir = args.exp_dir / DECODER_DIR if part == "decoder" else args.exp_dir
            if is_done(exp_dir):
                logging.info("%s is complete", exp_dir)
            else:
                run = _run(config, args, part, decoder)
                finish = _diagnose(run, config, _si_reference(args, config, part))
                Trainer(config, run.schedule, exp_dir, placement, run.spec).fit(
                    run.model, run.train, run.dev, args.resume, finish
                )
            decoder = exp_dir / "model.pt"

    run_training(args.exp_dir, config.num_threads, args.device, train)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
