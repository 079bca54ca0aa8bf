#!/usr/bin/env python3
"""Benchmark of MCEM separation on synthetic mixtures drawn from published-size speaker VAEs (F = 513, L = 32,
hidden 128; hand-set decoders, encoders fitted briefly, see avvae.mcem.synthetic), at 30 STFT frames per second.

Sweeps length, number of speakers, draws per E-step, batch size, E-step sampler, parallel chains, threads and the
step adaptation (adapt_step);
each case runs in its own process so that its peak memory (ru_maxrss above the process's start) is its own.
Reports real-time factor (wall / audio seconds, measured with the bench's short schedule and projected to the
published 100 iterations + 100 final draws; --published runs that schedule itself; cpu_rtf is the same in process
CPU seconds, which with one thread is the wall time of a core not shared with other jobs), seconds per iteration and per
speaker-second of audio (flat when the cost is linear in length and speakers), peak memory, the decoder's FLOPs per
iteration against the measured matmul FLOP/s (decoder_share), the FLOP/s the batched decoder call itself achieves
(all chains, speakers and mixtures of a draw, as the sampler calls it) against the matmul rate at the same number of
rows, and the spectral SDR improvement over the mixture. Prints a table and writes JSON.

    python local/bench_mcem.py --out exp/bench_mcem.json [--quick] [--threads 1] [--published]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

FRAME_RATE = 30.0
PUBLISHED_ITERATIONS, PUBLISHED_FINAL_DRAWS = 100, 100


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def matmul_flops(rows: int, hidden: int, freqs: int, threads: int) -> float:
    """Measured FLOP/s of the decoder's large product [rows, hidden] x [hidden, freqs]."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(rows, hidden), torch.randn(hidden, freqs)
    for _ in range(3):
        a @ b
    repeats, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.3:
        a @ b
        repeats += 1
    return 2.0 * rows * hidden * freqs * repeats / (time.perf_counter() - start)


def decoder_flops(problem, chains: int, floor: float) -> float:
    """FLOP/s achieved by one batched decoder call (Problem.decode, output clamp and exp included) on latents
    [chains, J, B, N, L], counting the two matrix products."""
    import torch

    num_speakers, batch, frames, _ = problem.shape
    model = problem.groups[0].model
    latent, hidden, freqs = model.config.latent_dim, model.config.hidden_dim, model.config.num_freqs
    z = torch.randn(chains, num_speakers, batch, frames, latent)
    with torch.no_grad():
        for _ in range(3):
            problem.decode(z, floor)
        repeats, start = 0, time.perf_counter()
        while time.perf_counter() - start < 0.3:
            problem.decode(z, floor)
            repeats += 1
    rows = chains * num_speakers * batch * frames
    return 2.0 * rows * (latent * hidden + hidden * freqs) * repeats / (time.perf_counter() - start)


def spectral_sdr(reference, estimate) -> float:
    """10 log10(|s|^2 / |s - s_hat|^2) over all bins and frames."""
    import torch

    return float(10 * torch.log10(reference.abs().square().sum() / (reference - estimate).abs().square().sum()))


def run_case(case: dict) -> dict:
    """One measurement, in this process: build models and mixtures, separate, time and score."""
    import torch

    from avvae.mcem import McemConfig, run_mcem_batch
    from avvae.mcem.problem import Problem
    from avvae.mcem.synthetic import fit_encoders, sample_mixture, speaker_model

    torch.set_num_threads(case["threads"])
    models = [speaker_model(seed + 1, num_freqs=513, latent_dim=32, hidden_dim=128) for seed in range(case["speakers"])]
    fit_encoders(models, case["fit_steps"], torch.Generator().manual_seed(0), frames=128)
    generator = torch.Generator().manual_seed(1)
    frames = int(round(case["seconds"] * FRAME_RATE))
    mixtures = [sample_mixture(models, frames, 0.1, generator) for _ in range(case["batch"])]
    config = McemConfig(
        iterations=case["iterations"],
        draws=case["draws"],
        burn_in=case["draws"] * 3 // 4,
        final_draws=case["final_draws"],
        final_burn_in=case["final_draws"] * 3 // 4,
        sampler=case["sampler"],
        threads=case["threads"],
        chains=case["chains"],
        log_every=10**9,
        adapt_step=case["adapt_step"],
    )
    baseline = rss_kib()
    load = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    results = run_mcem_batch(
        [m.stft for m in mixtures], [[None] * len(models)] * len(mixtures), [models] * len(mixtures), config
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline) / 1024
    per_iteration = sum(e.seconds for e in results[0].history) / max(len(results[0].history), 1)
    final = wall - per_iteration * config.iterations
    audio = case["seconds"] * case["batch"]
    improvement = [
        float(spectral_sdr(reference, estimate) - spectral_sdr(reference, mixture.stft))
        for mixture, result in zip(mixtures, results)
        for reference, estimate in zip(mixture.sources, result.separation.sources)
    ]
    latent, hidden, freqs = 32, 128, 513
    decoded = case["speakers"] * case["batch"] * frames
    flops_per_draw = 2.0 * decoded * (latent * hidden + hidden * freqs) * (3 if case["sampler"] == "mala" else 1)
    if case["sampler"] == "variational":
        flops_per_iteration = flops_per_draw * (3 * config.variational_steps + config.draws - config.burn_in)
    else:
        flops_per_iteration = flops_per_draw * config.chains * config.schedule(config.draws, config.burn_in)[0]
    rate = matmul_flops(decoded, hidden, freqs, case["threads"])
    problem = Problem(
        [m.stft for m in mixtures],
        [[None] * len(models)] * len(mixtures),
        [models] * len(mixtures),
        torch.device("cpu"),
    )
    achieved = decoder_flops(problem, case["chains"], config.floor)
    batched_rate = matmul_flops(decoded * case["chains"], hidden, freqs, case["threads"])
    projected = (PUBLISHED_ITERATIONS * per_iteration + final * PUBLISHED_FINAL_DRAWS / config.final_draws) / audio
    acceptance = [a for e in results[0].history for a in e.acceptance]
    return {
        **case,
        "frames": frames,
        "wall_s": wall,
        "rtf": wall / audio,
        "rtf_published_schedule": projected,
        "cpu_rtf_published_schedule": projected * cpu / wall,
        "s_per_iteration": per_iteration,
        "ms_per_iteration_speaker_second": 1e3 * per_iteration / (case["speakers"] * audio),
        "peak_mib": peak_mib,
        "decoder_gflop_per_iteration": flops_per_iteration / 1e9,
        "matmul_gflops": rate / 1e9,
        "decoder_share": flops_per_iteration / rate / per_iteration,
        "decoder_gflops": achieved / 1e9,
        "decoder_vs_matmul": achieved / batched_rate,
        "sdr_improvement_db": sum(improvement) / len(improvement),
        "acceptance": sum(acceptance) / len(acceptance),
        "load": load,
    }


def sweep_points(quick: bool) -> dict[str, list]:
    """Each sweep: the setting it varies and the values it takes (fewer with --quick)."""
    return {
        "seconds": [2.0, 5.0, 10.0, 30.0] if not quick else [2.0, 5.0],
        "speakers": [1, 2, 3, 4] if not quick else [1, 2],
        "draws": [20, 40, 80] if not quick else [40],
        "batch": [1, 4, 8] if not quick else [1, 4],
        "sampler": ["mh", "mala", "variational"],
        "chains": [1, 4, 10] if not quick else [1, 4],
        "threads": [1, 2],
        "adapt_step": [False, True],
    }


def sweep_names(text: str) -> list[str]:
    """The --sweeps value: comma-separated sweep names, each one of sweep_points' (empty: all of them)."""
    names, known = [name for name in text.split(",") if name], list(sweep_points(quick=False))
    unknown = [name for name in names if name not in known]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise argparse.ArgumentTypeError(
            f"unknown sweep{plural} {', '.join(map(repr, unknown))} (the sweeps: {', '.join(known)})"
        )
    return names


def cases(args: argparse.Namespace) -> list[dict]:
    base = {
        "seconds": 5.0,
        "speakers": 2,
        "draws": 40,
        "batch": 1,
        "sampler": "mh",
        "iterations": args.iterations,
        "final_draws": args.final_draws,
        "threads": args.threads,
        "fit_steps": args.fit_steps,
        "chains": 1,
        "adapt_step": False,
    }
    sweeps = sweep_points(args.quick)
    if args.sweeps:
        sweeps = {key: values for key, values in sweeps.items() if key in args.sweeps}
    seen, out = set(), []
    for key, values in sweeps.items():
        for value in values:
            case = {**base, key: value, "sweep": key}
            signature = tuple(sorted((k, v) for k, v in case.items() if k != "sweep"))
            if signature not in seen:
                seen.add(signature)
                out.append(case)
    return out


COLUMNS = [
    ("sweep", "{}"),
    ("seconds", "{:.0f}"),
    ("speakers", "{}"),
    ("draws", "{}"),
    ("batch", "{}"),
    ("sampler", "{}"),
    ("chains", "{}"),
    ("threads", "{}"),
    ("adapt_step", "{:d}"),
    ("rtf", "{:.3f}"),
    ("rtf_published_schedule", "{:.2f}"),
    ("cpu_rtf_published_schedule", "{:.2f}"),
    ("s_per_iteration", "{:.4f}"),
    ("ms_per_iteration_speaker_second", "{:.2f}"),
    ("peak_mib", "{:.0f}"),
    ("decoder_gflop_per_iteration", "{:.3f}"),
    ("matmul_gflops", "{:.1f}"),
    ("decoder_share", "{:.2f}"),
    ("decoder_gflops", "{:.1f}"),
    ("decoder_vs_matmul", "{:.2f}"),
    ("sdr_improvement_db", "{:.1f}"),
    ("acceptance", "{:.2f}"),
    ("load", "{:.1f}"),
]


def table(rows: list[dict]) -> str:
    header = [name for name, _ in COLUMNS]
    cells = [[fmt.format(row[name]) for name, fmt in COLUMNS] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = [" ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += [" ".join(c.rjust(w) for c, w in zip(cell, widths)) for cell in cells]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench_mcem.json", help="JSON file of all measurements")
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("OMP_NUM_THREADS", "1")),
        help="torch threads (default: $OMP_NUM_THREADS or 1)",
    )
    parser.add_argument("--iterations", type=int, default=10, help="EM iterations per case (published: 100)")
    parser.add_argument("--final-draws", type=int, default=20, help="final chain draws per case (published: 100)")
    parser.add_argument("--fit-steps", type=int, default=100, help="Adam steps fitting the synthetic encoders")
    parser.add_argument("--quick", action="store_true", help="fewer sweep points")
    parser.add_argument(
        "--published",
        action="store_true",
        help="run the published schedule (100 iterations, 100 final draws) instead of projecting",
    )
    parser.add_argument(
        "--sweeps",
        type=sweep_names,
        default=[],
        help=f"comma-separated sweeps to run, of {', '.join(sweep_points(quick=False))} (default: all)",
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return
    if args.published:
        args.iterations, args.final_draws = PUBLISHED_ITERATIONS, PUBLISHED_FINAL_DRAWS
    rows = []
    for case in cases(args):
        done = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"case {case} failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    import torch

    meta = {
        "torch": torch.__version__,
        "threads": args.threads,
        "cpus": os.cpu_count(),
        "frame_rate": FRAME_RATE,
        "iterations": args.iterations,
        "final_draws": args.final_draws,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "cases": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
