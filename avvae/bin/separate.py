"""Separate your own mixture: a wav, one lip file per speaker (.npz or a mouth-region video), trained VAE(s).

  python -m avvae.bin.separate --model egs/mini_av/exp/avvae_si/model.pt \\
      --lips alice.mp4 bob.mp4 --out-dir separated mixture.wav
writes separated/mixture_s1.wav, mixture_s2.wav (in the order of --lips), mixture_noise.wav,
mixture_spectrograms.png and mixture.json (the input they come from). Give one --model for all speakers (SI) or
one per speaker (SD), in the --lips order. A stereo mixture is downmixed to mono.

The output folder is created and checked (writable, room for the outputs) before any work, and the outputs are
written together or not at all. Outputs are named after the input's file name: a rerun from the same input
replaces them, but an input of the same name from another folder (a/mix.wav after b/mix.wav) is refused, naming
both, rather than overwriting the first one's outputs: give it another --out-dir.

  python -m avvae.bin.separate --video talk.mp4 --model egs/mini_av/exp/avvae_si/model.pt --out-dir separated
finds and tracks the faces of an ordinary video and separates one speaker per face (or the faces of --faces 0,2,
numbered left to right), from the video's own soundtrack: see avvae/separation/video_separation.py for what it writes.
"""

from __future__ import annotations

import argparse
import logging

from avvae.cli import run_main
from avvae.config import load_config
from avvae.errors import UsageError
from avvae.models import load_model
from avvae.separation.own_mixture import prepare_outputs, separate_recording, separation_configs
from avvae.separation.video_separation import VideoSeparationConfig, separate_video


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "wav", nargs="?", help="the mixture (stereo is downmixed; resampled to the model's rate if needed)"
    )
    parser.add_argument("--lips", nargs="+", help="one lip file per speaker (.npz or video)")
    parser.add_argument("--video", help="instead of wav and --lips: a video with its soundtrack, one speaker a face")
    parser.add_argument("--faces", help="with --video: the faces to separate, e.g. 0,2 (default: all)")
    parser.add_argument("--video-config", help="with --video: face tracking and windowing settings (YAML)")
    parser.add_argument("--model", nargs="+", required=True, help="model.pt for all speakers, or one per speaker")
    parser.add_argument(
        "--mcem-config", help="MCEM settings (default: the default recipe's, egs/mini_av/conf/mcem.yaml)"
    )
    parser.add_argument("--feats-config", help="STFT settings the model was trained with (default: the published)")
    parser.add_argument("--device", help="cpu or cuda (overrides the MCEM config)")
    parser.add_argument("--out-dir", default=".", help="where the outputs go (default: .), checked before any work")
    return parser


USAGE = "give a mixture wav and --lips, or --video (--faces and --video-config go with --video)"
# What a mixture may be called: a name among the values of --lips or --model that ends so was meant as the mixture.
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aif", ".aiff")


def no_mixture(args: argparse.Namespace) -> str:
    """Why a command of the wav form without its mixture is wrong: --lips and --model take every name after them, so
    a mixture given after them was taken as a lips or model file; the message says which, and where it goes."""
    for option, values, kind in (("--lips", args.lips, "lips"), ("--model", args.model, "model")):
        taken = [value for value in values or [] if value.lower().endswith(AUDIO_SUFFIXES)]
        if taken:
            return (
                f"no mixture wav: {option} takes every name after it, so it took {', '.join(taken)} as a {kind} file "
                f"({option} {' '.join(values)}): give the mixture before the options, e.g. separate {taken[0]} "
                "--lips ... --model ..."
            )
    return USAGE


def video_main(args: argparse.Namespace) -> None:
    """The `--video` form: its arguments checked, the models loaded, the summary printed."""
    if args.wav is not None or args.lips is not None:
        raise UsageError("--video takes the soundtrack and the faces from the video: give no wav and no --lips")
    mcem, features = separation_configs(args)
    config = load_config(args.video_config, VideoSeparationConfig) if args.video_config else VideoSeparationConfig()
    faces = None
    if args.faces is not None:
        try:
            faces = [int(number) for number in args.faces.split(",")]
        except ValueError:
            raise UsageError(f"--faces {args.faces!r}: expected face numbers separated by commas, e.g. 0,2") from None
    loaded = {path: load_model(path, mcem.device) for path in dict.fromkeys(args.model)}
    summary = separate_video(
        args.video, [loaded[path] for path in args.model], mcem, features, config, args.out_dir, faces
    )
    print(summary.text())


def main(args: argparse.Namespace) -> None:
    if args.video:
        return video_main(args)
    if args.wav is None:
        raise UsageError(no_mixture(args))
    if args.lips is None or args.faces or args.video_config:
        raise UsageError(USAGE)
    if len(args.model) not in (1, len(args.lips)):
        raise UsageError(f"{len(args.model)} models for {len(args.lips)} speakers: give one, or one per speaker")
    config, features = separation_configs(args)
    outputs = prepare_outputs(args.wav, len(args.lips), features, args.out_dir)
    paths = args.model * len(args.lips) if len(args.model) == 1 else args.model
    loaded = {path: load_model(path, config.device) for path in dict.fromkeys(paths)}
    written = separate_recording(args.wav, args.lips, [loaded[p] for p in paths], config, features, outputs)
    logging.info("wrote %s", ", ".join(map(str, written)))


def cli() -> None:
    """The command-line entry point, for `python -m` and pyproject.toml's console scripts."""
    run_main(build_parser, main)


if __name__ == "__main__":
    cli()
