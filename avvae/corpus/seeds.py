"""Random generators keyed by names, so each utterance's draws depend on (seed, its id) and never on job order."""

from __future__ import annotations

import hashlib

import numpy as np


def name_entropy(name: str) -> int:
    """A stable 64-bit integer for a name (Python's hash() changes between processes)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def rng_for(seed: int, *names: str) -> np.random.Generator:
    """Generator for the thing called `names` in a corpus drawn with `seed`."""
    return np.random.default_rng(np.random.SeedSequence([seed, *(name_entropy(name) for name in names)]))
