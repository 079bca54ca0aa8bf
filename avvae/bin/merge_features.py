"""Merge the per-job feature files <dump_dir>/split<N>/feats.*.h5 into <dump_dir>/feats.h5."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avvae.cli import run_main
from avvae.fileio.feature_files import FeatureFileError, merge_feature_files
from avvae.fileio.write_errors import naming_full_disk, require_space


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dump_dir")
    parser.add_argument("--nj", type=int, required=True, help="number of jobs the dump ran with")
    parser.add_argument("--expected", type=int, help="number of utterances in the data dir, checked")
    return parser


def main(args: argparse.Namespace) -> None:
    dump_dir = Path(args.dump_dir)
    parts = [dump_dir / f"split{args.nj}" / f"feats.{job}.h5" for job in range(1, args.nj + 1)]
    missing = [str(part) for part in parts if not part.is_file()]
    if missing:
        raise FeatureFileError(f"{dump_dir}: job outputs missing: {', '.join(missing)} (rerun the dump jobs)")
    output = dump_dir / "feats.h5"
    kept = f"the job parts in {parts[0].parent} are kept: free some space and rerun to merge them"
    require_space(output, sum(part.stat().st_size for part in parts), f"the {len(parts)} job parts", kept)
    with naming_full_disk(output, kept):
        count = merge_feature_files(parts, output)
    if args.expected is not None and count != args.expected:
        (dump_dir / "feats.h5").unlink()
        raise FeatureFileError(f"{dump_dir}/feats.h5: {count} utterances merged, data dir has {args.expected}")
    logging.info("%s/feats.h5: %d utterances", dump_dir, count)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
