"""The NMF baseline (docs/design.md, "NMF"): IS-NMF speech dictionaries and NMF separation with Wiener filtering.

Power spectrograms V (F x N) are modelled as V ~ W H with the Itakura-Saito divergence (beta = 0), the
divergence of the Gaussian variance model that the VAE methods share. Updates are multiplicative:
    H <- H * [(W^T (V / Vhat^2)) / (W^T (1 / Vhat))]^e,   W <- W * [((V / Vhat^2) H^T) / ((1 / Vhat) H^T)]^e
with e = `exponent`: 0.5 is the majorisation-minimisation step whose divergence never increases (Fevotte and
Idier 2011), 1 the faster heuristic. W's columns are normalised to sum 1 (their scale moved into H), every factor
is floored at `eps`, and denominators are guarded alike.

- Dictionaries: W (F x `rank`) learned on clean training speech, one per speaker (SD) or one over all training
  speakers (SI), stored in one .npz keyed by speaker id (SI: the single key SI_KEY).
- Separation: the mixture's power is V ~ sum_j W_j H_j + W_b H_b with each speaker's dictionary W_j fixed and
  an unsupervised noise NMF (W_b, H_b of rank `noise_rank` learned on the mixture); the Wiener filter
  (W_j H_j / Vhat) X gives each speaker's complex STFT, and likewise the noise's. With SI dictionaries both
  speakers share one dictionary, so nothing tells them apart: their order is arbitrary (the decode records so,
  avvae.separation.speaker_order, and scoring takes their best order).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from avvae.errors import InputFileError
from avvae.fileio.atomic import atomic_path
from avvae.fileio.feature_files import FeatureFileError, open_features
from avvae.separation.decode import Mixture, Separation

log = logging.getLogger(__name__)

SI_KEY = "__speaker_independent__"


@dataclass
class NmfConfig:
    """conf/nmf.yaml: ranks, iterations and numerical guards of the NMF baseline."""

    rank: int = 32  # speech dictionary atoms, per speaker (SD) or for all speakers (SI)
    noise_rank: int = 10  # atoms of the unsupervised noise NMF learned on each mixture
    train_iterations: int = 200  # updates when learning a dictionary
    separate_iterations: int = 100  # updates of the activations (and noise NMF) per mixture
    exponent: float = 0.5  # step exponent e: 0.5 never increases the divergence, 1 is faster
    min_frame_db: float = -40.0  # training frames this far below their utterance's loudest are left out
    max_train_frames: int = 20000  # frames drawn (seeded) to learn one dictionary; 0 keeps them all
    seed: int = 0
    eps: float = 1e-10


def is_divergence(v: torch.Tensor, v_hat: torch.Tensor, eps: float = 1e-10) -> float:
    """Itakura-Saito divergence sum(V / Vhat - log(V / Vhat) - 1), with V and Vhat floored at `eps`."""
    ratio = v.clamp_min(eps) / v_hat.clamp_min(eps)
    return float((ratio - ratio.log() - 1).sum())


def random_factors(v: torch.Tensor, rank: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive random W (F x rank, columns summing to 1) and H (rank x N) with W H near V's mean level."""
    num_bins, num_frames = v.shape
    w = torch.rand(num_bins, rank, generator=generator, dtype=v.dtype) + 0.1
    w = w / w.sum(0, keepdim=True)
    h = (torch.rand(rank, num_frames, generator=generator, dtype=v.dtype) + 0.1) * (float(v.mean()) / rank * num_bins)
    return w, h


def is_nmf(
    v: torch.Tensor,
    w: torch.Tensor,
    h: torch.Tensor,
    iterations: int,
    config: NmfConfig,
    free: slice = slice(None),
    trace: list[float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run `iterations` IS-NMF updates of H and of W's columns `free` (the others stay fixed); returns (W, H).

    `trace`, when given, receives the divergence after each iteration.
    """
    eps, e = config.eps, config.exponent
    v = v.clamp_min(eps)
    w, h = w.clone(), h.clone()
    for _ in range(iterations):
        v_hat = (w @ h).clamp_min(eps)
        h = (h * ((w.T @ (v / v_hat**2)) / (w.T @ (1 / v_hat)).clamp_min(eps)) ** e).clamp_min(eps)
        w_free = w[:, free]
        if w_free.shape[1]:
            v_hat = (w @ h).clamp_min(eps)
            h_free = h[free]
            w_free = w_free * (((v / v_hat**2) @ h_free.T) / ((1 / v_hat) @ h_free.T).clamp_min(eps)) ** e
            norms = w_free.sum(0).clamp_min(eps)
            w[:, free] = (w_free / norms).clamp_min(eps)
            h[free] = h_free * norms[:, None]
        if trace is not None:
            trace.append(is_divergence(v, w @ h, eps))
    return w, h


def learn_dictionary(powers: list[torch.Tensor], config: NmfConfig) -> torch.Tensor:
    """A speech dictionary W (F x rank) from power spectrograms [N_i, F] of clean utterances.

    Frames more than `min_frame_db` below their utterance's loudest frame are dropped (silence would take atoms
    under a scale-invariant divergence); at most `max_train_frames` frames, drawn with the seed, are kept.
    """
    frames = []
    for power in powers:
        energy = power.double().sum(-1)
        frames.append(power.double()[energy >= energy.max() * 10 ** (config.min_frame_db / 10)])
    v = torch.cat(frames)
    generator = torch.Generator().manual_seed(config.seed)
    if 0 < config.max_train_frames < len(v):
        v = v[torch.randperm(len(v), generator=generator)[: config.max_train_frames]]
    w, h = random_factors(v.T, config.rank, generator)
    w, _ = is_nmf(v.T, w, h, config.train_iterations, config)
    return w


def speaker_powers(feats: str | Path) -> dict[str, list[torch.Tensor]]:
    """Power spectrograms of a speech feats.h5, grouped by speaker (the groups' `spk` attribute)."""
    grouped: dict[str, list[torch.Tensor]] = {}
    with open_features(feats) as handle:
        if handle.attrs.get("kind") != "speech":
            raise FeatureFileError(f"{feats}: not a speech feature file (kind={handle.attrs.get('kind')!r})")
        for key in sorted(handle):
            group = handle[key]
            grouped.setdefault(str(group.attrs["spk"]), []).append(torch.from_numpy(group["power"][()]))
    return grouped


def learn_dictionaries(
    feats: str | Path, config: NmfConfig, speakers: list[str] | None = None, speaker_independent: bool = False
) -> dict[str, np.ndarray]:
    """SD: one dictionary per speaker of `speakers` (default: all in `feats`); SI: one over all, under SI_KEY."""
    grouped = speaker_powers(feats)
    if speaker_independent:
        log.info("%s: SI dictionary over %d speakers", feats, len(grouped))
        return {SI_KEY: learn_dictionary([p for powers in grouped.values() for p in powers], config).numpy()}
    speakers = sorted(grouped) if speakers is None else speakers
    missing = sorted(set(speakers) - set(grouped))
    if missing:
        raise FeatureFileError(f"{feats}: no utterances of speaker(s) {missing}")
    dictionaries = {}
    for speaker in speakers:
        log.info("%s: SD dictionary of %s (%d utterances)", feats, speaker, len(grouped[speaker]))
        dictionaries[speaker] = learn_dictionary(grouped[speaker], config).numpy()
    return dictionaries


def save_dictionaries(path: str | Path, dictionaries: dict[str, np.ndarray]) -> None:
    """Write the dictionaries to one .npz (atomically), one array F x K per speaker id (or SI_KEY)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **dictionaries)


def load_dictionaries(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: NMF dictionaries do not exist (run train_nmf)")
    with np.load(path) as arrays:
        return {name: torch.from_numpy(arrays[name]) for name in arrays.files}


def separate_power(power: torch.Tensor, dictionaries: list[torch.Tensor], config: NmfConfig) -> torch.Tensor:
    """Variances [J + 1, N, F] of each speaker (fixed dictionaries) and of the noise (NMF learned here)."""
    v = power.double().T
    generator = torch.Generator().manual_seed(config.seed)
    fixed = torch.cat([d.double() for d in dictionaries], dim=1)
    w_noise, _ = random_factors(v, config.noise_rank, generator)
    w = torch.cat([fixed, w_noise], dim=1)
    h = (torch.rand(w.shape[1], v.shape[1], generator=generator, dtype=v.dtype) + 0.1) * (
        float(v.mean()) / w.shape[1] * v.shape[0]
    )
    w, h = is_nmf(v, w, h, config.separate_iterations, config, free=slice(fixed.shape[1], None))
    bounds = np.cumsum([0] + [d.shape[1] for d in dictionaries] + [config.noise_rank])
    return torch.stack([(w[:, a:b] @ h[a:b]).T for a, b in zip(bounds[:-1], bounds[1:])])


def wiener(variances: torch.Tensor, stft: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Wiener estimates of every source: its share of the total variance times the mixture STFT."""
    estimates = variances / variances.sum(0).clamp_min(eps) * stft
    return estimates[:-1].to(stft.dtype), estimates[-1].to(stft.dtype)


class NmfMethod:
    """Decoding method: NMF separation of each mixture with its speakers' dictionaries (SD) or the SI one."""

    def __init__(self, dictionaries: dict[str, torch.Tensor], config: NmfConfig, source: str = "dictionaries"):
        self.dictionaries = dictionaries
        self.config = config
        self.source = source

    def dictionary(self, speaker: str) -> torch.Tensor:
        if SI_KEY in self.dictionaries:
            return self.dictionaries[SI_KEY]
        if speaker not in self.dictionaries:
            raise InputFileError(f"{self.source}: no dictionary for speaker {speaker!r} (train_nmf --speakers)")
        return self.dictionaries[speaker]

    def __call__(self, mixture: Mixture) -> Separation:
        variances = separate_power(mixture.power, [self.dictionary(s) for s in mixture.speakers], self.config)
        sources, noise = wiener(variances, mixture.stft, self.config.eps)
        return Separation(sources, noise)
