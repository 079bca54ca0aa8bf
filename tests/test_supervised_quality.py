"""The supervised mask network against the outputs that BSS Eval v4 SDR rewards for nothing: a constant 0.5 mask
(attenuation alone) scores above the mixture by that SDR, so the network must beat it by a scale-invariant measure
(SI-SDR improvement over the mixture, which a constant mask leaves at 0 dB) on held-out speakers."""

import numpy as np
import torch

from avvae.bin.decode import METHODS, build_parser
from avvae.evaluation.metrics import bss_eval, si_sdr
from avvae.separation.decode import Separation
from avvae.stft import istft
from tests.test_supervised import _held_out_mixture, trained  # noqa: F401 (the trained network, a fixture)


def test_the_network_beats_a_constant_mask_by_si_sdr(trained, training_feats):  # noqa: F811
    _, _, _, exp_dir = trained
    method = METHODS["supervised"](
        build_parser().parse_args(["m.h5", "out", "--method", "supervised", "--model-dir", str(exp_dir)])
    )
    mixture, references, config = _held_out_mixture(training_feats)
    constant = Separation(0.5 * mixture.stft.expand(2, *mixture.stft.shape), 0.0 * mixture.stft)
    scores = {}
    for name, result in (("supervised", method(mixture)), ("constant", constant)):
        estimates = istft(torch.cat([result.sources, result.noise[None]]), config, mixture.num_samples).numpy()
        scores[name] = (
            bss_eval(references, estimates)["sdr"][:2],
            np.array([si_sdr(references[j], estimates[j]) for j in range(2)]),
        )
    mixed = istft(mixture.stft, config, mixture.num_samples).numpy()
    unprocessed = np.array([si_sdr(references[j], mixed) for j in range(2)])
    # what the constant mask shows: SDR gained by attenuation alone, no SI-SDR gained
    assert np.all(scores["constant"][0] > bss_eval(references, np.stack([mixed] * 3))["sdr"][:2] + 1.0), scores
    assert np.all(np.abs(scores["constant"][1] - unprocessed) < 1e-3)
    assert np.all(scores["supervised"][1] > unprocessed + 3.0), (unprocessed, scores)
