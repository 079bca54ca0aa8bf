"""Write the Kaldi-style data dirs of a generated mini_av corpus.

DATA_DIR/{train_si,dev_si,train_sd,test}: wav.scp, utt2spk, spk2utt, lips.scp, text (absolute paths).
DATA_DIR/{noise_train,noise_test}: wav.scp, utt2spk (noise id -> noise type), spk2utt; no lips.
Every dir is validated after writing.

Usage: python -m avvae.corpus.prepare_data corpus data
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import yaml

from avvae.cli import run_main
from avvae.errors import AvvaeError
from avvae.fileio.atomic import is_done
from avvae.fileio.datadir import (
    read_table,
    spk2utt_from_utt2spk,
    validate_data_dir,
    write_speech_dir,
    write_table,
)

log = logging.getLogger(__name__)

SPEECH_SETS = ("train_si", "dev_si", "train_sd", "test")
NOISE_SETS = {"noise_train": "train", "noise_test": "test"}


class CorpusError(AvvaeError):
    """The corpus dir is incomplete or not a mini_av corpus."""


def read_corpus_table(corpus_dir: str | Path) -> dict:
    """The corpus's speakers.yaml (speakers, utterance sets, noise types), after checking the corpus is complete."""
    corpus_dir = Path(corpus_dir)
    if not is_done(corpus_dir):
        raise CorpusError(f"{corpus_dir}: corpus is incomplete (no .done); run avvae.corpus.make_corpus first")
    return yaml.safe_load((corpus_dir / "speakers.yaml").read_text())


def prepare_data(corpus_dir: str | Path, data_dir: str | Path) -> dict[str, int]:
    """Write and validate the speech and noise data dirs; returns the number of entries of each."""
    corpus_dir, data_dir = Path(corpus_dir).resolve(), Path(data_dir)
    table = read_corpus_table(corpus_dir)
    text = read_table(corpus_dir / "text")
    counts = {}
    for name in SPEECH_SETS:
        utts = table["sets"][name]
        spk = {utt: utt.rsplit("_", 1)[0] for utt in utts}
        write_speech_dir(
            data_dir / name,
            wavs={utt: str(corpus_dir / "wav" / spk[utt] / f"{utt}.wav") for utt in utts},
            utt2spk=spk,
            lips={utt: str(corpus_dir / "lips" / spk[utt] / f"{utt}.npz") for utt in utts},
            text={utt: text[utt] for utt in utts},
        )
        counts[name] = validate_data_dir(data_dir / name, table["sample_rate"])
    for name, split in NOISE_SETS.items():
        utt2spk = {f"{kind}_{split}": kind for kind in table["noise_types"]}
        write_table(
            data_dir / name / "wav.scp",
            {key: str(corpus_dir / "noise" / split / f"{kind}.wav") for key, kind in utt2spk.items()},
        )
        write_table(data_dir / name / "utt2spk", utt2spk)
        write_table(data_dir / name / "spk2utt", spk2utt_from_utt2spk(utt2spk))
        counts[name] = validate_data_dir(data_dir / name, table["sample_rate"], require_lips=False)
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus_dir", help="a complete corpus from avvae.corpus.make_corpus")
    parser.add_argument("data_dir", help="where the data dirs go, e.g. data")
    return parser


def main(args: argparse.Namespace) -> None:
    for name, count in prepare_data(args.corpus_dir, args.data_dir).items():
        log.info("%s/%s: %d entries", args.data_dir, name, count)


if __name__ == "__main__":
    run_main(build_parser, main)
