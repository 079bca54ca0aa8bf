"""Score a decode dir against its mixture data dir: one job's share into <decode_dir>/split<nj>/scores.<job>.tsv,
or, with --merge, all the jobs' parts into <decode_dir>/scores.tsv (sorted, every mixture checked present)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avvae.cli import run_main, split_keys
from avvae.scoring import MixtureDir, merge_scores, part_path, score_job


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mix_dir", help="mixture data dir with the references, e.g. data/test_mix")
    parser.add_argument("decode_dir", help="decode dir holding wav/<key>_s<j>.wav, e.g. exp/nmf_sd/decode_test")
    parser.add_argument("--nj", "--num-jobs", dest="nj", type=int, default=1, help="number of scoring jobs")
    parser.add_argument("--job", type=int, default=1, help="which job this is, 1..nj")
    parser.add_argument("--merge", action="store_true", help="merge the nj parts into scores.tsv instead")
    parser.add_argument("--permutation-invariant", action="store_true",
                        help="score the speaker estimates in their best order (by SI-SDR), for methods that "
                             "cannot tell speakers apart (NMF with an SI dictionary)")
    return parser


def main(args: argparse.Namespace) -> None:
    if args.merge:
        merge_scores(args.mix_dir, args.decode_dir, args.nj)
        return
    if (Path(args.decode_dir) / "scores.tsv").is_file():
        logging.info("%s/scores.tsv exists, nothing to do", args.decode_dir)
        return
    keys = split_keys(MixtureDir.read(args.mix_dir).keys, args.nj, args.job)
    score_job(args.mix_dir, args.decode_dir, keys, part_path(args.decode_dir, args.nj, args.job),
              args.permutation_invariant)


if __name__ == "__main__":
    run_main(build_parser, main)
