"""Check a copy of a corpus release before stage 1: what was found per speaker, what is missing or inconsistent.

Usage: python -m avvae.bin.check_release egs/ntcd_timit /path/to/NTCD-TIMIT
       python -m avvae.bin.check_release egs/grid /path/to/GRID

The checker is the recipe's, chosen by the recipe folder's name (CHECKERS), and reads the layout and split of the
recipe's conf/corpus.yaml. Prints one screen; exits 1 when it found problems, 0 when none.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from avvae.cli import run_main
from avvae.errors import UsageError

# recipe folder name -> module with `check_release(recipe: Path, root: Path) -> ReleaseReport`
CHECKERS = {"ntcd_timit": "avvae.corpus_prep.check_ntcd_timit", "grid": "avvae.corpus_prep.check_grid"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help="the recipe folder, e.g. egs/ntcd_timit")
    parser.add_argument("root", help="the release's root folder, as given to run.sh --db_root")
    parser.add_argument("--examples", type=int, default=3, help="examples printed per kind of problem")
    return parser


def main(args: argparse.Namespace) -> None:
    recipe = Path(args.recipe)
    if not (recipe / "conf").is_dir():
        raise UsageError(f"{recipe}: not a recipe folder (no conf/)")
    name = recipe.resolve().name
    if name not in CHECKERS:
        raise UsageError(f"{recipe}: no release checker for recipe {name!r} (checkers: {', '.join(sorted(CHECKERS))})")
    report = importlib.import_module(CHECKERS[name]).check_release(recipe, Path(args.root))
    print(report.render(examples=args.examples), flush=True)
    if report.problems:
        sys.exit(1)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
