"""The decoding driver: separate each mixture of a feats.h5 with a given method and write the waveforms.

A method is a function from a `Mixture` (the features of one mixture) to a `Separation` (complex STFTs of each
speaker and of the noise). The driver writes `<out_dir>/wav/<key>_s<j>.wav` and `<key>_noise.wav` at the level of
the mixture wav (the feature scale undone), each file atomically; an utterance whose files all exist is skipped,
so a killed decode job resumes where it stopped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import h5py
import numpy as np
import torch
from tqdm import tqdm

from avvae.errors import AvvaeError
from avvae.fileio.audio import write_wav
from avvae.fileio.decode_dir import output_paths
from avvae.fileio.feature_files import FeatureFileError, open_features
from avvae.fileio.write_errors import naming_full_disk
from avvae.stft import StftConfig, istft

log = logging.getLogger(__name__)


class SeparationError(AvvaeError):
    """A method's separation of a mixture is unusable (NaN or infinite samples): its features or model are at
    fault; nothing is written for it."""


@dataclass
class Mixture:
    """One mixture's features: STFT [N, F], each speaker's lips [N, H, W] in [0, 1], and the references."""

    key: str
    stft: torch.Tensor
    lips: list[torch.Tensor]
    speakers: list[str]
    condition: str
    num_samples: int
    scale: float
    sources: torch.Tensor
    noise: torch.Tensor

    @property
    def power(self) -> torch.Tensor:
        return self.stft.abs().square()


@dataclass
class Separation:
    """Complex STFT estimates: one per speaker [J, N, F], and the noise [N, F]."""

    sources: torch.Tensor
    noise: torch.Tensor


Method = Callable[[Mixture], Separation]


def read_mixture(key: str, group: h5py.Group) -> Mixture:
    """The features of mixture `key` from its feats.h5 group."""
    count = sum(1 for name in group if name.startswith("lips"))
    return Mixture(
        key=key,
        stft=torch.from_numpy(group["stft"][()]),
        lips=[torch.from_numpy(group[f"lips{j}"][()]).float() / 255.0 for j in range(1, count + 1)],
        speakers=[str(group.attrs[f"spk{j}"]) for j in range(1, count + 1)],
        condition=str(group.attrs["condition"]),
        num_samples=int(group.attrs["num_samples"]),
        scale=float(group.attrs["scale"]),
        sources=torch.from_numpy(np.stack([group[f"stft_source{j}"][()] for j in range(1, count + 1)])),
        noise=torch.from_numpy(group["stft_noise"][()]),
    )


def stft_config_of(handle: h5py.File) -> StftConfig:
    attrs = handle.attrs
    return StftConfig(int(attrs["sample_rate"]), int(attrs["n_fft"]), int(attrs["hop_length"]), str(attrs["window"]))


def decode_mixtures(feats: str | Path, out_dir: str | Path, method: Method, keys: Iterable[str] | None = None) -> int:
    """Separate the mixtures `keys` (default: all) of `feats` into `out_dir`; returns how many were computed."""
    out_dir = Path(out_dir)
    computed = 0
    with open_features(feats) as handle:
        if handle.attrs.get("kind") != "mixture":
            raise FeatureFileError(f"{feats}: not a mixture feature file (kind={handle.attrs.get('kind')!r})")
        config = stft_config_of(handle)
        keys = sorted(handle) if keys is None else list(keys)
        num_speakers = int(handle.attrs["num_speakers"])
        for key in tqdm(keys, desc=f"separate {out_dir.name}", unit="mix", mininterval=2.0):
            paths = output_paths(out_dir, key, num_speakers)
            if all(path.is_file() for path in paths):
                continue
            mixture = read_mixture(key, handle[key])
            separation = method(mixture)
            estimates = torch.cat([separation.sources, separation.noise[None]]).to(mixture.stft.dtype).cpu()
            signals = istft(estimates, config, mixture.num_samples).numpy() / mixture.scale
            if not np.isfinite(signals).all():
                raise SeparationError(
                    f"{feats}: mixture {key}: the separation is not finite (NaN or infinite "
                    f"samples); nothing was written for it (check its features and the model)"
                )
            kept = (
                f"the mixtures separated before ({computed} in this run) are kept: free some space and rerun to resume"
            )
            for path, signal in zip(paths, signals):
                with naming_full_disk(path, kept):
                    write_wav(path, signal.astype(np.float32), config.sample_rate)
            computed += 1
    log.info("%s: %d mixtures separated, %d already there", out_dir, computed, len(keys) - computed)
    return computed


def unprocessed_mixture(mixture: Mixture) -> Separation:
    """The lower bound: the mixture itself as every speaker's estimate (and as the noise's)."""
    count = len(mixture.speakers)
    return Separation(mixture.stft.expand(count, *mixture.stft.shape).clone(), mixture.stft.clone())


def silence(mixture: Mixture) -> Separation:
    """A reference for the metrics, not a method: every speaker's estimate all-zero (and the mixture as the noise's).
    It shows what removing energy alone scores: SDR 0 dB, several dB above the mixture at low input SNR."""
    count = len(mixture.speakers)
    return Separation(torch.zeros(count, *mixture.stft.shape, dtype=mixture.stft.dtype), mixture.stft.clone())
