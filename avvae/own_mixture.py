"""Separate a user's own recording: a mixture wav plus one lip ROI file per speaker, with trained VAE(s) and MCEM.

Lips come as an avvae `.npz` (frames + fps) or as a video of the mouth region (any size and frame rate: read
grayscale with the ffmpeg that imageio-ffmpeg ships, scaled to the model's lip size). Outputs: one wav per
speaker and the noise, at the mixture's level and length, and a spectrogram figure of the input and outputs.
"""

from __future__ import annotations

import logging
from math import gcd
from pathlib import Path

import numpy as np
import scipy.signal
import torch

from avvae.atomic import atomic_path
from avvae.audio import read_wav, write_wav
from avvae.features import FeatureConfig
from avvae.lips import LipsFileError, load_lips, resample_lips
from avvae.mcem import McemConfig, separate
from avvae.models import SpeechVAE
from avvae.stft import istft, stft
from avvae.video import VideoError, read_gray_frames

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
    """Mono samples at `rate` (resampled if needed), peak-normalised; returns them and the scale applied."""
    samples, source_rate = read_wav(path)
    if source_rate != rate:
        log.info("%s: resampling from %d Hz to %d Hz", path, source_rate, rate)
        common = gcd(rate, source_rate)
        samples = scipy.signal.resample_poly(samples, rate // common, source_rate // common).astype(np.float32)
    peak = float(np.max(np.abs(samples)))
    if peak == 0.0:
        raise ValueError(f"{path}: the mixture is silent")
    return samples / peak, 1.0 / peak


def plot_spectrograms(signals: dict[str, np.ndarray], rate: int, path: str | Path) -> None:
    """One log-power spectrogram panel per signal, stacked, with the same colour scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(signals), 1, figsize=(9, 2.2 * len(signals)), sharex=True, squeeze=False)
    reference = None
    for axis, (name, signal) in zip(axes[:, 0], signals.items()):
        freqs, times, power = scipy.signal.spectrogram(signal, fs=rate, nperseg=512, noverlap=384)
        db = 10 * np.log10(power + 1e-12)
        reference = db.max() if reference is None else reference
        axis.pcolormesh(times, freqs / 1000, db, vmin=reference - 80, vmax=reference, shading="auto", cmap="magma")
        axis.set_ylabel("kHz")
        axis.set_title(name, fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (s)")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    plt.close(figure)


def separate_recording(
    wav: str | Path,
    lips: list[str | Path | None],
    models: list[SpeechVAE],
    config: McemConfig,
    features: FeatureConfig,
    out_dir: str | Path,
) -> list[Path]:
    """Write <out>/<name>_s<j>.wav for each speaker, <name>_noise.wav and <name>_spectrograms.png."""
    out_dir, name = Path(out_dir), Path(wav).stem
    samples, scale = read_mixture_wav(wav, features.sample_rate)
    mixture = stft(samples, features.stft)
    times = features.stft.frame_times(mixture.shape[0])
    streams = []
    for path, model in zip(lips, models):
        if not model.config.uses_lips:
            streams.append(None)
            continue
        if path is None:
            raise ValueError(f"the {model.config.kind} model needs lips for every speaker (--lips)")
        frames, fps = read_lips_file(path, model.config.lip_size)
        duration = len(frames) / fps
        if abs(duration - len(samples) / features.sample_rate) > features.lips_tolerance:
            log.warning("%s: lips last %.2f s, the audio %.2f s; the shorter is padded by its edge frame", path,
                        duration, len(samples) / features.sample_rate)
        streams.append(torch.from_numpy(resample_lips(frames, fps, times, features.lips_interpolation)).float())
    separation = separate(mixture, streams, models, config)
    estimates = torch.cat([separation.sources, separation.noise[None]]).cpu()
    signals = istft(estimates, features.stft, len(samples)).numpy() / scale
    paths = [out_dir / f"{name}_s{j}.wav" for j in range(1, len(models) + 1)] + [out_dir / f"{name}_noise.wav"]
    for path, signal in zip(paths, signals):
        write_wav(path, signal.astype(np.float32), features.sample_rate)
    labels = ["mixture"] + [f"speaker {j}" for j in range(1, len(models) + 1)] + ["noise"]
    figure = out_dir / f"{name}_spectrograms.png"
    plot_spectrograms(dict(zip(labels, [samples / scale, *signals])), features.sample_rate, figure)
    return paths + [figure]
