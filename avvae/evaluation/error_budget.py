"""Where a speaker's separation error comes from: the speaker order, the other talkers, the noise, or neither.

For each speaker j of a mixture:
- `order_loss` (dB): the SI-SDR of the estimate the best speaker permutation gives j minus that of the estimate
  scored against j. 0 for systems scored in the best order; for a fixed-order system it is what a wrong
  assignment of estimates to speakers costs (per speaker it can be negative, the mixture's sum cannot).
- In the best order, the SI-SDR error r = e - a s_j (e the estimate, a s_j its projection on the reference) is
  regressed by least squares on the other talkers' references and the noise reference: r = sum_k b_k s_k + c n + u.
  `leakage_share`, `noise_share` and `artifact_share` (%) are |sum_k b_k s_k|^2, |c n|^2 and |u|^2 over |r|^2: what
  of the error is the other talkers, the noise, and neither (distortion of the target, musical noise). The first
  two may overlap slightly (references are not exactly orthogonal), so the three sum to about, not exactly, 100.
All are NaN where undefined (a silent estimate, a perfect one).
"""

from __future__ import annotations

import math

import numpy as np

BUDGET_COLUMNS = ("order_loss", "leakage_share", "noise_share", "artifact_share")


def _zero_mean(signal: np.ndarray) -> np.ndarray:
    signal = np.asarray(signal, dtype=np.float64)
    return signal - signal.mean(-1, keepdims=True)


def error_shares(references: np.ndarray, estimate: np.ndarray, speaker: int) -> dict[str, float]:
    """Leakage, noise and artifact shares (%) of the SI-SDR error of `estimate` [L] for speaker `speaker` of
    `references` [J + 1, L] (the speakers, then the noise)."""
    references, estimate = _zero_mean(references), _zero_mean(estimate)
    target = references[speaker]
    projection = float(np.dot(estimate, target)) / float(np.dot(target, target)) * target
    error = estimate - projection
    energy = float(np.dot(error, error))
    if energy == 0 or not np.any(projection):
        return {name: math.nan for name in BUDGET_COLUMNS[1:]}
    others = [k for k in range(len(references) - 1) if k != speaker]
    basis = references[others + [len(references) - 1]]
    weights = np.linalg.lstsq(basis.T, error, rcond=None)[0]
    leakage = weights[:-1] @ basis[:-1]
    noise = weights[-1] * basis[-1]
    residual = error - leakage - noise
    return {
        "leakage_share": 100.0 * float(np.dot(leakage, leakage)) / energy,
        "noise_share": 100.0 * float(np.dot(noise, noise)) / energy,
        "artifact_share": 100.0 * float(np.dot(residual, residual)) / energy,
    }


def error_budget(
    references: np.ndarray, estimates: np.ndarray, scored: list[int], best: list[int], si_sdrs: np.ndarray
) -> list[dict[str, float]]:
    """BUDGET_COLUMNS of each speaker j: `scored[j]` and `best[j]` are the estimates scored against j and given to
    j by the best permutation, `si_sdrs[i, k]` the SI-SDR of estimate k against reference i (precomputed by the
    permutation search)."""
    budget = []
    for j, (mine, right) in enumerate(zip(scored, best)):
        same = mine == right or si_sdrs[j, right] == si_sdrs[j, mine]  # equal: also two silent estimates (-inf)
        budget.append(
            {
                "order_loss": 0.0 if same else float(si_sdrs[j, right] - si_sdrs[j, mine]),
                **error_shares(references, estimates[right], j),
            }
        )
    return budget
