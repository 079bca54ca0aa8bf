#!/usr/bin/env python3
"""Per-stage wall and CPU time of a whole recipe run: a fresh copy of egs/<corpus> (no corpus, data, dump or exp)
is run from stage 0 to the end with jobs on this machine, and the per-stage table of the TIMING.md it writes
(utils/stage_times.sh) is printed. The tiny corpus (default) takes minutes; `--size default` is the full default
corpus, the run behind the stage table of docs/performance.md.

    python local/bench_recipe.py                      # mini_av, tiny corpus, in a temporary folder
    python local/bench_recipe.py --size default --work /tmp/bench --keep
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUTS = ("corpus", "data", "dump", "exp", "db.sh", "RESULTS.md", "RESULTS.notes.md", "TIMING.md", "results.png")


def fresh_copy(corpus: str, work: Path) -> Path:
    """egs/<corpus> without its outputs, its linked folders and files copied, path.sh pointing at this repo."""
    recipe = work / corpus
    if recipe.exists():
        raise SystemExit(f"{recipe}: already exists; give an empty --work folder")
    shutil.copytree(ROOT / "egs" / corpus, recipe, symlinks=False, ignore=shutil.ignore_patterns(*OUTPUTS))
    (recipe / "path.sh").write_text(f". {ROOT}/path.sh\n")
    return recipe


def per_stage_table(timing: Path) -> str:
    """The "Per stage" section of a TIMING.md."""
    text = timing.read_text()
    start = text.index("## Per stage")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None].strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="mini_av", help="the recipe under egs/ (default: mini_av)")
    parser.add_argument("--size", default="tiny", choices=("tiny", "default"), help="the embedded corpus's size")
    parser.add_argument("--work", type=Path, help="where the copy runs (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the copy and its outputs afterwards")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_recipe."))
    work.mkdir(parents=True, exist_ok=True)
    recipe = fresh_copy(args.corpus, work)
    options = ["--local_data_opts", "--size tiny"] if args.size == "tiny" else []
    log = recipe / "bench_recipe.log"
    print(f"running {recipe}/run.sh {' '.join(options)} (log: {log})", file=sys.stderr)
    start = time.perf_counter()
    with open(log, "w") as out:
        result = subprocess.run(
            ["./run.sh", *options],
            cwd=recipe,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "AVVAE_CMD_BACKEND": "local"},
        )
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"run.sh failed (exit {result.returncode}); the end of {log}:\n{log.read_text()[-3000:]}")
    print(per_stage_table(recipe / "TIMING.md"))
    print(f"\nwhole run: {wall / 60:.1f} min wall on {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if not args.keep and args.work is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
