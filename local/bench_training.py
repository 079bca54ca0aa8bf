#!/usr/bin/env python3
"""Training throughput of each model of a recipe's configs: frames per second of a training step on one thread (one
core), the share of the step spent drawing the batch (the data loader: mixing, lip augmentation, tensors) against
forward + backward + Adam, and how close the step comes to the matmul rate of its layers.

The matmul reference times, at the step's own shapes, the products a step cannot avoid: for every nn.Linear the
forward product, the input gradient (where its input needs one) and the weight gradient (where the weight is
trained), and for an LSTM the same for its input and recurrent gates, per direction (rows and requires_grad taken
from hooks during a step). `matmul/step` is that time over the measured step (forward, backward, Adam): 1.0 would
mean everything else (activations, losses, the optimiser, autograd) costs nothing.

Reads a few speakers of the recipe's dumped training set (read-only) and its noise:

    python local/bench_training.py --recipe egs/mini_av --models avae avvae cvae supervised
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from avvae.config import load_config
from avvae.fileio.feature_files import open_features
from avvae.models import SpeechVAE
from avvae.supervised.config import SupervisedConfig
from avvae.supervised.model import MaskNet
from avvae.supervised.objective import MaskObjective
from avvae.training.config import TrainConfig
from avvae.training.data import MixtureSampler, Utterance, load_utterances
from avvae.training.setup import _part_model_config, model_spec, parts, training_noises


def build(name: str, recipe: Path, targets, noises_path: Path) -> list[tuple[str, nn.Module, MixtureSampler, int]]:
    """(label, objective, sampler, batch size) of each training part of model `name` (two-stage VAEs: two parts)."""
    if name == "supervised":
        config = load_config(recipe / "conf" / "train_supervised.yaml", SupervisedConfig)
        sampler = MixtureSampler(
            targets,
            targets,
            training_noises(config, noises_path),
            config.mixing,
            config.segment_frames,
            lip_augment=config.lip_augment,
        )
        return [("supervised", MaskObjective(MaskNet(config.model)), sampler, config.batch_size)]
    config = load_config(recipe / "conf" / f"train_{name}.yaml", TrainConfig)
    noises = training_noises(config, noises_path)
    runs = []
    for part in parts(config):
        model_config = _part_model_config(config, part)
        # the decoder part reads no lips, so its loader draws none (as avvae.training.setup loads none for it)
        own = targets if model_config.uses_lips else [Utterance(u.key, u.speaker, u.stft, None) for u in targets]
        sampler = MixtureSampler(own, own, noises, config.mixing, config.segment_frames, lip_augment=config.lip_augment)
        label = name if part == "joint" else f"{name} ({part} part)"
        runs.append((label, model_spec(part).objective(SpeechVAE(model_config)), sampler, config.batch_size))
    return runs


class MatmulShapes:
    """Records, during one step, the products each Linear and LSTM layer needs (shapes and which gradients)."""

    def __init__(self, module: nn.Module):
        self.products: list[tuple[int, int, int]] = []  # (rows, inner, columns) of each product
        self.handles = [
            m.register_forward_hook(self._hook) for m in module.modules() if isinstance(m, (nn.Linear, nn.LSTM))
        ]

    def _add(self, rows: int, inputs: int, outputs: int, input_grad: bool, weight_grad: bool) -> None:
        self.products.append((rows, inputs, outputs))  # forward
        if input_grad:
            self.products.append((rows, outputs, inputs))
        if weight_grad:
            self.products.append((outputs, rows, inputs))

    def _hook(self, module: nn.Module, args: tuple, output) -> None:
        x = args[0]
        if isinstance(module, nn.Linear):
            self._add(
                x[..., 0].numel(), module.in_features, module.out_features, x.requires_grad, module.weight.requires_grad
            )
            return
        rows = x[..., 0].numel()
        directions = 2 if module.bidirectional else 1
        for layer in range(module.num_layers):
            inputs = module.input_size if layer == 0 else module.hidden_size * directions
            for _ in range(directions):
                self._add(rows, inputs, 4 * module.hidden_size, layer > 0 or x.requires_grad, True)
                self._add(rows, module.hidden_size, 4 * module.hidden_size, True, True)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def seconds(self, repeats: int = 5) -> float:
        """Median time of all the products once, at these shapes (float32, one thread)."""
        operands = [(torch.randn(r, k), torch.randn(k, c)) for r, k, c in self.products]
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for a, b in operands:
                torch.matmul(a, b)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def flops(self) -> float:
        return sum(2.0 * r * k * c for r, k, c in self.products)


def measure(objective: nn.Module, sampler: MixtureSampler, batch_size: int, steps: int) -> dict[str, float]:
    """Time `steps` training steps after two warm-up steps: batch drawing and compute separately."""
    parameters = [p for p in objective.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    # epoch after epoch, as many batches as the steps need (a few speakers give a short epoch)
    batches = itertools.chain.from_iterable(sampler.batches(0, epoch, batch_size) for epoch in itertools.count(1))
    loading, compute, frames = [], [], []
    shapes = MatmulShapes(objective)
    for step in range(steps + 2):
        start = time.perf_counter()
        batch = next(batches).to(torch.device("cpu"))
        loaded = time.perf_counter()
        result = objective(batch, 1.0, generator)
        optimizer.zero_grad()
        result["loss"].backward()
        optimizer.step()
        done = time.perf_counter()
        if step == 0:
            shapes.remove()
        if step >= 2:
            loading.append(loaded - start)
            compute.append(done - loaded)
            frames.append(batch.mask.numel())
    step_seconds = statistics.median(compute)
    matmul_seconds = shapes.seconds()
    return {
        "frames_per_s": statistics.median(frames) / (step_seconds + statistics.median(loading)),
        "compute_frames_per_s": statistics.median(frames) / step_seconds,
        "data_share": sum(loading) / (sum(loading) + sum(compute)),
        "step_ms": 1000 * step_seconds,
        "load_ms": 1000 * statistics.median(loading),
        "matmul_gflops": shapes.flops() / matmul_seconds / 1e9,
        "step_gflops": shapes.flops() / step_seconds / 1e9,
        "matmul_fraction": matmul_seconds / step_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", type=Path, default=Path("egs/mini_av"), help="recipe folder (default egs/mini_av)")
    parser.add_argument("--models", nargs="+", default=["avae", "avvae", "cvae", "supervised"])
    parser.add_argument("--train-set", default="train_si")
    parser.add_argument("--noise-set", default="noise_train")
    parser.add_argument("--speakers", type=int, default=3, help="training speakers to read (default 3)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model (after 2 warm-up steps)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    feats = args.recipe / "dump" / args.train_set / "feats.h5"
    with open_features(feats) as handle:
        speakers = sorted({str(handle[key].attrs.get("spk", key)) for key in handle})[: args.speakers]
    targets = load_utterances(feats, speakers=set(speakers))
    noise = args.recipe / "dump" / args.noise_set / "feats.h5"
    print(
        f"torch {torch.__version__}, 1 thread, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}; {len(targets)} utterances of {len(speakers)} speakers"
    )
    print(
        "\n| model | batch x frames | frames/s (step + batch) | frames/s (step) | step ms | batch ms | data share | "
        "step GFLOP/s | matmul GFLOP/s | matmul / step |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.models:
        for label, objective, sampler, batch_size in build(name, args.recipe, targets, noise):
            result = measure(objective.train(), sampler, batch_size, args.steps)
            print(
                f"| {label} | {batch_size} x {sampler.length} | {result['frames_per_s']:.0f} | "
                f"{result['compute_frames_per_s']:.0f} | {result['step_ms']:.0f} | {result['load_ms']:.0f} | "
                f"{result['data_share']:.0%} | {result['step_gflops']:.1f} | {result['matmul_gflops']:.1f} | "
                f"{result['matmul_fraction']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
