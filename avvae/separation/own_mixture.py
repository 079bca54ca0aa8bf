"""Separate a user's own recording: a mixture wav plus one lip ROI file per speaker, with trained VAE(s) and MCEM.

Lips come as an avvae `.npz` (frames + fps) or as a video of the mouth region (any size and frame rate: read
grayscale with the ffmpeg that imageio-ffmpeg ships, scaled to the model's lip size). A stereo (multichannel)
mixture is downmixed to mono, with a log line. Outputs: one wav per speaker and the noise, at the mixture's level
and length, and a spectrogram figure of the input and outputs (drawn at a bounded size whatever the length), plus
`<name>.json` naming the input they were made from. The output folder is checked before any work (see
`avvae.separation.output_set`), the set is written as a whole, and outputs of another input of the same name are never
overwritten.
"""

from __future__ import annotations

import argparse
import functools
import logging
from math import gcd
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile
import torch

from avvae.config import load_config
from avvae.devices import usable_device
from avvae.errors import UsageError
from avvae.features import FeatureConfig
from avvae.fileio.atomic import atomic_path
from avvae.fileio.audio import AudioFileError, read_wav, write_wav
from avvae.fileio.lips import LipsFileError, load_lips, resample_lips
from avvae.fileio.video import VideoError, read_gray_frames
from avvae.mcem import McemConfig, separate
from avvae.models import SpeechVAE
from avvae.separation.output_set import OutputSet, check_output_dir
from avvae.stft import istft, stft

log = logging.getLogger(__name__)


def read_lips_file(path: str | Path, size: int) -> tuple[np.ndarray, float]:
    """Frames and fps of an .npz lips file or a lip video."""
    path = Path(path)
    if not path.is_file():
        raise LipsFileError(f"{path}: lips file does not exist")
    if path.suffix == ".npz":
        frames, fps = load_lips(path)
        if frames.shape[1:] != (size, size):
            found = f"{frames.shape[1]}x{frames.shape[2]}"
            raise LipsFileError(f"{path}: lip frames are {found}, the model needs {size}x{size}")
        return frames, fps
    try:
        frames, fps, _ = read_gray_frames(path, size)
    except VideoError as error:
        raise LipsFileError(str(error)) from error
    return frames, fps


def read_mixture_wav(path: str | Path, rate: int) -> tuple[np.ndarray, float]:
    """Mono samples at `rate` (channels averaged, resampled if needed), peak-normalised; returns them and the scale
    applied."""
    samples, source_rate = read_wav(path, downmix=True)
    if source_rate != rate:
        log.info("%s: resampling from %d Hz to %d Hz", path, source_rate, rate)
        common = gcd(rate, source_rate)
        samples = scipy.signal.resample_poly(samples, rate // common, source_rate // common).astype(np.float32)
    peak = float(np.max(np.abs(samples)))
    if peak == 0.0:
        raise AudioFileError(f"{path}: the mixture is silent")
    return samples / peak, 1.0 / peak


FIGURE_WIDTH, PANEL_HEIGHT, FIGURE_DPI = 9.0, 2.2, 100
FIGURE_COLUMNS = 1500  # time columns drawn per panel: more than the figure has pixels, whatever the length


def pooled_db(signal: np.ndarray, rate: int, columns: int = FIGURE_COLUMNS) -> np.ndarray:
    """Log-power spectrogram [bins, <= columns] in dB (float32; 512-sample frames, hop 128), max-pooled over time so
    that a long recording costs no more to draw than a short one and a short loud event stays visible. Computed a
    block of frames at a time, so its memory does not grow with the recording either."""
    size, hop = 512, 128
    frames = (len(signal) - size) // hop + 1
    if frames < 1:
        return (10 * np.log10(scipy.signal.spectrogram(signal, fs=rate)[2] + 1e-12)).astype(np.float32)
    factor = -(-frames // columns)
    block = factor * 64
    pooled = []
    for start in range(0, frames, block):
        stop = min(frames, start + block)
        piece = signal[start * hop : (stop - 1) * hop + size]
        _, _, power = scipy.signal.spectrogram(piece, fs=rate, nperseg=size, noverlap=size - hop)
        db = (10 * np.log10(power + 1e-12)).astype(np.float32)
        width = -(-db.shape[1] // factor) * factor
        db = np.pad(db, ((0, 0), (0, width - db.shape[1])), mode="edge")
        pooled.append(db.reshape(db.shape[0], -1, factor).max(axis=2))
    return np.concatenate(pooled, axis=1)


def plot_spectrograms(signals: dict[str, np.ndarray], rate: int, path: str | Path) -> None:
    """One log-power spectrogram panel per signal, stacked, with the same colour scale; each panel an image of at
    most FIGURE_COLUMNS columns, so memory stays bounded for long recordings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = (FIGURE_WIDTH, PANEL_HEIGHT * len(signals))
    figure, axes = plt.subplots(len(signals), 1, figsize=size, sharex=True, squeeze=False)
    reference = None
    for axis, (name, signal) in zip(axes[:, 0], signals.items()):
        db = pooled_db(signal, rate)
        reference = float(db.max()) if reference is None else reference
        extent = (0.0, len(signal) / rate, 0.0, rate / 2000)
        axis.imshow(
            db,
            origin="lower",
            aspect="auto",
            extent=extent,
            vmin=reference - 80,
            vmax=reference,
            cmap="magma",
            interpolation="nearest",
            rasterized=True,
        )
        axis.set_ylabel("kHz")
        axis.set_title(name, fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=FIGURE_DPI, format="png")
    plt.close(figure)


def output_files(wav: str | Path, num_speakers: int, out_dir: str | Path) -> OutputSet:
    """<out>/<name>_s<j>.wav for each speaker, <name>_noise.wav and <name>_spectrograms.png, <name> the wav's
    stem."""
    name = Path(wav).stem
    names = [f"{name}_s{j}.wav" for j in range(1, num_speakers + 1)] + [f"{name}_noise.wav"]
    return OutputSet(Path(out_dir), name, Path(wav).resolve(), (*names, f"{name}_spectrograms.png"))


def default_separation_mcem() -> McemConfig:
    """The MCEM settings of `separate` without --mcem-config: the default recipe's (egs/mini_av/conf/mcem.yaml, chosen
    on its dev mixtures: the variational E-step from the prior mean, 60 iterations of 3 steps, each speaker's prior
    and spectral colour adapted to its voice, slowly varying latents and noise), one torch thread per process. The
    published schedule (McemConfig's defaults) costs about five times as much."""
    return McemConfig(
        iterations=60,
        draws=20,
        burn_in=10,
        noise_rank=20,
        final_draws=50,
        final_burn_in=25,
        sampler="variational",
        variational_steps=3,
        init="prior",
        prior_adaptation_frames=15,
        latent_smoothness=2.0,
        noise_smoothing_frames=5,
        speaker_colour=True,
        colour_smoothing_bins=2,
    )


def separation_configs(args: argparse.Namespace) -> tuple[McemConfig, FeatureConfig]:
    """The MCEM and feature settings of a `separate` command line (both forms): --mcem-config (its device replaced
    by --device, and checked to be usable) and --feats-config, default_separation_mcem() and the published features
    where not given."""
    mcem = load_config(args.mcem_config, McemConfig) if args.mcem_config else default_separation_mcem()
    if args.device:
        mcem.device = args.device
    usable_device(mcem.device, "--device" if args.device else f"{args.mcem_config}: device")
    features = load_config(args.feats_config, FeatureConfig) if args.feats_config else FeatureConfig()
    return mcem, features


def separation_bytes(num_speakers: int, num_samples: int) -> int:
    """An upper bound of the bytes of a separation's wavs (each speaker and the noise, float32) and of its
    spectrogram figure (mixture, speakers and noise) as an uncompressed RGBA image."""
    pixels = FIGURE_WIDTH * PANEL_HEIGHT * (num_speakers + 2) * FIGURE_DPI**2
    return (num_speakers + 1) * (44 + 4 * num_samples) + int(4 * pixels)


def output_bytes(wav: str | Path, num_speakers: int, rate: int) -> int:
    """An upper bound of the bytes the outputs of `wav` take: float32 wavs at `rate`, the figure as an
    uncompressed RGBA image, and the sidecar."""
    path = Path(wav)
    if not path.is_file():
        raise AudioFileError(f"{path}: audio file does not exist")
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise AudioFileError(f"{path}: cannot read audio ({error})") from error
    return separation_bytes(num_speakers, -(-info.frames * rate // info.samplerate)) + 2**16


def prepare_outputs(wav: str | Path, num_speakers: int, features: FeatureConfig, out_dir: str | Path) -> OutputSet:
    """The output files of `wav`, after checking, before any work, that the folder can be created and written, has
    room for them, and holds no outputs of another input of the same name."""
    outputs = output_files(wav, num_speakers, out_dir)
    check_output_dir(outputs.directory, output_bytes(wav, num_speakers, features.sample_rate))
    outputs.previous()
    return outputs


def separate_recording(
    wav: str | Path,
    lips: list[str | Path | None],
    models: list[SpeechVAE],
    config: McemConfig,
    features: FeatureConfig,
    outputs: OutputSet,
) -> list[Path]:
    """Separate `wav` into `outputs` (from `prepare_outputs`), all written together; returns their paths."""
    samples, scale = read_mixture_wav(wav, features.sample_rate)
    mixture = stft(samples, features.stft)
    times = features.stft.frame_times(mixture.shape[0])
    streams = []
    for path, model in zip(lips, models):
        if not model.config.uses_lips:
            streams.append(None)
            continue
        if path is None:
            raise UsageError(f"the {model.config.kind} model needs lips for every speaker (--lips)")
        frames, fps = read_lips_file(path, model.config.lip_size)
        duration = len(frames) / fps
        if abs(duration - len(samples) / features.sample_rate) > features.lips_tolerance:
            log.warning(
                "%s: lips last %.2f s, the audio %.2f s; the shorter is padded by its edge frame",
                path,
                duration,
                len(samples) / features.sample_rate,
            )
        streams.append(torch.from_numpy(resample_lips(frames, fps, times, features.lips_interpolation)).float())
    separation = separate(mixture, streams, models, config)
    estimates = torch.cat([separation.sources, separation.noise[None]]).cpu()
    signals = istft(estimates, features.stft, len(samples)).numpy() / scale
    rate = features.sample_rate
    writers = {
        name: functools.partial(write_wav, samples=signal.astype(np.float32), rate=rate)
        for name, signal in zip(outputs.names, signals)
    }
    labels = ["mixture"] + [f"speaker {j}" for j in range(1, len(models) + 1)] + ["noise"]
    figure = dict(zip(labels, [samples / scale, *signals]))
    writers[outputs.names[-1]] = functools.partial(plot_spectrograms, figure, rate)
    outputs.write(writers, {"lips": [str(Path(path).resolve()) if path else None for path in lips]})
    return outputs.paths
