"""The oracle upper bound: the ideal ratio mask of each source, computed from the true references.

mask_j = |S_j|^2 / (sum_k |S_k|^2 + |B|^2), applied to the mixture STFT (and the noise's mask alike), with the
references' STFTs at the mixture's feature scale, as stored in the mixture's feats.h5 group.
"""

from __future__ import annotations

import torch

from avvae.separation.decode import Mixture, Separation

EPS = 1e-12


def ideal_ratio_mask(mixture: Mixture) -> Separation:
    """Separate with the ideal ratio masks of the speakers and the noise (an upper bound, not a method)."""
    powers = torch.cat([mixture.sources, mixture.noise[None]]).abs().square()
    estimates = powers / powers.sum(0).clamp_min(EPS) * mixture.stft
    return Separation(estimates[:-1], estimates[-1])
