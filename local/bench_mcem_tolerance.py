#!/usr/bin/env python3
"""How many MCEM iterations a recipe's mixtures need: SI-SDR improvement, iterations and time per mixture with the
convergence tolerance off (the config's fixed count) and at a few tolerances, one thread, on the first mixtures of
a dumped mixture set (use the dev set: tuning, not test results).

    python local/bench_mcem_tolerance.py egs/mini_av/conf/mcem.yaml egs/mini_av/exp/avvae_si/model.pt \
        egs/mini_av/dump/dev_mix/feats.h5 --mixtures 6 --tolerances 0 1e-2 3e-3 1e-3
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np
import torch

from avvae.config import load_config
from avvae.evaluation.metrics import si_sdr
from avvae.fileio.feature_files import open_features
from avvae.mcem import McemConfig, run_mcem
from avvae.models import load_model
from avvae.separation.decode import read_mixture, stft_config_of
from avvae.stft import istft


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="MCEM config, e.g. egs/mini_av/conf/mcem.yaml")
    parser.add_argument("model", help="a speaker-independent VAE, e.g. exp/avvae_si/model.pt")
    parser.add_argument("feats", help="dumped mixtures, e.g. dump/dev_mix/feats.h5")
    parser.add_argument("--mixtures", type=int, default=6, help="how many mixtures (every k-th, spread over the set)")
    parser.add_argument("--tolerances", type=float, nargs="+", default=[0.0, 1e-2, 3e-3, 1e-3])
    parser.add_argument("--iterations", type=int, help="the iteration cap (default: the config's)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = load_config(args.config, McemConfig)
    base = dataclasses.replace(base, threads=1, iterations=args.iterations or base.iterations)
    model = load_model(args.model)
    with open_features(args.feats) as handle:
        stft_config = stft_config_of(handle)
        keys = sorted(handle)
        keys = keys[:: max(1, len(keys) // args.mixtures)][: args.mixtures]
        mixtures = [read_mixture(key, handle[key]) for key in keys]
    print(
        f"{args.model} on {len(mixtures)} mixtures of {args.feats}, {base.sampler} E-step, "
        f"{base.iterations} iterations at most, tolerance window {base.tolerance_window}"
    )
    print("| tolerance | iterations (mean, min-max) | SI-SDR impr. dB | s per mixture |")
    print("|---|---|---|---|")
    for tolerance in args.tolerances:
        config = dataclasses.replace(base, tolerance=tolerance)
        iterations, improvements, seconds = [], [], []
        for mixture in mixtures:
            lips = [lips if model.config.uses_lips else None for lips in mixture.lips]
            start = time.perf_counter()
            result = run_mcem(mixture.stft, lips, [model] * len(lips), config)
            seconds.append(time.perf_counter() - start)
            iterations.append(result.iterations)
            signals = istft(
                torch.cat([result.separation.sources, mixture.sources, mixture.stft[None]]),
                stft_config,
                mixture.num_samples,
            ).numpy()
            count = len(lips)
            estimates, references, mix = signals[:count], signals[count : 2 * count], signals[-1]
            # best speaker order (an SI model cannot tell the speakers apart), improvement over the mixture
            best = max(
                np.mean([si_sdr(r, e) for r, e in zip(references, order)]) for order in (estimates, estimates[::-1])
            )
            improvements.append(best - np.mean([si_sdr(r, mix) for r in references]))
        print(
            f"| {tolerance:g} | {statistics.mean(iterations):.1f} ({min(iterations)}-{max(iterations)}) | "
            f"{statistics.mean(improvements):.2f} | {statistics.mean(seconds):.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
