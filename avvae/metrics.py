"""Separation metrics of one mixture's estimates against its references (DESIGN.md, Metrics).

- SDR, SIR, SAR: BSS Eval v4 (museval), all J speakers and the noise evaluated together, so that a speaker's
  SIR counts the other speakers and the noise as interference. The whole signal is one window (BSS_WINDOW is
  infinite: `window = hop = len(signal)`): the utterances are a few seconds long, and museval's 1 s default
  windows would give NaN for windows where a speaker is silent. v4 as `museval.evaluate` runs it: distortion
  filters of FILTERS_LEN taps fitted on the whole signal, the "images" criterion (SiSEC's; SDR gives no credit
  for a filtered target, unlike BSS Eval v3's `bss_eval_sources`).
- SI-SDR: scale-invariant SDR of zero-mean signals (Le Roux et al. 2019).
- PESQ: ITU-T P.862.2 wide-band at 16 kHz (`pesq`); NaN, with a warning, where it finds no utterance.
- STOI: classic STOI (`pystoi`).
Each metric is also given as the improvement over the unprocessed mixture (the metric of the estimate minus
the same metric with the mixture as every source's estimate).
"""

from __future__ import annotations

import importlib.util
import logging
import math
from functools import cache
from types import ModuleType

import numpy as np
import pesq
import pystoi

log = logging.getLogger(__name__)

BSS_WINDOW = math.inf
FILTERS_LEN = 512
PESQ_RATE = 16000
METRICS = ("sdr", "sir", "sar", "si_sdr", "pesq", "stoi")


@cache
def _museval_metrics() -> ModuleType:
    """`museval.metrics` without the package's __init__, which imports musdb and stempeg and so needs ffmpeg
    (for MUSDB track I/O we never use); the metrics module itself needs only numpy and scipy."""
    spec = importlib.util.find_spec("museval")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("museval is not installed (see requirements.txt)")
    location = f"{spec.submodule_search_locations[0]}/metrics.py"
    module_spec = importlib.util.spec_from_file_location("avvae._museval_metrics", location)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def bss_eval(references: np.ndarray, estimates: np.ndarray) -> dict[str, np.ndarray]:
    """SDR, SIR, SAR (dB) of each estimate [S, L] against its reference [S, L], all S sources together.

    NaN for every source, with a warning, when a reference or an estimate is silent (BSS Eval is undefined).
    """
    references = np.asarray(references, dtype=np.float64)
    estimates = np.asarray(estimates, dtype=np.float64)
    if references.shape != estimates.shape or references.ndim != 2:
        raise ValueError(f"references {references.shape} and estimates {estimates.shape}: expected equal [S, L]")
    if np.any(np.all(references == 0, axis=1)) or np.any(np.all(estimates == 0, axis=1)):
        log.warning("BSS Eval: a reference or an estimate is silent, SDR/SIR/SAR set to NaN")
        nan = np.full(len(references), np.nan)
        return {"sdr": nan, "sir": nan.copy(), "sar": nan.copy()}
    length = references.shape[1]
    window = length if math.isinf(BSS_WINDOW) else int(BSS_WINDOW)
    sdr, _, sir, sar, _ = _museval_metrics().bss_eval(
        references[..., None], estimates[..., None], window=window, hop=window, compute_permutation=False,
        filters_len=FILTERS_LEN, framewise_filters=False, bsseval_sources_version=False,
    )
    return {"sdr": sdr[:, 0], "sir": sir[:, 0], "sar": sar[:, 0]}


def _ratio_db(num: float, den: float) -> float:
    return math.inf if den == 0 else 10 * math.log10(num / den)


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR (dB): the zero-mean estimate against its projection on the zero-mean reference."""
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    reference = reference - reference.mean()
    estimate = estimate - estimate.mean()
    energy = float(np.dot(reference, reference))
    if energy == 0:
        raise ValueError("SI-SDR: the reference is silent")
    target = float(np.dot(estimate, reference)) / energy * reference
    return _ratio_db(float(np.dot(target, target)), float(np.sum((estimate - target) ** 2)))


def pesq_wb(reference: np.ndarray, estimate: np.ndarray, rate: int) -> float:
    """Wide-band PESQ (MOS-LQO); NaN with a warning where PESQ cannot score the pair (no utterance found...)."""
    if rate != PESQ_RATE:
        raise ValueError(f"wide-band PESQ needs {PESQ_RATE} Hz audio, got {rate} Hz")
    try:
        return float(pesq.pesq(rate, np.asarray(reference, np.float32), np.asarray(estimate, np.float32), "wb"))
    except pesq.PesqError as error:
        log.warning("PESQ failed (%s: %s), set to NaN", type(error).__name__, error)
        return math.nan


def stoi(reference: np.ndarray, estimate: np.ndarray, rate: int) -> float:
    """Classic STOI in [0, 1] (pystoi resamples to 10 kHz itself)."""
    return float(pystoi.stoi(np.asarray(reference, np.float64), np.asarray(estimate, np.float64), rate))


def source_metrics(references: np.ndarray, estimates: np.ndarray, rate: int) -> list[dict[str, float]]:
    """All METRICS of each of the first J estimates, where rows 0..J-1 of [J + 1, L] are the speakers and the last
    row the noise (which enters BSS Eval as an interferer but is not scored itself)."""
    bss = bss_eval(references, estimates)
    return [
        {
            "sdr": float(bss["sdr"][j]), "sir": float(bss["sir"][j]), "sar": float(bss["sar"][j]),
            "si_sdr": si_sdr(references[j], estimates[j]),
            "pesq": pesq_wb(references[j], estimates[j], rate),
            "stoi": stoi(references[j], estimates[j], rate),
        }
        for j in range(len(references) - 1)
    ]


def separation_scores(
    references: np.ndarray, estimates: np.ndarray, mixture: np.ndarray, rate: int
) -> list[dict[str, float]]:
    """Per speaker: METRICS of the estimates and `<metric>_imp`, their improvement over the mixture.

    `references` and `estimates` are [J + 1, L] (speakers, then the noise), `mixture` is [L].
    """
    scores = source_metrics(references, estimates, rate)
    baseline = source_metrics(references, np.broadcast_to(mixture, references.shape), rate)
    for score, base in zip(scores, baseline):
        score.update({f"{name}_imp": score[name] - base[name] for name in METRICS})
    return scores
