#!/usr/bin/env python3
"""Start-up cost of the command-line entry points: the wall time of `python -m avvae.bin.<x> --help` and of jobs
with nothing to do on a finished recipe (a decode whose outputs all exist, a dump job whose part exists, scoring
decode dirs already scored), and which heavy packages each imports (from `python -X importtime`). One thread,
median of --repeats runs. Nothing in the recipe folder is written (the dump job's part is a file in a temp dir).

    python local/bench_startup.py --recipe egs/mini_av
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "matplotlib", "scipy.signal", "scipy.stats", "pystoi", "pesq")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def entry_points() -> list[str]:
    return sorted(path.stem for path in (ROOT / "avvae" / "bin").glob("*.py") if path.stem != "__init__")


def run(command: list[str], cwd: Path) -> tuple[float, str]:
    """Wall seconds and stderr of one run; a failure is an error showing its stderr."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return seconds, result.stderr


def heavy_imports(stderr: str) -> str:
    """The HEAVY packages that an `-X importtime` log shows imported, with their cumulative milliseconds."""
    found = {}
    for line in stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[2].strip() in HEAVY:
            found[parts[2].strip()] = int(parts[1]) / 1000
    return ", ".join(f"{name} {ms:.0f} ms" for name, ms in found.items()) or "-"


def measure(label: str, args: list[str], cwd: Path, repeats: int) -> str:
    command = [sys.executable, "-m", *args]
    walls = [run(command, cwd)[0] for _ in range(repeats)]
    _, log = run([sys.executable, "-X", "importtime", "-m", *args], cwd)
    return f"| {label} | {statistics.median(walls):.2f} | {min(walls):.2f} | {heavy_imports(log)} |"


def no_op_jobs(recipe: Path, scratch: Path) -> list[tuple[str, list[str]]]:
    """(label, arguments) of the jobs with nothing to do that the recipe's outputs allow."""
    jobs = []
    decode = recipe / "exp" / "mixture" / "decode_test_mix"
    if (decode / "wav").is_dir() and (recipe / "dump" / "test_mix" / "feats.h5").is_file():
        for system in ("mixture", "avvae_si"):
            jobs.append(
                (
                    f"decode {system}, all separated",
                    [
                        "avvae.bin.decode",
                        "--method",
                        "mcem" if system != "mixture" else "mixture",
                        "--model-dir",
                        f"exp/{system}",
                        "--config",
                        "conf/mcem.yaml",
                        "dump/test_mix/feats.h5",
                        f"exp/{system}/decode_test_mix",
                    ],
                )
            )
    if (decode / "scores.tsv").is_file():
        jobs.append(("score, all scored", ["avvae.bin.score", "data/test_mix", "exp/mixture/decode_test_mix"]))
    if (recipe / "data" / "noise_test" / "wav.scp").is_file():
        (scratch / "split1").mkdir(parents=True, exist_ok=True)
        (scratch / "split1" / "feats.1.h5").touch()  # only its existence counts
        jobs.append(
            (
                "dump_features, part exists",
                ["avvae.bin.dump_features", "--config", "conf/feats.yaml", "data/noise_test", str(scratch)],
            )
        )
        jobs.append(("validate_data_dir noise_test", ["avvae.bin.validate_data_dir", "--no-lips", "data/noise_test"]))
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--recipe",
        type=Path,
        default=ROOT / "egs" / "mini_av",
        help="a recipe folder that has run (for the jobs with nothing to do; default egs/mini_av)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per command (the median is reported)")
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{value:.1f}' for value in os.getloadavg())}"
    )
    print("\n| command | median s | min s | heavy imports (cumulative) |\n|---|---|---|---|")
    for name in entry_points():
        print(measure(f"{name} --help", [f"avvae.bin.{name}", "--help"], ROOT, args.repeats), flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for label, job in no_op_jobs(args.recipe.resolve(), Path(scratch)):
            print(measure(label, job, args.recipe, args.repeats), flush=True)


if __name__ == "__main__":
    main()
