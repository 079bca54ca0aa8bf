"""Separate one job's share of the mixtures of a feats.h5 with a chosen method, writing <out_dir>/wav/*.wav.

Methods come from METHODS: a name -> a factory that builds the method (Mixture -> Separation) from the parsed
arguments, so a new method adds its options to `build_parser` and one entry here.

Each job also records in the decode dir whether the estimates follow the mixtures' speaker order
(avvae.separation.speaker_order), from what CUES says the method tells the speakers apart by; scoring reads it.

A job whose mixtures are all separated (and whose order is recorded) ends before importing torch or building its
method. The factories import their method's modules themselves, so that a job pays only for its own method's (the
reference rows need neither the models, nor the training code and matplotlib that the supervised network's file
format brings in).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Hashable

from avvae.cli import run_main, split_keys
from avvae.config import load_config
from avvae.errors import InputFileError, UsageError
from avvae.fileio.atomic import is_done
from avvae.fileio.decode_dir import output_paths, read_speaker_order, write_speaker_order
from avvae.fileio.feature_files import open_features
from avvae.separation.speaker_order import SpeakerCues, mixture_speakers, own_cues, speaker_order

if TYPE_CHECKING:
    from avvae.mcem import McemConfig
    from avvae.models import SpeechVAE
    from avvae.separation.decode import Method


def require_options(args: argparse.Namespace) -> None:
    """The options that --method needs, checked before anything is loaded (and before a job with nothing to do
    ends, so that a wrong command line fails however far the decode has got)."""
    if args.method == "nmf" and args.nmf_dir is None:
        raise UsageError("--method nmf needs --nmf-dir (the train_nmf output, e.g. exp/nmf_sd)")
    if args.method in ("mcem", "oracle_latent") and (args.model_dir is None or args.config is None):
        raise UsageError(
            f"--method {args.method} needs --model-dir (e.g. exp/avvae_si) and --config (e.g. conf/mcem.yaml)"
        )
    if args.method == "supervised" and args.model_dir is None:
        raise UsageError("--method supervised needs --model-dir (the train_supervised output, e.g. exp/supervised)")


def reference_method(args: argparse.Namespace) -> Method:
    """The reference rows: the unprocessed mixture, the all-zero output, the oracle ideal ratio mask."""
    from avvae.separation.decode import silence, unprocessed_mixture
    from avvae.separation.oracle import ideal_ratio_mask

    return {"mixture": unprocessed_mixture, "silence": silence, "oracle": ideal_ratio_mask}[args.method]


def nmf_method(args: argparse.Namespace) -> Method:
    """NMF with the dictionaries of --nmf-dir (SD or SI, as trained), its config copy unless --config is given."""
    from avvae.separation.nmf import NmfConfig, NmfMethod, load_dictionaries

    require_options(args)
    nmf_dir = Path(args.nmf_dir)
    config = load_config(args.config or nmf_dir / "nmf.yaml", NmfConfig)
    path = nmf_dir / "dictionaries.npz"
    return NmfMethod(load_dictionaries(path), config, str(path))


def require_finished_training(model: Path) -> None:
    """Refuse the model.pt of a training folder whose training has not finished (a checkpoint but no done marker):
    it is the best epoch of a killed or running run, and a decode made with it would be kept once training ends.
    A model file elsewhere (e.g. written by export_model) is taken as it is."""
    folder = model.parent
    if (folder / "checkpoint.pt").is_file() and not is_done(folder):
        raise InputFileError(
            f"{folder}: training has not finished (checkpoint.pt but no .done), so {model} is not the "
            "final model: rerun the training stage to finish it (or export_model a checkpoint to "
            "another folder to decode with it on purpose)"
        )


def vae_models(args: argparse.Namespace) -> tuple[McemConfig, Callable[[list[str]], list[SpeechVAE]]]:
    """The MCEM config of --config and the VAE(s) of --model-dir: its model.pt for every speaker (SI), or, with
    --speaker-dependent, <model-dir>/<speaker>/model.pt for each speaker of the mixture (SD); each file read once."""
    from avvae.devices import usable_device
    from avvae.mcem import McemConfig
    from avvae.models import load_model

    require_options(args)
    config = load_config(args.config, McemConfig)
    usable_device(config.device, f"{args.config}: device")
    model_dir = Path(args.model_dir)
    cache: dict[Path, SpeechVAE] = {}

    def model_at(path: Path) -> SpeechVAE:
        if path not in cache:
            require_finished_training(path)
            cache[path] = load_model(path, config.device)
        return cache[path]

    def models_for_speakers(speakers: list[str]) -> list[SpeechVAE]:
        if args.speaker_dependent:
            return [model_at(model_dir / speaker / "model.pt") for speaker in speakers]
        return [model_at(model_dir / "model.pt")] * len(speakers)

    return config, models_for_speakers


def mcem_decoding(args: argparse.Namespace) -> Method:
    """MCEM with the VAE(s) of --model-dir (SI, or SD with --speaker-dependent)."""
    from avvae.mcem import mcem_method

    config, models_for_speakers = vae_models(args)
    return mcem_method(models_for_speakers, config)


def oracle_latent_decoding(args: argparse.Namespace) -> Method:
    """The oracle-latent reference row: the VAE(s) of --model-dir at the latents fitted to the true sources, W, H
    and g fitted as MCEM's M-step does (--config's noise_rank, iterations, sqrt_updates, floor, seed), MCEM's
    Wiener filter."""
    from avvae.mcem import oracle_latent_method

    config, models_for_speakers = vae_models(args)
    return oracle_latent_method(models_for_speakers, config)


def supervised_method(args: argparse.Namespace) -> Method:
    """The mask network <model-dir>/model.pt (from train_supervised): one mask per speaker, from the mixture and
    that speaker's lips."""
    from avvae.supervised.files import load_mask_net
    from avvae.supervised.separate import SupervisedMethod

    require_options(args)
    path = Path(args.model_dir) / "model.pt"
    require_finished_training(path)
    return SupervisedMethod(load_mask_net(path), str(path))


METHODS: dict[str, Callable[[argparse.Namespace], Method]] = {
    "mixture": reference_method,
    "oracle": reference_method,
    "silence": reference_method,
    "nmf": nmf_method,
    "mcem": mcem_decoding,
    "oracle_latent": oracle_latent_decoding,
    "supervised": supervised_method,
}


def nmf_cues(args: argparse.Namespace) -> SpeakerCues:
    """NMF tells two speakers apart by their dictionaries: the same one for all (SI), or each its own (SD)."""
    method = nmf_method(args)
    return lambda speakers: [id(method.dictionary(speaker)) for speaker in speakers]  # the same array: the same


def vae_cues(args: argparse.Namespace) -> SpeakerCues:
    """MCEM tells two speakers apart by their models (one per speaker, SD), or by their lips (a model that reads
    them); an SI audio-only model, the same for all, tells them by nothing."""
    _, models_for_speakers = vae_models(args)

    def cues(speakers: list[str]) -> list[Hashable]:
        models = models_for_speakers(speakers)
        return [(id(model), j if model.config.uses_lips else None) for j, model in enumerate(models)]

    return cues


def own_input_cues(args: argparse.Namespace) -> SpeakerCues:
    """The reference rows, the oracle latent (fitted to each speaker's reference) and the supervised network (each
    speaker's lips) tell the speakers apart by their own inputs."""
    return own_cues


# What each method tells the speakers of a mixture apart by (avvae.separation.speaker_order).
CUES: dict[str, Callable[[argparse.Namespace], SpeakerCues]] = {
    "mixture": own_input_cues,
    "oracle": own_input_cues,
    "silence": own_input_cues,
    "nmf": nmf_cues,
    "mcem": vae_cues,
    "oracle_latent": own_input_cues,
    "supervised": own_input_cues,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("feats", help="mixture features, e.g. dump/test_mix/feats.h5")
    parser.add_argument("out_dir", help="decode dir, e.g. exp/nmf_sd/decode_test")
    parser.add_argument("--method", required=True, choices=sorted(METHODS), help="separation method")
    parser.add_argument(
        "--config", help="method config (nmf: default <nmf-dir>/nmf.yaml; mcem, oracle_latent: conf/mcem.yaml)"
    )
    parser.add_argument(
        "--model-dir",
        help="mcem, oracle_latent: trained VAE folder (exp/<model>_si, or "
        "exp/<model>_sd); supervised: the train_supervised folder (exp/supervised)",
    )
    parser.add_argument(
        "--speaker-dependent",
        action="store_true",
        help="mcem, oracle_latent: one model per speaker, <model-dir>/<speaker>/model.pt",
    )
    parser.add_argument("--nmf-dir", help="nmf: folder with dictionaries.npz and nmf.yaml (from train_nmf)")
    parser.add_argument("--nj", "--num-jobs", dest="nj", type=int, default=1, help="number of decoding jobs")
    parser.add_argument("--job", type=int, default=1, help="which job this is, 1..nj")
    return parser


def pending_keys(feats: str, out_dir: Path, keys: list[str]) -> list[str]:
    """The mixtures of `keys` whose estimates are not all written yet (all of them if `feats` is not a mixture
    file: decode_mixtures says what is wrong with it)."""
    with open_features(feats) as handle:
        if handle.attrs.get("kind") != "mixture":
            return keys
        num_speakers = int(handle.attrs["num_speakers"])
    return [key for key in keys if not all(path.is_file() for path in output_paths(out_dir, key, num_speakers))]


def main(args: argparse.Namespace) -> None:
    require_options(args)
    out_dir = Path(args.out_dir)
    if (out_dir / "wav").is_dir() and read_speaker_order(out_dir):  # a decode that has begun: anything left here?
        with open_features(args.feats) as handle:
            keys = split_keys(sorted(handle), args.nj, args.job)
        if not pending_keys(args.feats, out_dir, keys):
            logging.info(
                "%s: all %d mixtures of job %d are separated, nothing to do", args.out_dir, len(keys), args.job
            )
            return
    method = METHODS[args.method](args)  # builds and checks the method first (config, device, model files)
    from avvae.separation.decode import decode_mixtures  # lazy (torch): a job with nothing to do ends above

    with open_features(args.feats) as handle:
        keys = split_keys(sorted(handle), args.nj, args.job)
    decode_mixtures(args.feats, out_dir, method, keys)
    # every job records the same order: that of all the mixtures
    write_speaker_order(out_dir, speaker_order(mixture_speakers(args.feats), CUES[args.method](args)))


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
