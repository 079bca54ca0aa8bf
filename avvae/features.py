"""Feature dump to HDF5: per utterance the complex STFT, the power spectrogram and the lips at the STFT rate.

Layout of dump/<set>/feats.h5 (one group per utterance key, attrs `complete=True` written last):
- root attrs: the STFT settings, `lips_interpolation`, `kind` ("speech" | "noise" | "mixture"), `num_speakers`;
- speech: `stft` complex64 [N, F] of the peak-normalised waveform, `power` float32 [N, F], `lips` uint8 [N, H, W];
- noise: `stft`, `power`;
- mixture: `stft`, `power` of the peak-normalised mixture, `lips1..lipsJ`, and the references scaled alike,
  `stft_source1..J` and `stft_noise`; attrs `spk1..spkJ` (who speaks) and `condition` (e.g. "snr-5").
Lips are trimmed with the audio: N STFT frames, each given the lip frame(s) at its centre time. Every group has
attrs `num_samples` and `scale`, the factor applied to the waveform (divide by it to get back to the wav's level).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import h5py
import numpy as np
from tqdm import tqdm

from avvae.config import ConfigValueError, check_ranges
from avvae.fileio.audio import read_wav
from avvae.fileio.datadir import is_mixture_dir, read_manifest, read_table, speaker_count
from avvae.fileio.feature_files import FeatureFileError, settings_differences
from avvae.fileio.lips import load_lips, resample_lips
from avvae.fileio.write_errors import naming_full_disk, require_space
from avvae.stft import StftConfig, stft

log = logging.getLogger(__name__)


@dataclass
class FeatureConfig:
    """conf/feats.yaml: STFT settings and how lips are brought to the STFT frame rate."""

    sample_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 533
    window: str = "sine"
    lips_interpolation: str = "nearest"
    lips_tolerance: float = 0.1
    peak_normalise: bool = True

    def __post_init__(self) -> None:
        check_ranges(self, {"sample_rate": "> 0", "n_fft": ">= 2", "hop_length": ">= 1", "lips_tolerance": ">= 0"})
        if self.hop_length > self.n_fft:
            raise ConfigValueError(f"hop_length ({self.hop_length}) must not exceed n_fft ({self.n_fft})")
        if self.lips_interpolation not in ("nearest", "linear"):
            raise ConfigValueError(f"lips_interpolation must be nearest or linear, got {self.lips_interpolation!r}")

    @property
    def stft(self) -> StftConfig:
        return StftConfig(self.sample_rate, self.n_fft, self.hop_length, self.window)


def _lips_at_frames(path: str, num_frames: int, config: FeatureConfig) -> np.ndarray:
    frames, fps = load_lips(path)
    pixels = resample_lips(frames, fps, config.stft.frame_times(num_frames), config.lips_interpolation)
    return np.rint(pixels * 255.0).astype(np.uint8)


def _read_scaled(path: str, config: FeatureConfig, scale: float | None = None) -> tuple[np.ndarray, float]:
    """Samples scaled to peak 1 (or by the given scale); returns the samples and the scale used."""
    samples, _ = read_wav(path, config.sample_rate)
    if scale is None:
        peak = float(np.max(np.abs(samples)))
        scale = 1.0 / peak if (config.peak_normalise and peak > 0) else 1.0
    return samples * scale, scale


def _spectra(samples: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    spec = stft(samples, config.stft).numpy()
    return spec.astype(np.complex64), (spec.real**2 + spec.imag**2).astype(np.float32)


def utterance_features(key: str, tables: dict[str, dict[str, str]], config: FeatureConfig) -> dict[str, np.ndarray]:
    """All datasets of one utterance's group, from the data dir's tables."""
    samples, scale = _read_scaled(tables["wav.scp"][key], config)
    spec, power = _spectra(samples, config)
    features = {"stft": spec, "power": power}
    num_frames = len(spec)
    if "spk1.scp" in tables:
        j = 1
        while f"spk{j}.scp" in tables:
            source, _ = _read_scaled(tables[f"spk{j}.scp"][key], config, scale)
            features[f"stft_source{j}"] = _spectra(source, config)[0]
            features[f"lips{j}"] = _lips_at_frames(tables[f"lips{j}.scp"][key], num_frames, config)
            j += 1
        noise, _ = _read_scaled(tables["noise1.scp"][key], config, scale)
        features["stft_noise"] = _spectra(noise, config)[0]
        entry = tables["manifest"][key]
        features.update({f"spk{j}": source["spk"] for j, source in enumerate(entry["sources"], start=1)})
        features["condition"] = entry["condition"]
    elif "lips.scp" in tables:
        features["lips"] = _lips_at_frames(tables["lips.scp"][key], num_frames, config)
    features["num_samples"] = np.int64(len(samples))
    features["scale"] = np.float64(scale)
    return features


def _data_tables(data_dir: Path) -> dict[str, dict]:
    """The data dir's tables by file name; a mixture dir's manifest lines under "manifest", by mixture id."""
    names = ["wav.scp", "utt2spk"]
    if is_mixture_dir(data_dir):
        count = speaker_count(data_dir)
        names += [f"spk{j}.scp" for j in range(1, count + 1)] + [f"lips{j}.scp" for j in range(1, count + 1)]
        names += ["noise1.scp"]
    elif (data_dir / "lips.scp").is_file():
        names.append("lips.scp")
    tables: dict[str, dict] = {name: read_table(data_dir / name) for name in names}
    if is_mixture_dir(data_dir):
        tables["manifest"] = read_manifest(data_dir, list(tables["wav.scp"]))
    return tables


def data_kind(data_dir: Path) -> str:
    if is_mixture_dir(data_dir):
        return "mixture"
    return "speech" if (data_dir / "lips.scp").is_file() else "noise"


def _write_root_attrs(handle: h5py.File, config: FeatureConfig, kind: str, num_speakers: int) -> None:
    for name, value in asdict(config).items():
        handle.attrs[name] = value
    handle.attrs["kind"] = kind
    handle.attrs["num_speakers"] = num_speakers


def _require_settings(handle: h5py.File, path: Path, config: FeatureConfig, which: str) -> None:
    """Refuse to resume (or reuse) a job's dump made with other feature settings: it would mix utterances of two
    settings in one feats.h5."""
    differences = settings_differences(handle.attrs, asdict(config))
    if differences:
        raise FeatureFileError(
            f"{path}: {which} dump made with {', '.join(differences)}: remove it, or rerun the "
            "stage with --force true, to dump with the new settings"
        )


def _open_partial(path: Path) -> h5py.File:
    """Open (or start) a partial dump; a partial file left unreadable by a kill is started afresh."""
    try:
        return h5py.File(path, "a")
    except OSError:
        log.warning("%s: unreadable partial dump (killed while writing?), starting it again", path)
        path.unlink()
        return h5py.File(path, "a")


def dump_features(
    data_dir: str | Path, output: str | Path, config: FeatureConfig, keys: Iterable[str] | None = None
) -> int:
    """Dump the utterances `keys` (default: all) of a data dir to `output`; returns how many were computed.

    Work goes to `<output>.partial`, one complete group at a time, so a killed dump resumes where it stopped;
    the file is renamed to `output` only once every utterance is in. An existing `output` means done. An utterance
    that the disk has no room for is not begun, and a full disk is an error naming the file (DiskFullError).
    """
    data_dir, output = Path(data_dir), Path(output)
    if output.exists():
        with h5py.File(output, "r") as handle:
            _require_settings(handle, output, config, "a finished")
        log.info("%s exists, nothing to do", output)
        return 0
    tables = _data_tables(data_dir)
    keys = list(tables["wav.scp"]) if keys is None else list(keys)
    partial = output.with_name(output.name + ".partial")
    output.parent.mkdir(parents=True, exist_ok=True)
    computed = 0
    kept = "the utterances complete in it are kept: free some space and rerun to resume"
    # a write that fails midway may leave the HDF5 file unreadable (begun again on rerun), hence require_space
    failed = f"{kept} (unless the failed write left it unreadable: then it is begun again)"
    with naming_full_disk(partial, failed), _open_partial(partial) as handle:
        _require_settings(handle, partial, config, "a partial")
        _write_root_attrs(handle, config, data_kind(data_dir), speaker_count(data_dir))
        for key in tqdm(keys, desc=f"dump {data_dir.name}", unit="utt", mininterval=2.0):
            if key in handle and handle[key].attrs.get("complete", False):
                continue
            if key in handle:
                del handle[key]
            features = utterance_features(key, tables, config)
            require_space(
                partial, sum(np.asarray(value).nbytes for value in features.values()), f"utterance {key}", kept
            )
            group = handle.create_group(key)
            for name, value in features.items():
                if np.ndim(value) == 0:
                    group.attrs[name] = value
                else:
                    group.create_dataset(name, data=value)
            group.attrs["spk"] = tables["utt2spk"][key]
            group.attrs["complete"] = True
            handle.flush()
            computed += 1
    os.replace(partial, output)
    log.info("%s: %d utterances computed, %d already there", output, computed, len(keys) - computed)
    return computed
