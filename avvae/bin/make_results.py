"""Regenerate the recipe's RESULTS.md and results.png from the score TSVs of every decode dir.

A system is exp/<name>/decode_<set>/scores.tsv; its row label and protocol come from <name>: a suffix _si or _sd
gives the protocol (none: the row counts for both, e.g. the mixture and the oracle; the supervised network is SI),
the stem the method. A variant of steps/avvae.sh --tag <tag> ends in _<tag> after that (exp/avvae_si_<tag>,
exp/supervised_<tag>): its label ends in [<tag>], so that variants of a method have rows of their own. Rows scored
with the best speaker permutation are marked from their score files.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from avvae.cli import run_main
from avvae.errors import InputFileError
from avvae.evaluation.results import System, write_results

LABELS = {
    "mixture": "Mixture (unprocessed)",
    "silence": "Silence (all-zero output)",
    "oracle": "Oracle IRM",
    "nmf": "NMF",
    "avae": "A-VAE + MCEM",
    "avvae": "AV-VAE + MCEM",
    "cvae": "CVAE + MCEM",
    "supervised": "Supervised AV",
    "oracle_latent_avae": "A-VAE oracle latent",
    "oracle_latent_avvae": "AV-VAE oracle latent",
    "oracle_latent_cvae": "CVAE oracle latent",
}
PROTOCOLS = {"si": "SI", "sd": "SD"}
UNSUFFIXED = {"supervised": "SI"}  # trained on the training speakers; other unsuffixed rows count for both


def split_tag(name: str) -> tuple[str, str]:
    """(system, tag) of an exp folder name: avvae_si_x -> ("avvae_si", "x"), supervised_x -> ("supervised", "x"),
    avvae_si -> ("avvae_si", "")."""
    if name in LABELS or name.rpartition("_")[2] in PROTOCOLS:
        return name, ""
    system, _, tag = name.rpartition("_")
    if system in LABELS or system.rpartition("_")[2] in PROTOCOLS:
        return system, tag
    return name, ""


def system_of(name: str, scores: tuple[Path, ...]) -> System:
    """The results row of exp/<name>: e.g. avvae_sd -> ("AV-VAE + MCEM", "SD"), avvae_sd_x -> ("AV-VAE + MCEM [x]",
    "SD")."""
    system, tag = split_tag(name)
    stem, _, suffix = system.rpartition("_")
    if suffix in PROTOCOLS:
        method, protocol = LABELS.get(stem, stem), PROTOCOLS[suffix]
    else:
        method, protocol = LABELS.get(system, system), UNSUFFIXED.get(system, "both")
    return System(f"{method} [{tag}]" if tag else method, protocol, scores)


def find_systems(exp_dir: Path, test_sets: list[str], names: list[str]) -> list[System]:
    """One system per name, with the scores of each test set; a missing score file is an error naming it."""
    systems = []
    for name in names:
        scores = tuple(exp_dir / name / f"decode_{test_set}" / "scores.tsv" for test_set in test_sets)
        missing = [str(path) for path in scores if not path.is_file()]
        if missing:
            raise InputFileError(f"{', '.join(missing)}: no scores (run the decode and scoring stages for {name})")
        systems.append(system_of(name, scores))
    return systems


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exp-dir", default="exp", help="experiment folder (default: exp)")
    parser.add_argument("--test-sets", nargs="+", required=True, help="mixture sets, e.g. test_mix test_unseen_mix")
    parser.add_argument("--systems", nargs="+", required=True, help="exp/<name> folders in table order")
    parser.add_argument("--title", required=True, help="title of RESULTS.md, e.g. the corpus name")
    parser.add_argument(
        "--compare",
        default="AV-VAE + MCEM",
        help="the method whose SI-SDR improvement is set against every other (default: AV-VAE + MCEM)",
    )
    parser.add_argument("--out-dir", default=".", help="where RESULTS.md and results.png go (default: .)")
    parser.add_argument(
        "--notes", type=Path, help="a markdown file of notes on the run, written by a person, appended to RESULTS.md"
    )
    return parser


def main(args: argparse.Namespace) -> None:
    systems = find_systems(Path(args.exp_dir), args.test_sets, args.systems)
    compare = args.compare if any(system.method == args.compare for system in systems) else None
    notes = None
    if args.notes is not None:
        if not args.notes.is_file():
            raise InputFileError(f"{args.notes}: no such notes file")
        notes = args.notes.read_text()
    write_results(systems, args.out_dir, args.title, compare, notes)
    logging.info("%s/RESULTS.md: %d systems", args.out_dir, len(systems))


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
