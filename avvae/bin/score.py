"""Score decode dirs against their mixture data dir: one job's share of the mixtures, for every decode dir at once
(each mixture's references and own scores computed once), into <decode_dir>/split<nj>/scores.<job>.tsv; or, with
--merge, each decode dir's job parts into <decode_dir>/scores.tsv (sorted, every mixture checked present)."""

from __future__ import annotations

import argparse

from avvae.cli import run_main, split_keys
from avvae.evaluation.scoring import MixtureDir, merge_scores, score_job


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mix_dir", help="mixture data dir with the references, e.g. data/test_mix")
    parser.add_argument("decode_dirs", nargs="+", metavar="decode_dir",
                        help="decode dir(s) holding wav/<key>_s<j>.wav, e.g. exp/nmf_sd/decode_test_mix")
    parser.add_argument("--nj", "--num-jobs", dest="nj", type=int, default=1, help="number of scoring jobs")
    parser.add_argument("--job", type=int, default=1, help="which job this is, 1..nj")
    parser.add_argument("--merge", action="store_true", help="merge each decode dir's nj parts into scores.tsv")
    parser.add_argument("--permutation-invariant", action="append", default=[], metavar="DECODE_DIR",
                        help="score this decode dir (one of those given; repeat for several) with its speaker "
                             "estimates in their best order (by SI-SDR): for systems that cannot tell the speakers "
                             "apart (NMF with an SI dictionary, the audio-only SI VAE)")
    return parser


def main(args: argparse.Namespace) -> None:
    if args.merge:
        for decode_dir in args.decode_dirs:
            merge_scores(args.mix_dir, decode_dir, args.nj)
        return
    keys = split_keys(MixtureDir.read(args.mix_dir).keys, args.nj, args.job)
    score_job(args.mix_dir, args.decode_dirs, keys, args.nj, args.job, args.permutation_invariant)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
