"""Separation metrics of one mixture's estimates against its references (docs/design.md, "Metrics").

- SI-SDR: scale-invariant SDR of zero-mean signals (Le Roux et al. 2019); -inf for a silent estimate.
- STOI: classic STOI (`pystoi`).
- SDR, SIR, SAR: BSS Eval v4 as museval runs it (avvae.evaluation.bss_eval: the whole signal as one window, distortion
  filters of 512 taps fitted on the whole signal, the "images" criterion, all J speakers and the noise as references, so
  that a speaker's SIR counts the other speakers and the noise as interference). Its SDR is the plain
  scale-dependent SNR |s|^2 / |e - s|^2: it gives no credit for a filtered target, and an all-zero estimate scores
  0 dB, which at low input SNR is several dB above the mixture: SDR rewards mere attenuation.
- SDR v3: BSS Eval v3 `bss_eval_sources` SDR (museval/mir_eval), what older papers report.
- PESQ: ITU-T P.862.2 wide-band at 16 kHz (`pesq`); NaN where it finds no utterance, or the estimate is silent.
Each metric is also given as the improvement over the unprocessed mixture (the metric of the estimate minus
the same metric with the mixture as every speaker's estimate). Undefined values are NaN (a silent estimate's SIR,
SAR and v3 SDR are 0/0), never an error; the results tables count them.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from avvae.evaluation.bss_eval import WholeSignalBssEval

log = logging.getLogger(__name__)

PESQ_RATE = 16000
METRICS = ("sdr", "sir", "sar", "si_sdr", "pesq", "stoi", "sdr_v3")


def bss_eval(references: np.ndarray, estimates: np.ndarray) -> dict[str, np.ndarray]:
    """SDR, SIR, SAR and v3 SDR (dB) of each estimate [S, L] against its reference [S, L], all S sources together;
    NaN for every source, with a warning, when a reference is silent."""
    references = np.asarray(references, dtype=np.float64)
    estimates = np.asarray(estimates, dtype=np.float64)
    if references.shape != estimates.shape or references.ndim != 2:
        raise ValueError(f"references {references.shape} and estimates {estimates.shape}: expected equal [S, L]")
    return WholeSignalBssEval(references)(estimates)


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR (dB): the zero-mean estimate against its projection on the zero-mean reference; -inf
    when that projection is zero (a silent estimate, or one orthogonal to the reference), +inf for a perfect one."""
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    reference = reference - reference.mean()
    estimate = estimate - estimate.mean()
    energy = float(np.dot(reference, reference))
    if energy == 0:
        raise ValueError("SI-SDR: the reference is silent")
    target = float(np.dot(estimate, reference)) / energy * reference
    signal, residual = float(np.dot(target, target)), float(np.sum((estimate - target) ** 2))
    if signal == 0:
        return -math.inf
    return math.inf if residual == 0 else 10 * math.log10(signal / residual)


def pesq_wb(reference: np.ndarray, estimate: np.ndarray, rate: int) -> float:
    """Wide-band PESQ (MOS-LQO); NaN where it is undefined: a silent estimate (the `pesq` package fails on it),
    or, with a warning, a pair PESQ cannot score (no utterance found...)."""
    if rate != PESQ_RATE:
        raise ValueError(f"wide-band PESQ needs {PESQ_RATE} Hz audio, got {rate} Hz")
    if not np.any(estimate):
        return math.nan
    import pesq  # lazy, as pystoi below: a scoring job with nothing to do (or a merge) needs neither

    try:
        return float(pesq.pesq(rate, np.asarray(reference, np.float32), np.asarray(estimate, np.float32), "wb"))
    except pesq.PesqError as error:
        log.warning("PESQ failed (%s: %s), set to NaN", type(error).__name__, error)
        return math.nan


def stoi(reference: np.ndarray, estimate: np.ndarray, rate: int) -> float:
    """Classic STOI in [0, 1] (pystoi resamples to 10 kHz itself; a silent estimate scores 0)."""
    import pystoi  # lazy: it imports scipy.signal, a second of start-up for a scoring job with nothing to do

    return float(pystoi.stoi(np.asarray(reference, np.float64), np.asarray(estimate, np.float64), rate))


class MixtureScorer:
    """Scores any number of estimates of one mixture: the references' BSS Eval factorisation and the mixture's own
    scores (the baseline of the improvements) are computed once, and shared by every system scored.

    `references` is [J + 1, L] (the J speakers, then the noise, which enters BSS Eval as an interferer but is not
    scored itself), `mixture` is [L].
    """

    def __init__(self, references: np.ndarray, mixture: np.ndarray, rate: int) -> None:
        self.references = np.asarray(references, dtype=np.float64)
        if self.references.ndim != 2 or np.shape(mixture) != self.references.shape[1:]:
            raise ValueError(
                f"references {self.references.shape} and mixture {np.shape(mixture)}: expected [J + 1, L] and [L]"
            )
        self.rate = rate
        self._bss = WholeSignalBssEval(self.references)
        self.baseline = self.metrics(np.broadcast_to(mixture, (self.speakers, len(mixture))))

    @property
    def speakers(self) -> int:
        return len(self.references) - 1

    def metrics(self, estimates: np.ndarray) -> list[dict[str, float]]:
        """METRICS of each speaker's estimate, rows 0..J-1 of `estimates` (a noise row after them is ignored)."""
        estimates = np.asarray(estimates, dtype=np.float64)[: self.speakers]
        if estimates.shape != (self.speakers, self.references.shape[1]):
            raise ValueError(
                f"estimates {estimates.shape}: expected at least {self.speakers} rows of "
                f"{self.references.shape[1]} samples"
            )
        bss = self._bss(estimates)
        return [
            {
                **{name: float(bss[name][j]) for name in ("sdr", "sir", "sar")},
                "si_sdr": si_sdr(self.references[j], estimates[j]),
                "pesq": pesq_wb(self.references[j], estimates[j], self.rate),
                "stoi": stoi(self.references[j], estimates[j], self.rate),
                "sdr_v3": float(bss["sdr_v3"][j]),
            }
            for j in range(self.speakers)
        ]

    def scores(self, estimates: np.ndarray) -> list[dict[str, float]]:
        """Per speaker: METRICS of the estimates and `<metric>_imp`, their improvement over the mixture."""
        scores = self.metrics(estimates)
        for score, base in zip(scores, self.baseline):
            score.update({f"{name}_imp": score[name] - base[name] for name in METRICS})
        return scores


def separation_scores(
    references: np.ndarray, estimates: np.ndarray, mixture: np.ndarray, rate: int
) -> list[dict[str, float]]:
    """Per speaker: METRICS of the estimates and `<metric>_imp`, their improvement over the mixture.

    `references` and `estimates` are [J + 1, L] (speakers, then the noise), `mixture` is [L].
    """
    return MixtureScorer(references, mixture, rate).scores(estimates)
