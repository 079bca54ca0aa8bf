"""Score decode dirs against their mixture data dir: one job's share of the mixtures, for every decode dir at once
(each mixture's references and own scores computed once), into <decode_dir>/split<nj>/scores.<job>.tsv; or, with
--merge, each decode dir's job parts into <decode_dir>/scores.tsv (sorted, every mixture checked present).

Each decode dir is scored in the speaker order its decode recorded (avvae.evaluation.scoring_order): the best
permutation of its estimates where the system could not tell the speakers apart, else the fixed order;
--permutation-invariant and --fixed-order override it. --print-order prints the order of each and scores nothing.
"""

from __future__ import annotations

import argparse

from avvae.cli import run_main, split_keys
from avvae.evaluation.scoring_order import scoring_orders


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mix_dir", help="mixture data dir with the references, e.g. data/test_mix")
    parser.add_argument(
        "decode_dirs",
        nargs="+",
        metavar="decode_dir",
        help="decode dir(s) holding wav/<key>_s<j>.wav, e.g. exp/nmf_sd/decode_test_mix",
    )
    parser.add_argument("--nj", "--num-jobs", dest="nj", type=int, default=1, help="number of scoring jobs")
    parser.add_argument("--job", type=int, default=1, help="which job this is, 1..nj")
    parser.add_argument("--merge", action="store_true", help="merge each decode dir's nj parts into scores.tsv")
    parser.add_argument(
        "--permutation-invariant",
        action="append",
        default=[],
        metavar="DECODE_DIR",
        help="score this decode dir (one of those given; repeat for several) with its speaker "
        "estimates in their best order (by SI-SDR), whatever its decode recorded",
    )
    parser.add_argument(
        "--fixed-order",
        action="append",
        default=[],
        metavar="DECODE_DIR",
        help="score this decode dir (one of those given; repeat for several) in the fixed speaker "
        "order, whatever its decode recorded",
    )
    parser.add_argument(
        "--print-order",
        action="store_true",
        help="print the order each decode dir is scored in (best or fixed), one a line, and score nothing",
    )
    return parser


def main(args: argparse.Namespace) -> None:
    if args.print_order:
        print("\n".join(scoring_orders(args.decode_dirs, args.permutation_invariant, args.fixed_order).values()))
        return
    from avvae.evaluation.scoring import MixtureDir, merge_scores, score_job  # lazy (metrics): --print-order is quick

    if args.merge:
        for decode_dir in args.decode_dirs:
            merge_scores(args.mix_dir, decode_dir, args.nj)
        return
    orders = scoring_orders(args.decode_dirs, args.permutation_invariant, args.fixed_order)
    keys = split_keys(MixtureDir.read(args.mix_dir).keys, args.nj, args.job)
    best = [decode_dir for decode_dir, order in orders.items() if order == "best"]
    score_job(args.mix_dir, args.decode_dirs, keys, args.nj, args.job, best)


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
