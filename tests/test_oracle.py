"""The oracle ideal ratio mask: masks that share the mixture out, and scores far above the mixture's."""

import torch

from avvae.evaluation.metrics import separation_scores
from avvae.separation.oracle import ideal_ratio_mask
from tests.datadirs import RATE
from tests.signals import two_speaker_mixture, waveforms


def test_masks_share_out_the_mixture_and_follow_the_source_powers():
    _, mixture = two_speaker_mixture(seed=0)
    separation = ideal_ratio_mask(mixture)
    total = separation.sources.sum(0) + separation.noise
    torch.testing.assert_close(total, mixture.stft, rtol=1e-4, atol=1e-5)
    masks = (separation.sources / mixture.stft).abs()
    dominant = mixture.sources[0].abs() > 10 * (mixture.sources[1].abs() + mixture.noise.abs())
    assert masks[0][dominant].min() > 0.95


def test_oracle_is_far_better_than_the_mixture():
    references, mixture = two_speaker_mixture(seed=1)
    scores = separation_scores(
        references, waveforms(ideal_ratio_mask(mixture), references.shape[1]), references.sum(0), RATE
    )
    for score in scores:
        assert score["sdr_imp"] > 10 and score["si_sdr_imp"] > 10
        assert score["pesq_imp"] > 0.5 and score["stoi_imp"] > 0.1
