#!/usr/bin/env python3
"""Peak memory of `separate` on a 60 s synthetic recording (two voiced speakers plus noise, lips as .npz, an
untrained VAE of the published size, MCEM with the published draws per E-step but 2 iterations).

Each part runs in its own process, so its peak resident memory (ru_maxrss) is its own:
- imports: python with numpy, scipy, matplotlib and torch imported (what every part pays);
- figure: the spectrogram figure alone (mixture, two speakers, noise; 60 s each);
- separate: the whole command, `python -m avvae.bin.separate`, as a user runs it.
Prints one line per part (peak MiB, and above the imports) and the wall time; a benchmark, not a test.

    python local/bench_separate_memory.py [--seconds 60] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("imports", "figure", "separate")


def peak_mib() -> float:
    """Peak resident memory of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_inputs(folder: Path, seconds: float) -> None:
    """mix.wav (16 kHz), lips1.npz and lips2.npz (30 fps, 67x67), model.pt (untrained) and mcem.yaml."""
    import numpy as np

    from avvae.fileio.audio import write_wav
    from avvae.fileio.lips import save_lips
    from avvae.models import ModelConfig, SpeechVAE, save_model
    from tests.datadirs import FPS, RATE, lips_for, voiced_utterance

    rng = np.random.default_rng(0)
    voices = [voiced_utterance(rng, seconds, f0) for f0 in (120.0, 210.0)]
    noise = 0.02 * rng.standard_normal(len(voices[0]))
    write_wav(folder / "mix.wav", (0.5 * (voices[0] + voices[1]) + noise).astype(np.float32), RATE)
    for j, voice in enumerate(voices, start=1):
        save_lips(folder / f"lips{j}.npz", lips_for(voice), FPS)
    save_model(SpeechVAE(ModelConfig(kind="avvae")), folder / "model.pt")
    (folder / "mcem.yaml").write_text("iterations: 2\nthreads: 1\n")


def run_part(part: str, folder: Path, seconds: float) -> dict:
    """Run one part in this process; returns its peak memory and wall time."""
    if part == "inputs":
        make_inputs(folder, seconds)
        return {}
    import matplotlib  # noqa: F401
    import numpy as np
    import scipy.signal  # noqa: F401
    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    if part == "figure":
        from avvae.fileio.audio import read_wav
        from avvae.separation.own_mixture import plot_spectrograms

        mixture, rate = read_wav(folder / "mix.wav")
        signals = {
            "mixture": mixture,
            "speaker 1": 0.6 * mixture,
            "speaker 2": 0.4 * mixture,
            "noise": np.roll(mixture, 1000),
        }
        plot_spectrograms(signals, rate, folder / "figure.png")
    elif part == "separate":
        from avvae.bin import separate
        from avvae.cli import run_main

        argv = [
            str(folder / "mix.wav"),
            "--lips",
            str(folder / "lips1.npz"),
            str(folder / "lips2.npz"),
            "--model",
            str(folder / "model.pt"),
            "--mcem-config",
            str(folder / "mcem.yaml"),
            "--out-dir",
            str(folder / "out"),
        ]
        run_main(separate.build_parser, separate.main, argv)
    return {"part": part, "peak_mib": peak_mib(), "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the recording (default: 60)")
    parser.add_argument("--keep", type=Path, help="write the inputs and outputs here and keep them")
    parser.add_argument("--part", choices=("inputs", *PARTS), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        print(json.dumps(run_part(args.part, args.folder, args.seconds)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        results = {}
        for part in ("inputs", *PARTS):
            command = [
                sys.executable,
                __file__,
                "--part",
                part,
                "--folder",
                str(folder),
                "--seconds",
                str(args.seconds),
            ]
            done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
            if done.returncode != 0:
                sys.exit(f"part {part} failed:\n{done.stderr[-3000:]}")
            results[part] = json.loads(done.stdout.strip().splitlines()[-1])
    del results["inputs"]
    base = results["imports"]["peak_mib"]
    print(f"separate, {args.seconds:g} s recording, peak resident memory (ru_maxrss):")
    for part, result in results.items():
        above = "" if part == "imports" else f"  ({result['peak_mib'] - base:+7.1f} MiB above the imports)"
        print(f"  {part:9s} {result['peak_mib']:8.1f} MiB{above}  {result['seconds']:6.1f} s")


if __name__ == "__main__":
    main()
