"""BSS Eval with the whole signal as one window, the references' correlations factorised once for all estimates.

The decomposition is museval 0.4.1's `bss_eval` with `window = hop = len(signal)` (one window, so v4's filters
fitted on the whole signal and v3's framewise ones are the same filters): an estimate e of source j is projected
on the FILTERS_LEN delays of its own reference (P_j e) and of all references (P e), by least squares through the
Gram matrix G of the delayed references (museval's `G + eps I`, solved with an LU factorisation like its
`np.linalg.solve`). Then, with s the reference zero-padded by FILTERS_LEN - 1 samples:

- `sdr` (v4, images mode): |s|^2 / |e - s|^2, the plain scale-dependent SNR (it credits no filtering of the target);
- `sir`: |P_j e|^2 / |P e - P_j e|^2, `sar`: |P e|^2 / |e - P e|^2 (v4 images mode);
- `sdr_v3` (v3 `bss_eval_sources`, what older papers report): |P_j e|^2 / |e - P_j e|^2, which credits a filtered
  target, and does not depend on which other references are given.

What is shared: the references' spectra, G and its LU factors (the large cost, S * FILTERS_LEN square) depend on
the references only, so every system's estimates of a mixture reuse them; each estimate then costs a few FFTs and
two triangular solves. An all-zero estimate has SDR 0 dB (it removes everything: the error is the reference) and
SIR, SAR, v3 SDR undefined (0/0): NaN.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy.fft import irfft, rfft
from scipy.linalg import lu_factor, lu_solve

log = logging.getLogger(__name__)

FILTERS_LEN = 512
BSS_METRICS = ("sdr", "sir", "sar", "sdr_v3")


def _db(num: float, den: float) -> float:
    """10 log10(num / den) as museval's `_safe_db` (inf for a zero denominator), NaN for 0/0."""
    if den == 0:
        return math.nan if num == 0 else math.inf
    return 10 * math.log10(num / den)


class WholeSignalBssEval:
    """BSS Eval of estimates against fixed references [S, L] (e.g. the speakers and the noise of one mixture)."""

    def __init__(self, references: np.ndarray, filters_len: int = FILTERS_LEN) -> None:
        references = np.asarray(references, dtype=np.float64)
        if references.ndim != 2:
            raise ValueError(f"references {references.shape}: expected [S, L]")
        self.references = references
        self.filters_len = filters_len
        count, length = references.shape
        self.silent_reference = bool(np.any(np.all(references == 0, axis=1)))
        if self.silent_reference:
            return
        self._n_fft = 2 ** math.ceil(math.log2(length + filters_len - 1))
        self._spectra = rfft(references, self._n_fft)  # [S, F]
        correlations = irfft(self._spectra[:, None] * self._spectra[None].conj(), self._n_fft)  # [S, S, n_fft]
        lags = np.arange(filters_len)
        # G[(j, a), (i, b)] = <reference j delayed by a, reference i delayed by b> = correlations[j, i, b - a]
        gram = correlations[:, :, (lags[None] - lags[:, None]) % self._n_fft]  # [S, S, L, L]
        gram = gram.transpose(0, 2, 1, 3).reshape(count * filters_len, count * filters_len)
        eps = np.finfo(float).eps
        self._all = lu_factor(gram + eps * np.eye(len(gram)))
        own = [
            gram[j * filters_len : (j + 1) * filters_len, j * filters_len : (j + 1) * filters_len] for j in range(count)
        ]
        self._own = [lu_factor(block + eps * np.eye(filters_len)) for block in own]
        self._delays = (-lags) % self._n_fft

    def __call__(self, estimates: np.ndarray) -> dict[str, np.ndarray]:
        """BSS_METRICS (dB) of estimates [K, L], row k the estimate of reference k (K <= S: e.g. only the speakers;
        the other references still count as interferers). NaN for every row, with a warning, when a reference
        is silent (BSS Eval is undefined)."""
        estimates = np.asarray(estimates, dtype=np.float64)
        count, length = self.references.shape
        if estimates.ndim != 2 or estimates.shape[0] > count or estimates.shape[1] != length:
            raise ValueError(f"estimates {estimates.shape}: expected [K <= {count}, {length}] like the references")
        if self.silent_reference:
            log.warning("BSS Eval: a reference is silent, SDR/SIR/SAR set to NaN")
            return {name: np.full(len(estimates), np.nan) for name in BSS_METRICS}
        rows = [self._decompose(k, estimate) for k, estimate in enumerate(estimates)]
        return {name: np.array([row[name] for row in rows]) for name in BSS_METRICS}

    def _decompose(self, k: int, estimate: np.ndarray) -> dict[str, float]:
        count, length = self.references.shape
        filters_len, n_fft = self.filters_len, self._n_fft
        padded = length + filters_len - 1
        target = np.zeros(padded)
        target[:length] = self.references[k]
        error = -target
        error[:length] += estimate
        sdr = _db(float(np.dot(target, target)), float(np.dot(error, error)))
        if not np.any(estimate):
            return {"sdr": sdr, "sir": math.nan, "sar": math.nan, "sdr_v3": math.nan}
        spectrum = rfft(estimate, n_fft)
        # D[j, a] = <reference j delayed by a, estimate>
        cross = irfft(self._spectra * spectrum.conj(), n_fft)[:, self._delays]  # [S, L]
        filters = lu_solve(self._all, cross.reshape(-1)).reshape(count, filters_len)
        own_filter = lu_solve(self._own[k], cross[k])
        projection = irfft(np.sum(self._spectra * rfft(filters, n_fft), axis=0), n_fft)[:padded]
        own = irfft(self._spectra[k] * rfft(own_filter, n_fft), n_fft)[:padded]
        padded_estimate = np.zeros(padded)
        padded_estimate[:length] = estimate
        own_energy = float(np.dot(own, own))
        return {
            "sdr": sdr,
            "sir": _db(own_energy, float(np.sum((projection - own) ** 2))),
            "sar": _db(float(np.dot(projection, projection)), float(np.sum((padded_estimate - projection) ** 2))),
            "sdr_v3": _db(own_energy, float(np.sum((padded_estimate - own) ** 2))),
        }
