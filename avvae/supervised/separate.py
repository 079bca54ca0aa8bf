"""Separation with the mask network: for each speaker j, a mask from (mixture, lips_j) applied to the mixture's
STFT; the noise estimate is what the speakers' estimates leave of the mixture."""

from __future__ import annotations

import torch

from avvae.fileio.feature_files import FeatureFileError
from avvae.separation.decode import Mixture, Separation
from avvae.supervised.model import MaskNet


class SupervisedMethod:
    """A decoding method (Mixture -> Separation) around a trained MaskNet; `source` names it in errors."""

    def __init__(self, model: MaskNet, source: str = "the mask network"):
        self.model, self.source = model, source

    @torch.no_grad()
    def __call__(self, mixture: Mixture) -> Separation:
        frames = mixture.stft.shape[0]
        if not mixture.lips or any(lips.shape[0] != frames for lips in mixture.lips):
            found = [tuple(lips.shape) for lips in mixture.lips]
            raise FeatureFileError(
                f"{mixture.key}: {self.source} needs each speaker's lips over the {frames} STFT frames, found {found}"
            )
        device = self.model.input_mean.device
        count = len(mixture.lips)
        power = mixture.power.float().to(device).expand(count, *mixture.stft.shape)
        masks = self.model(power, torch.stack(mixture.lips).to(device)).cpu()
        sources = masks.to(mixture.stft.dtype) * mixture.stft
        return Separation(sources, mixture.stft - sources.sum(0))
