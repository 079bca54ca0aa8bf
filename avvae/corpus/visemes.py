"""Mouth-shape trajectories from a phoneme timeline: phoneme -> viseme targets, coarticulated by smoothing.

Each phoneme has a target for five articulatory parameters in [0, 1] (ARTICULATORS) and a dominance: how strongly
it imposes its shape on its neighbours (a bilabial closure wins over a vowel, /h/ takes its neighbours' shape),
as in Cohen & Massaro's coarticulation model. The trajectory is the dominance-weighted Gaussian average of the
targets, shifted earlier a little because the lips anticipate the sound.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from avvae.corpus.synth import Phone

ARTICULATORS = ("open", "width", "round", "teeth", "tongue")

# Targets (open, width, round, teeth, tongue, dominance) shared by the sounds of one place of articulation.
_BILABIAL = (0.00, 0.45, 0.15, 0.0, 0.0, 8.0)
_LABIODENTAL = (0.10, 0.50, 0.00, 0.9, 0.0, 4.0)
_DENTAL = (0.28, 0.55, 0.00, 0.8, 0.9, 3.0)
_ALVEOLAR = (0.25, 0.55, 0.00, 0.6, 0.4, 1.5)
_SIBILANT = (0.15, 0.60, 0.00, 1.0, 0.0, 3.0)
_POSTALVEOLAR = (0.20, 0.35, 0.75, 0.8, 0.0, 3.0)
_VELAR = (0.32, 0.50, 0.00, 0.3, 0.0, 0.8)

# SAMPA symbol: (open, width, round, teeth, tongue, dominance)
VISEMES: dict[str, tuple[float, float, float, float, float, float]] = {
    "_": (0.00, 0.50, 0.10, 0.0, 0.0, 2.0),
    "p": _BILABIAL,
    "b": _BILABIAL,
    "m": _BILABIAL,
    "f": _LABIODENTAL,
    "v": _LABIODENTAL,
    "T": _DENTAL,
    "D": _DENTAL,
    "t": _ALVEOLAR,
    "d": _ALVEOLAR,
    "n": _ALVEOLAR,
    "s": _SIBILANT,
    "z": _SIBILANT,
    "S": _POSTALVEOLAR,
    "Z": _POSTALVEOLAR,
    "tS": _POSTALVEOLAR,
    "dZ": _POSTALVEOLAR,
    "k": _VELAR,
    "g": _VELAR,
    "N": _VELAR,
    "l": (0.32, 0.55, 0.00, 0.5, 0.7, 1.0),
    "r": (0.25, 0.40, 0.55, 0.3, 0.0, 1.5),
    "w": (0.12, 0.15, 1.00, 0.0, 0.0, 5.0),
    "j": (0.20, 0.75, 0.00, 0.6, 0.0, 1.5),
    "h": (0.40, 0.50, 0.00, 0.3, 0.0, 0.3),
    "i": (0.25, 1.00, 0.00, 0.8, 0.0, 1.5),
    "I": (0.35, 0.85, 0.00, 0.6, 0.0, 1.5),
    "e": (0.45, 0.85, 0.00, 0.5, 0.0, 1.5),
    "E": (0.55, 0.80, 0.00, 0.4, 0.0, 1.5),
    "{": (0.75, 0.85, 0.00, 0.3, 0.1, 1.5),
    "a": (0.90, 0.70, 0.00, 0.2, 0.1, 1.5),
    "A": (1.00, 0.60, 0.10, 0.1, 0.1, 1.5),
    "Q": (0.85, 0.45, 0.50, 0.1, 0.0, 1.5),
    "O": (0.70, 0.35, 0.80, 0.1, 0.0, 1.5),
    "o": (0.50, 0.25, 0.90, 0.1, 0.0, 1.5),
    "U": (0.35, 0.30, 0.75, 0.1, 0.0, 1.5),
    "u": (0.25, 0.15, 1.00, 0.0, 0.0, 1.5),
    "y": (0.25, 0.20, 1.00, 0.0, 0.0, 1.5),
    "V": (0.65, 0.60, 0.10, 0.2, 0.1, 1.5),
    "@": (0.40, 0.55, 0.10, 0.3, 0.1, 0.8),
    "3": (0.45, 0.50, 0.35, 0.3, 0.0, 1.2),
}
NEUTRAL = (0.35, 0.55, 0.10, 0.3, 0.1, 1.0)  # for symbols we do not know

# Symbols that the MBROLA voices' phoneme sets use for (near) equivalents of the table's sounds.
ALIASES = {
    "4": "d",
    "5": "l",
    "L": "l",
    "6": "V",
    "R": "r",
    "rs": "S",
    "J": "j",
    "dj": "dZ",
    "tj": "tS",
    "&": "{",
    "$": "o",
    "x": "k",
    "c": "k",
    "C": "S",
    "ph": "p",
    "th": "t",
    "kh": "k",
    "ts": "s",
    "pf": "f",
    "2": "@",
    "9": "@",
    "Y": "y",
    "B": "v",
    "G": "g",
    "q": "g",
    "u0": "u",
}
# Consonant clusters that a phoneme set writes as one symbol (gr2: X is /ks/).
CLUSTERS = {"X": ("k", "s")}
DIPHTHONGS = {
    "eI": ("e", "I"),
    "aI": ("a", "I"),
    "OI": ("O", "I"),
    "@U": ("@", "U"),
    "aU": ("a", "U"),
    "I@": ("I", "@"),
    "e@": ("e", "@"),
    "U@": ("U", "@"),
    "EI": ("E", "I"),
    "AI": ("A", "I"),
    "Ei": ("E", "i"),
    "Au": ("A", "u"),
    "oU": ("o", "U"),
    "ai": ("a", "i"),
    "au": ("a", "u"),
    "ei": ("e", "i"),
    "ou": ("o", "u"),
    "OY": ("O", "y"),
}


def _known(symbol: str) -> str | None:
    symbol = ALIASES.get(symbol, symbol)
    return symbol if symbol in VISEMES else None


def viseme_parts(symbol: str) -> list[str | None]:
    """The table symbols a phoneme is rendered as, in order (two for a diphthong); None means unknown."""
    if symbol == "_":
        return ["_"]
    base = symbol.split("_")[0].translate(str.maketrans("", "", ":=~'\""))  # t_h -> t, u: -> u
    if _known(base):
        return [_known(base)]
    if base in DIPHTHONGS or base in CLUSTERS:
        return list(DIPHTHONGS.get(base) or CLUSTERS[base])
    for cut in range(1, len(base)):
        first, second = _known(base[:cut]), _known(base[cut:])
        if first and second:
            return [first, second]
    return [None]


def _targets(symbol: str | None) -> np.ndarray:
    return np.asarray(VISEMES[symbol] if symbol else NEUTRAL, dtype=np.float64)


def mouth_trajectory(
    timeline: list[Phone],
    frame_times: np.ndarray,
    smoothing_s: float = 0.03,
    anticipation_s: float = 0.02,
    resolution_s: float = 0.001,
) -> np.ndarray:
    """Articulator values [len(frame_times), 5] (columns as ARTICULATORS) at the given times (seconds)."""
    duration = max(timeline[-1].end, float(frame_times[-1]) if len(frame_times) else 0.0)
    steps = int(np.ceil(duration / resolution_s)) + 1
    weighted = np.zeros((steps, len(ARTICULATORS)))
    weights = np.zeros(steps)
    for phone in timeline:
        parts = viseme_parts(phone.symbol)
        edges = np.linspace(phone.start, phone.end, len(parts) + 1)
        for part, start, end in zip(parts, edges[:-1], edges[1:]):
            first, last = int(round(start / resolution_s)), int(round(end / resolution_s))
            target = _targets(part)
            weighted[first:last] = target[:5] * target[5]
            weights[first:last] = target[5]
    silence = _targets("_")
    unset = weights == 0  # the tail past the last phone: relaxed closed mouth
    weighted[unset], weights[unset] = silence[:5] * silence[5], silence[5]
    sigma = smoothing_s / resolution_s
    smooth = gaussian_filter1d(weighted, sigma, axis=0, mode="nearest")
    smooth /= gaussian_filter1d(weights, sigma, mode="nearest")[:, None]
    index = np.clip(np.rint((np.asarray(frame_times) + anticipation_s) / resolution_s).astype(np.int64), 0, steps - 1)
    return smooth[index]
