"""Scoring of decode dirs against the references of their mixture data dir, into `<decode_dir>/scores.tsv`.

The estimates are `<decode_dir>/wav/<key>_s<j>.wav` and `<key>_noise.wav` (avvae.fileio.decode_dir.output_paths), at the
level of the mixture wav; the references are the mixture dir's spk<j>.scp and noise1.scp, the mixture its
wav.scp, the condition its utt2cond, and the speaker ids its manifest.jsonl (utt2spk of a mixture dir maps each mixture
to itself). One row per separated speaker: COLUMNS, metrics as in avvae.evaluation.metrics, then which estimate was
scored against that speaker and whether in the fixed order or the best one (for systems that cannot tell the speakers
apart), then where the speaker's error comes from (avvae.evaluation.error_budget). A job scores its share of the keys
for several decode dirs (the systems of one mixture set) at once, so that each mixture's references, BSS Eval
factorisation and own scores are computed once for all of them, into `<decode_dir>/split<nj>/scores.<job>.tsv`; the
merge checks that every mixture is there and writes scores.tsv sorted by key (speakers in order within a key). Every
file is written atomically, and a finished part
or scores.tsv is not computed again.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Collection

import numpy as np
from tqdm import tqdm

from avvae.errors import InputFileError
from avvae.evaluation.error_budget import BUDGET_COLUMNS, error_budget
from avvae.evaluation.metrics import METRICS, MixtureScorer, si_sdr
from avvae.fileio.atomic import write_text_atomic
from avvae.fileio.audio import AudioFileError, read_wav
from avvae.fileio.datadir import DataDirError, read_manifest, read_table, speaker_count
from avvae.fileio.decode_dir import output_paths

log = logging.getLogger(__name__)

FIRST_METRICS = METRICS[:6]  # the columns of the first format; later ones are appended so that old readers work
COLUMNS = (
    "key",
    "speaker",
    "condition",
    *FIRST_METRICS,
    *(f"{name}_imp" for name in FIRST_METRICS),
    *(column for name in METRICS[6:] for column in (name, f"{name}_imp")),
    "estimate",
    "permutation",
    *BUDGET_COLUMNS,
)


@dataclass
class MixtureDir:
    """The tables of a mixture data dir that scoring needs, by key."""

    path: Path
    mixtures: dict[str, str]
    sources: list[dict[str, str]]
    noise: dict[str, str]
    conditions: dict[str, str]
    speakers: dict[str, list[str]]

    @classmethod
    def read(cls, path: str | Path) -> MixtureDir:
        path = Path(path)
        count = speaker_count(path)
        if count == 0:
            raise DataDirError(f"{path}: not a mixture data dir (no spk1.scp)")
        mixtures = read_table(path / "wav.scp")
        manifest = read_manifest(path, list(mixtures))
        speakers = {key: [source["spk"] for source in entry["sources"]] for key, entry in manifest.items()}
        return cls(
            path,
            mixtures,
            [read_table(path / f"spk{j}.scp") for j in range(1, count + 1)],
            read_table(path / "noise1.scp"),
            read_table(path / "utt2cond"),
            speakers,
        )

    @property
    def keys(self) -> list[str]:
        return list(self.mixtures)

    def entry(self, key: str, table: dict[str, str], name: str) -> str:
        if key not in table:
            raise DataDirError(f"{self.path / name}: no entry for mixture {key!r}")
        return table[key]


def _read_same_length(path: str | Path, length: int | None, what: str) -> tuple[np.ndarray, int]:
    samples, rate = read_wav(path)
    if length is not None and len(samples) != length:
        raise AudioFileError(f"{path}: {what} has {len(samples)} samples, the mixture {length}")
    return samples, rate


def mixture_scorer(mixtures: MixtureDir, key: str) -> MixtureScorer:
    """The scorer of mixture `key`: its references (speakers, then the noise), the mixture and its own scores."""
    mixture, rate = _read_same_length(mixtures.entry(key, mixtures.mixtures, "wav.scp"), None, "mixture")
    references = [
        _read_same_length(mixtures.entry(key, table, f"spk{j}.scp"), len(mixture), "reference")[0]
        for j, table in enumerate(mixtures.sources, start=1)
    ]
    references.append(_read_same_length(mixtures.entry(key, mixtures.noise, "noise1.scp"), len(mixture), "noise")[0])
    return MixtureScorer(np.stack(references), mixture, rate)


def si_sdr_table(references: np.ndarray, estimates: np.ndarray) -> np.ndarray:
    """[i, k]: the SI-SDR of estimate k against reference i, J x J."""
    count = len(references)
    return np.array([[si_sdr(references[i], estimates[k]) for k in range(count)] for i in range(count)])


def best_permutation(table: np.ndarray) -> list[int]:
    """The order of the J speaker estimates that maximises their total SI-SDR (`table` from si_sdr_table)."""
    count = len(table)
    return list(max(itertools.permutations(range(count)), key=lambda p: sum(table[i, p[i]] for i in range(count))))


def score_mixture(
    mixtures: MixtureDir,
    decode_dir: str | Path,
    key: str,
    permutation_invariant: bool = False,
    scorer: MixtureScorer | None = None,
) -> list[dict]:
    """The score rows of mixture `key` in `decode_dir`: one per speaker, with the estimate scored against it
    (1-based) and whether that order was the best (`permutation_invariant`) or the fixed one. `scorer` is the
    mixture's (from mixture_scorer), shared by the decode dirs of one job; built here when not given."""
    scorer = mixture_scorer(mixtures, key) if scorer is None else scorer
    length = scorer.references.shape[1]
    estimates = []
    for path in output_paths(Path(decode_dir), key, len(mixtures.sources)):
        if not path.is_file():
            raise InputFileError(f"{path}: estimate of mixture {key} does not exist (decode it first)")
        estimates.append(_read_same_length(path, length, "estimate")[0])
    estimates = np.stack(estimates[:-1])  # the noise estimate is checked but plays no part in the speakers' scores
    table = si_sdr_table(scorer.references[:-1], estimates)
    best = best_permutation(table)
    order = best if permutation_invariant else list(range(len(estimates)))
    scores = scorer.scores(estimates[order])
    budget = error_budget(scorer.references, estimates, order, best, table)
    speakers = mixtures.speakers[key]  # read_manifest checked one entry per mixture of wav.scp
    condition = mixtures.entry(key, mixtures.conditions, "utt2cond")
    permutation = "best" if permutation_invariant else "fixed"
    return [
        {
            "key": key,
            "speaker": speaker,
            "condition": condition,
            **score,
            "estimate": str(index + 1),
            "permutation": permutation,
            **shares,
        }
        for speaker, score, index, shares in zip(speakers, scores, order, budget)
    ]


def format_scores(rows: list[dict]) -> str:
    """The TSV text of score rows (header COLUMNS; metrics with 4 decimals, "nan" where undefined, "inf" or "-inf"
    where infinite, e.g. the SI-SDR of a silent estimate)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row[name] if isinstance(row[name], str) else _number(row[name]) for name in COLUMNS])
    return out.getvalue()


def _number(value: float) -> str:
    return str(value) if math.isinf(value) or math.isnan(value) else f"{value:.4f}"


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise InputFileError(f"{path}: header {reader.fieldnames} is not {list(COLUMNS)}")
        return list(reader)


def part_path(decode_dir: str | Path, nj: int, job: int) -> Path:
    return Path(decode_dir) / f"split{nj}" / f"scores.{job}.tsv"


def score_job(
    mix_dir: str | Path,
    decode_dirs: list[str | Path],
    keys: list[str],
    nj: int,
    job: int,
    permutation_invariant: Collection[str | Path] = (),
) -> list[Path]:
    """Score the mixtures `keys` of every decode dir into its part of job `job` of `nj`, the decode dirs named in
    `permutation_invariant` in their best speaker order (avvae.evaluation.scoring_order chooses them); returns the
    parts written (a decode dir whose part or scores.tsv exists is skipped)."""
    decode_dirs = [Path(d) for d in decode_dirs]
    invariant = {Path(d).resolve() for d in permutation_invariant}
    pending = []
    for decode_dir in decode_dirs:
        done = [p for p in (decode_dir / "scores.tsv", part_path(decode_dir, nj, job)) if p.is_file()]
        if done:
            log.info("%s exists, nothing to do for %s", done[0], decode_dir)
        else:
            pending.append(decode_dir)
    if not pending:
        return []
    mixtures = MixtureDir.read(mix_dir)
    rows: dict[Path, list[dict]] = {decode_dir: [] for decode_dir in pending}
    for key in tqdm(keys, desc=f"score {len(pending)} dir(s)", unit="mix", mininterval=2.0):
        scorer = mixture_scorer(mixtures, key)
        for decode_dir in pending:
            rows[decode_dir] += score_mixture(mixtures, decode_dir, key, decode_dir.resolve() in invariant, scorer)
    for decode_dir in pending:
        write_text_atomic(part_path(decode_dir, nj, job), format_scores(rows[decode_dir]))
    return [part_path(decode_dir, nj, job) for decode_dir in pending]


def merge_scores(mix_dir: str | Path, decode_dir: str | Path, nj: int) -> Path:
    """Join the parts of `nj` jobs into `<decode_dir>/scores.tsv`, sorted by key; every mixture must be scored."""
    output = Path(decode_dir) / "scores.tsv"
    if output.is_file():
        log.info("%s exists, nothing to do", output)
        return output
    rows = []
    for job in range(1, nj + 1):
        part = part_path(decode_dir, nj, job)
        if not part.is_file():
            raise InputFileError(f"{part}: scores of job {job} of {nj} do not exist (run that job)")
        rows += read_rows(part)
    expected = MixtureDir.read(mix_dir).keys
    missing = sorted(set(expected) - {row["key"] for row in rows})
    if missing:
        raise InputFileError(f"{decode_dir}: {len(missing)} mixture(s) of {mix_dir} not scored, e.g. {missing[:3]}")
    rows.sort(key=lambda row: row["key"])
    write_text_atomic(output, format_scores(rows))
    log.info("%s: %d rows of %d mixtures", output, len(rows), len(expected))
    return output
