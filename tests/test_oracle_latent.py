"""The oracle-latent reference row on mixtures drawn from hand-set speaker VAEs whose true latents are known: near the
Wiener filter at the true latents, above MCEM from the encoder, and nothing gained from the references when the
decoder cannot follow them."""

import dataclasses

import pytest
import torch

from avvae.bin.decode import METHODS, build_parser
from avvae.evaluation.metrics import si_sdr
from avvae.mcem import McemConfig, run_mcem
from avvae.mcem.oracle_latent import oracle_latent_separation, oracle_latents, separation_at
from avvae.mcem.problem import Problem
from avvae.mcem.synthetic import fit_encoders, sample_mixture, speaker_model
from avvae.models import save_model
from avvae.models.latent_fit import fit_latent
from avvae.separation.decode import Mixture

FAST = McemConfig(iterations=20, draws=20, burn_in=10, final_draws=30, final_burn_in=20, threads=1)


def si_sdrs(references: torch.Tensor, estimates: torch.Tensor) -> list[float]:
    """SI-SDR (dB) of each speaker's complex STFT estimate, real and imaginary parts as one signal."""
    return [
        si_sdr(torch.view_as_real(r).flatten().double().numpy(), torch.view_as_real(e).flatten().double().numpy())
        for r, e in zip(references, estimates)
    ]


@pytest.fixture(scope="module")
def speakers():
    """Decoders whose patterns stay within the range a latent fit can follow (contrast 0.25), and encoders fitted
    briefly, as a mixture encoder is: a start from which MCEM still has inference error to make up."""
    torch.set_num_threads(1)
    models = [speaker_model(1, contrast=0.25), speaker_model(2, contrast=0.25)]
    fit_encoders(models, 100, torch.Generator().manual_seed(0))
    return models


@pytest.fixture(scope="module")
def mixture(speakers):
    return sample_mixture(speakers, 100, 0.1, torch.Generator().manual_seed(1))


def constant(model):
    """The same VAE with a decoder that ignores z: the model's mean variance in every frame."""
    copy = speaker_model(0, contrast=0.25)
    copy.load_state_dict(model.state_dict())
    with torch.no_grad():
        mean = model.decode(torch.randn(4096, 4, generator=torch.Generator().manual_seed(0)), None).mean(0)
        copy.decoder[2].weight.zero_()
        copy.decoder[2].bias.copy_(mean.log())
    return copy.requires_grad_(False)


def test_oracle_latent_is_near_the_true_latents_and_beats_mcem_from_the_encoder(speakers, mixture):
    oracle = si_sdrs(
        mixture.sources, oracle_latent_separation(mixture.stft, mixture.sources, [None, None], speakers, FAST).sources
    )
    problem = Problem([mixture.stft], [[None, None]], [speakers], torch.device("cpu"))
    true = si_sdrs(mixture.sources, separation_at(problem, mixture.latents[:, None], FAST).sources)
    mcem = si_sdrs(mixture.sources, run_mcem(mixture.stft, None, speakers, FAST).separation.sources)
    unprocessed = si_sdrs(mixture.sources, mixture.stft.expand(2, -1, -1))
    for o, t, m, u in zip(oracle, true, mcem, unprocessed):
        assert o > t - 0.5 and o > u + 8.0 and o > m + 0.3, (oracle, true, mcem, unprocessed)


def test_a_decoder_that_cannot_fit_gains_nothing_from_the_references(speakers, mixture):
    flat = [constant(model) for model in speakers]
    oracle = si_sdrs(
        mixture.sources, oracle_latent_separation(mixture.stft, mixture.sources, [None, None], flat, FAST).sources
    )
    # The constant Wiener filter: the same variances whatever the latents, W, H and g fitted to the mixture.
    baseline = si_sdrs(mixture.sources, run_mcem(mixture.stft, None, flat, FAST).separation.sources)
    fitting = si_sdrs(
        mixture.sources, oracle_latent_separation(mixture.stft, mixture.sources, [None, None], speakers, FAST).sources
    )
    assert all(o < b + 0.1 for o, b in zip(oracle, baseline)), (oracle, baseline)
    assert sum(fitting) > sum(oracle) + 6.0, (fitting, oracle)


def test_speakers_sharing_a_model_are_fitted_as_each_alone(speakers, mixture):
    problem = Problem([mixture.stft], [[None, None]], [[speakers[0]] * 2], torch.device("cpu"))
    together = oracle_latents(problem, mixture.sources)
    for j in range(2):
        alone = fit_latent(speakers[0], mixture.sources[j].abs().square()[None], None)
        torch.testing.assert_close(together[j], alone, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="sources"):
        oracle_latents(problem, mixture.sources[:1])


def test_decode_method_reads_the_references_and_models_of_each_speaker(speakers, mixture, tmp_path):
    lip_model = speaker_model(3, kind="avvae", contrast=0.25)
    for speaker, model in (("s01", lip_model), ("s02", speakers[1])):
        (tmp_path / "sd" / speaker).mkdir(parents=True)
        save_model(model, tmp_path / "sd" / speaker / "model.pt")
    (tmp_path / "mcem.yaml").write_text("iterations: 5\nthreads: 1\n")
    frames = mixture.stft.shape[0]
    lips = [torch.rand(frames, 8, 8, generator=torch.Generator().manual_seed(j)) for j in range(2)]
    item = Mixture(
        key="m1",
        stft=mixture.stft,
        lips=lips,
        speakers=["s01", "s02"],
        condition="snr10",
        num_samples=0,
        scale=1.0,
        sources=mixture.sources,
        noise=mixture.noise,
    )
    args = build_parser().parse_args(
        [
            "mix.h5",
            "out",
            "--method",
            "oracle_latent",
            "--model-dir",
            str(tmp_path / "sd"),
            "--speaker-dependent",
            "--config",
            str(tmp_path / "mcem.yaml"),
        ]
    )
    separation = METHODS["oracle_latent"](args)(item)
    want = oracle_latent_separation(
        mixture.stft,
        mixture.sources,
        [lips[0], None],
        [lip_model, speakers[1]],
        dataclasses.replace(McemConfig(), iterations=5, threads=1),
    )
    assert separation.sources.device.type == "cpu" and separation.sources.shape == (2, *mixture.stft.shape)
    torch.testing.assert_close(separation.sources, want.sources)
    torch.testing.assert_close(
        separation.sources.sum(0) + separation.noise,
        mixture.stft,
        rtol=1e-3,
        atol=1e-4 * float(mixture.stft.abs().max()),
    )
    with pytest.raises(ValueError, match="oracle_latent needs --model-dir"):
        METHODS["oracle_latent"](build_parser().parse_args(["mix.h5", "out", "--method", "oracle_latent"]))
