"""MCEM with VAEs trained by the project's own trainer (the other MCEM tests use hand-set synthetic decoders), on
voiced speakers whose lips follow their energy (tests/training_data.py): two held-out speakers are separated far
above the mixture, and the lips decide which output is whose (swap the lips, the outputs swap). The AV-VAE
(lips in the encoder and the prior) and the CVAE (lips in the decoder too, the path `--si_models cvae` runs)."""

import numpy as np
import pytest
import torch

from avvae.evaluation.metrics import si_sdr
from avvae.fileio.feature_files import open_features
from avvae.mcem import McemConfig, separate
from avvae.models import SpeechVAE, load_model
from avvae.separation.decode import stft_config_of
from avvae.stft import istft
from avvae.training.distributed import Placement
from avvae.training.setup import speaker_independent
from avvae.training.trainer import Trainer
from tests.training_data import small_config, torch_threads

pytestmark = pytest.mark.slow

MCEM = McemConfig(iterations=10, draws=10, burn_in=5, final_draws=10, final_burn_in=5, threads=1)
PAIRS = (("spk0_000", "spk1_000"), ("spk0_002", "spk1_003"))  # held-out speakers' utterances, mixed in pairs


@pytest.fixture(scope="module", params=["avvae", "cvae"])
def model(request, training_feats, tmp_path_factory) -> SpeechVAE:
    """A small model of that kind, trained 4 epochs by the Trainer on the training speakers (one thread)."""
    with torch_threads(1):
        config = small_config(request.param, epochs=4)
        run = speaker_independent(config, training_feats.train, training_feats.dev, training_feats.noise)
        exp_dir = tmp_path_factory.mktemp(request.param)
        trainer = Trainer(config, run.schedule, exp_dir, Placement(0, 1, torch.device("cpu")))
        return load_model(trainer.fit(run.model, run.train, run.dev))


def held_out_mixtures(feats) -> list[tuple[torch.Tensor, list[torch.Tensor], np.ndarray, int, object]]:
    """Each pair summed in the STFT domain: (mixture STFT, the two speakers' lips, references [2, L], length, STFT
    config)."""
    mixtures = []
    with open_features(feats.test) as handle:
        config = stft_config_of(handle)
        for pair in PAIRS:
            groups = [handle[key] for key in pair]
            frames = min(len(group["stft"]) for group in groups)
            length = min(int(group.attrs["num_samples"]) for group in groups)
            sources = torch.stack([torch.from_numpy(group["stft"][:frames]) for group in groups])
            lips = [torch.from_numpy(group["lips"][:frames]).float() / 255.0 for group in groups]
            mixtures.append((sources.sum(0), lips, istft(sources, config, length).numpy(), length, config))
    return mixtures


def si_sdr_matrix(references: np.ndarray, estimates: np.ndarray) -> np.ndarray:
    """SI-SDR (dB) of estimate j against reference i, [i, j]."""
    return np.array([[si_sdr(reference, estimate) for estimate in estimates] for reference in references])


def test_the_lips_decide_which_output_is_whose(model, training_feats):
    for stft, lips, references, length, config in held_out_mixtures(training_feats):
        mixture = istft(stft, config, length).numpy()
        unprocessed = np.array([si_sdr(reference, mixture) for reference in references])
        given = si_sdr_matrix(references, istft(separate(stft, lips, [model, model], MCEM).sources, config, length))
        swapped = si_sdr_matrix(
            references, istft(separate(stft, lips[::-1], [model, model], MCEM).sources, config, length)
        )
        assert np.all(np.diag(given) > unprocessed + 3.0), (unprocessed, given)
        assert np.all(np.diag(given) > np.diag(given[::-1]) + 6.0), given  # output j is speaker j, not the other
        assert np.all(np.diag(swapped[::-1]) > np.diag(swapped) + 6.0), swapped  # ... and the other with swapped lips
        assert np.all(np.diag(swapped[::-1]) > unprocessed + 3.0), (unprocessed, swapped)
