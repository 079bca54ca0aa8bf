"""When MCEM may stop early: the log-likelihood has settled (McemConfig.tolerance, tolerance_window).

The per-iteration log-likelihood is a Monte Carlo average over the kept draws, so it jitters from one iteration to
the next; comparing it with its value `window` iterations back, rather than with the previous one, lets a slow
steady climb count as not converged while the jitter of a settled chain stays below the tolerance."""

from __future__ import annotations

from typing import Sequence


def relative_change(log_likelihoods: Sequence[float], window: int) -> float:
    """|L_i - L_{i-window}| / |L_{i-window}| for the last iteration i; infinite until there are window + 1 values."""
    if len(log_likelihoods) <= window:
        return float("inf")
    last, before = log_likelihoods[-1], log_likelihoods[-1 - window]
    return abs(last - before) / max(abs(before), 1e-30)


def has_converged(log_likelihoods: Sequence[float], tolerance: float, window: int) -> bool:
    """Whether the log-likelihood has changed by less than `tolerance` (relative) over the last `window`
    iterations; never with tolerance 0 (off: the fixed iteration count)."""
    return relative_change(log_likelihoods, window) < tolerance
