"""Training data: utterances held in memory, and batches of on-the-fly mixtures drawn from a seed per epoch.

Mixing happens in the STFT domain (the STFT is linear), on segments of `segment_frames` frames: the target's
segment, an interfering speaker's segment scaled to the drawn SIR, and a noise segment scaled to the drawn SNR.
The decoder reconstructs the target's clean power; the encoder sees the mixture (or the clean target, CVAE).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from avvae.config import ConfigError
from avvae.fileio.feature_files import FeatureFileError, open_features
from avvae.training.config import MixingConfig
from avvae.training.lip_augment import LipAugmentConfig, augment_lips


@dataclass
class Utterance:
    key: str
    speaker: str
    stft: np.ndarray
    lips: np.ndarray | None


@dataclass
class Batch:
    """mixture and clean powers [B, T, F], target lips [B, T, H, W] (uint8 on the host, floats in [0, 1] once
    moved with `to`: four times less memory while batches wait), valid frames [B, T]."""

    mixture: torch.Tensor
    clean: torch.Tensor
    lips: torch.Tensor | None
    mask: torch.Tensor
    keys: list[str]

    def to(self, device: torch.device) -> Batch:
        lips = self.lips
        if lips is not None and lips.dtype == torch.uint8:
            lips = lips.to(device).float() / 255.0
        elif lips is not None:
            lips = lips.to(device)
        return Batch(self.mixture.to(device), self.clean.to(device), lips, self.mask.to(device), self.keys)


def load_utterances(feats: str | Path, speakers: set[str] | None = None, lips: bool = True) -> list[Utterance]:
    """Every utterance of a speech (or noise) feats.h5, optionally only those of `speakers`."""
    utterances = []
    with open_features(feats) as handle:
        for key in sorted(handle):
            group = handle[key]
            speaker = str(group.attrs.get("spk", key))
            if speakers is not None and speaker not in speakers:
                continue
            if lips and "lips" not in group:
                raise FeatureFileError(
                    f"{feats}: utterance {key} has no lips (dumped from a data dir without lips.scp?)"
                )
            utterances.append(Utterance(key, speaker, group["stft"][()], group["lips"][()] if lips else None))
    if not utterances:
        wanted = f" of speaker(s) {', '.join(sorted(speakers))}" if speakers else ""
        raise FeatureFileError(f"{feats}: no utterances{wanted}")
    return utterances


def check_num_freqs(config: str | Path, num_freqs: int, feats: Iterable[str | Path | None]) -> None:
    """Refuse a training config whose model.num_freqs is not the number of frequency bins of the feature files it
    trains on (None: not given), before any training: the model would fail deep inside torch on a shape."""
    for path in feats:
        if path is None:
            continue
        with open_features(path) as handle:
            first = next(iter(handle), None)
            bins = num_freqs if first is None else handle[first]["stft"].shape[1]
        if bins != num_freqs:
            raise ConfigError(
                f"{config}: model.num_freqs is {num_freqs}, but {path} has {bins} frequency bins: set "
                f"model.num_freqs to {bins} (or dump the features with n_fft {2 * (num_freqs - 1)})"
            )


def _segment(array: np.ndarray, start: int, length: int) -> np.ndarray:
    """array[start:start+length] along the first axis, zero-padded at the end to `length`."""
    piece = array[start : start + length]
    if len(piece) == length:
        return piece
    return np.concatenate([piece, np.zeros((length - len(piece), *array.shape[1:]), array.dtype)])


def _start(rng: np.random.Generator, total: int, length: int) -> int:
    return int(rng.integers(0, total - length + 1)) if total > length else 0


def _power(stft: np.ndarray) -> float:
    return float(np.sum(stft.real**2 + stft.imag**2)) + 1e-10


class MixtureSampler:
    """Draws training mixtures: every target utterance `repeats` times per epoch, in an order and with partners,
    offsets and levels drawn from (seed, epoch) alone, so an epoch replays identically after a resume."""

    def __init__(
        self,
        targets: list[Utterance],
        interferers: list[Utterance],
        noises: list[Utterance],
        mixing: MixingConfig,
        segment_frames: int,
        repeats: int = 1,
        lip_augment: LipAugmentConfig | None = None,
    ):
        self.targets, self.interferers, self.noises = targets, interferers, noises
        self.mixing, self.length, self.repeats = mixing, segment_frames, repeats
        self.lip_augment = lip_augment if lip_augment is not None and lip_augment.enabled else None
        self.uses_lips = targets[0].lips is not None

    def _partner(self, rng: np.random.Generator, target: Utterance) -> Utterance | None:
        others = [i for i, u in enumerate(self.interferers) if u.speaker != target.speaker]
        if not others or rng.random() >= self.mixing.interferer_probability:
            return None
        return self.interferers[others[int(rng.integers(len(others)))]]

    def _mixture(self, rng: np.random.Generator, target: Utterance) -> tuple[np.ndarray, ...]:
        start = _start(rng, len(target.stft), self.length)
        clean = _segment(target.stft, start, self.length)
        valid = np.zeros(self.length, bool)
        valid[: min(self.length, len(target.stft) - start)] = True
        speech = clean.copy()
        partner = self._partner(rng, target)
        if partner is not None:
            other = _segment(partner.stft, _start(rng, len(partner.stft), self.length), self.length) * valid[:, None]
            sir = rng.uniform(*self.mixing.sir_db)
            speech += other * np.sqrt(_power(clean) / _power(other) / 10 ** (sir / 10))
        mixture = speech
        if self.noises and rng.random() < self.mixing.noise_probability:
            source = self.noises[int(rng.integers(len(self.noises)))].stft
            noise = _segment(source, _start(rng, len(source), self.length), self.length) * valid[:, None]
            snr = rng.uniform(*self.mixing.snr_db)
            mixture = speech + noise * np.sqrt(_power(speech) / _power(noise) / 10 ** (snr / 10))
        lips = _segment(target.lips, start, self.length) if self.uses_lips else None
        if lips is not None and self.lip_augment is not None:
            lips = augment_lips(rng, lips, self.lip_augment)
        return mixture, clean, lips, valid

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self.targets) * self.repeats // batch_size)

    def batches(self, seed: int, epoch: int, batch_size: int) -> Iterator[Batch]:
        """The epoch's batches, drawn from (seed, epoch), made one at a time (an epoch never sits in memory)."""
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(np.repeat(np.arange(len(self.targets)), self.repeats))
        for first in range(0, len(order), batch_size):
            chosen = [self.targets[i] for i in order[first : first + batch_size]]
            mixtures, cleans, lips, masks = zip(*(self._mixture(rng, target) for target in chosen))
            yield Batch(
                mixture=torch.from_numpy(np.abs(np.stack(mixtures)) ** 2).float(),
                clean=torch.from_numpy(np.abs(np.stack(cleans)) ** 2).float(),
                lips=torch.from_numpy(np.stack(lips)) if self.uses_lips else None,
                mask=torch.from_numpy(np.stack(masks)),
                keys=[target.key for target in chosen],
            )
