"""Mixtures of J speakers plus noise, with a manifest that rebuilds every mixture bit for bit.

Per mixture: J distinct speakers, one utterance each, trimmed to the shortest (lips trimmed with them); speaker 1
is the level reference, speaker j > 1 is scaled to the drawn SIR below it, the noise to the drawn SNR below the
sum of the speech; then everything is scaled alike so that the mixture peaks at `peak`. The manifest line holds
the files, offsets and final gains, and `mix_sources` computes the signals from it, at creation and rebuild alike.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from avvae.config import ConfigValueError
from avvae.fileio.atomic import write_text_atomic
from avvae.fileio.audio import read_wav, write_wav
from avvae.fileio.datadir import DataDirError, read_table, spk2utt_from_utt2spk, write_table
from avvae.fileio.lips import load_lips, save_lips


@dataclass
class MixConfig:
    """conf/mix.yaml: how a test (or dev) mixture set is drawn."""

    num_speakers: int = 2
    num_mixtures: int = 60
    snr_db: list[float] = field(default_factory=lambda: [-5.0, 0.0, 5.0])
    sir_db: list[float] = field(default_factory=lambda: [0.0])
    noise_types: list[str] = field(default_factory=list)
    peak: float = 0.9
    sample_rate: int = 16000
    seed: int = 0
    condition_prefix: str = ""
    speaker_groups: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for group in self.speaker_groups:
            if len(group) != self.num_speakers:
                raise ConfigValueError(
                    f"speaker_groups: {group} has {len(group)} speakers, num_speakers is {self.num_speakers}"
                )


def _power(samples: np.ndarray) -> float:
    return float(np.mean(samples.astype(np.float64) ** 2)) + 1e-20


def _draw_speakers(
    index: int, config: MixConfig, spk2utt: dict[str, list[str]], rng: np.random.Generator
) -> tuple[list[str], list[str], float]:
    """(speakers, utterances, SNR) of one mixture. Without speaker_groups: distinct speakers drawn, the SNRs in
    turn. With them: the groups in turn, the SNRs in turn within each group; a speaker named twice in a group says
    two different utterances of theirs."""
    if not config.speaker_groups:
        if len(spk2utt) < config.num_speakers:
            raise DataDirError(f"{config.num_speakers} speakers per mixture, but the set has only {len(spk2utt)}")
        speakers = [str(spk) for spk in rng.choice(sorted(spk2utt), size=config.num_speakers, replace=False)]
        return speakers, [str(rng.choice(spk2utt[spk])) for spk in speakers], config.snr_db[index % len(config.snr_db)]
    speakers = config.speaker_groups[index % len(config.speaker_groups)]
    for spk in set(speakers):
        if len(spk2utt.get(spk, [])) < speakers.count(spk):
            raise DataDirError(
                f"speaker_groups: {speakers} needs {speakers.count(spk)} utterances of {spk}, the set "
                f"has {len(spk2utt.get(spk, []))}"
            )
    utts: list[str] = []
    for spk in speakers:
        utts.append(str(rng.choice(sorted(set(spk2utt[spk]) - set(utts)))))
    snr = config.snr_db[(index // len(config.speaker_groups)) % len(config.snr_db)]
    return list(speakers), utts, snr


def _draw_mixture(index: int, config: MixConfig, spk2utt: dict[str, list[str]], noises: dict[str, list[str]]) -> dict:
    """The random choices of one mixture: speakers, utterances, condition, noise and its offset fraction."""
    rng = np.random.default_rng([config.seed, index])
    speakers, utts, snr = _draw_speakers(index, config, spk2utt, rng)
    noise_type = sorted(noises)[int(rng.integers(len(noises)))]
    return {
        "utts": utts,
        "speakers": speakers,
        "snr_db": float(snr),
        "sir_db": float(config.sir_db[int(rng.integers(len(config.sir_db)))]),
        "noise_id": str(rng.choice(noises[noise_type])),
        "noise_type": noise_type,
        "noise_start_fraction": float(rng.random()),
    }


def mix_sources(entry: dict) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """(mixture, scaled sources, scaled noise) of one manifest entry, float32, deterministic."""
    length = entry["num_samples"]
    sources = [read_wav(s["wav"])[0][:length] * np.float32(s["gain"]) for s in entry["sources"]]
    noise_wav = read_wav(entry["noise"]["wav"])[0]
    start = entry["noise"]["offset"]
    noise = noise_wav[start : start + length] * np.float32(entry["noise"]["gain"])
    mixture = np.sum(sources, axis=0, dtype=np.float32) + noise
    return mixture, sources, noise


def _plan_entry(key: str, draw: dict, tables: dict[str, dict[str, str]], config: MixConfig) -> dict:
    """Turn one draw into a manifest entry: lengths, noise offset and the gains that give the drawn levels."""
    signals = [read_wav(tables["wav.scp"][utt], config.sample_rate)[0] for utt in draw["utts"]]
    length = min(len(signal) for signal in signals)
    noise_wav = read_wav(tables["noise"][draw["noise_id"]], config.sample_rate)[0]
    if len(noise_wav) < length:
        raise DataDirError(f"{tables['noise'][draw['noise_id']]}: noise shorter than the mixture ({length} samples)")
    offset = int(draw["noise_start_fraction"] * (len(noise_wav) - length))
    reference = _power(signals[0][:length])
    gains = [1.0] + [math.sqrt(reference / _power(s[:length]) * 10 ** (-draw["sir_db"] / 10)) for s in signals[1:]]
    speech = np.sum([g * s[:length] for g, s in zip(gains, signals)], axis=0)
    noise_gain = math.sqrt(_power(speech) / _power(noise_wav[offset : offset + length]) * 10 ** (-draw["snr_db"] / 10))
    peak = float(np.max(np.abs(speech + noise_gain * noise_wav[offset : offset + length])))
    scale = config.peak / peak if peak > 0 else 1.0
    return {
        "id": key,
        "num_samples": length,
        "sample_rate": config.sample_rate,
        "snr_db": draw["snr_db"],
        "sir_db": draw["sir_db"],
        "condition": f"{config.condition_prefix}{_group_label(draw['speakers'], config)}snr{draw['snr_db']:g}",
        "sources": [
            {"utt": utt, "spk": spk, "wav": tables["wav.scp"][utt], "lips": tables["lips.scp"][utt], "gain": g * scale}
            for utt, spk, g in zip(draw["utts"], draw["speakers"], gains)
        ],
        "noise": {
            "id": draw["noise_id"],
            "type": draw["noise_type"],
            "wav": tables["noise"][draw["noise_id"]],
            "offset": offset,
            "gain": noise_gain * scale,
        },
    }


def _group_label(speakers: list[str], config: MixConfig) -> str:
    """The speaker group of a mixture in its condition name ("s1+s4-"), when the config mixes fixed groups."""
    return "+".join(speakers) + "-" if config.speaker_groups else ""


def _mixture_paths(key: str, audio_dir: Path, num_speakers: int) -> dict[str, Path]:
    """Where one mixture's files go, by the scp that lists them."""
    paths = {"wav.scp": audio_dir / f"{key}.wav", "noise1.scp": audio_dir / f"{key}_noise.wav"}
    for j in range(1, num_speakers + 1):
        paths[f"spk{j}.scp"] = audio_dir / f"{key}_s{j}.wav"
        paths[f"lips{j}.scp"] = audio_dir / f"{key}_s{j}_lips.npz"
    return {name: path.resolve() for name, path in paths.items()}


def _write_mixture(entry: dict, paths: dict[str, Path]) -> None:
    """Write the mixture, its scaled references and noise, and each speaker's lips trimmed to the mixture."""
    mixture, sources, noise = mix_sources(entry)
    rate = entry["sample_rate"]
    write_wav(paths["wav.scp"], mixture, rate)
    write_wav(paths["noise1.scp"], noise, rate)
    for j, (source, info) in enumerate(zip(sources, entry["sources"]), start=1):
        write_wav(paths[f"spk{j}.scp"], source, rate)
        frames, fps = load_lips(info["lips"])
        keep = min(len(frames), max(1, round(entry["num_samples"] / rate * fps)))
        save_lips(paths[f"lips{j}.scp"], frames[:keep], fps)


def make_mixtures(
    speech_dir: str | Path, noise_dir: str | Path, out_dir: str | Path, audio_dir: str | Path, config: MixConfig
) -> int:
    """Write the mixture data dir `out_dir` (audio under `audio_dir`); skips mixtures already written."""
    speech_dir, noise_dir, out_dir, audio_dir = map(Path, (speech_dir, noise_dir, out_dir, audio_dir))
    tables = {name: read_table(speech_dir / name) for name in ("wav.scp", "utt2spk", "lips.scp")}
    tables["noise"] = read_table(noise_dir / "wav.scp")
    noise_types = read_table(noise_dir / "utt2spk")
    wanted = set(config.noise_types) or set(noise_types.values())
    unknown = wanted - set(noise_types.values())
    if unknown:
        raise DataDirError(f"{noise_dir / 'utt2spk'}: no noise of type(s) {sorted(unknown)}")
    noises: dict[str, list[str]] = {}
    for noise_id, kind in noise_types.items():
        if kind in wanted:
            noises.setdefault(kind, []).append(noise_id)
    spk2utt = {spk: utts.split() for spk, utts in spk2utt_from_utt2spk(tables["utt2spk"]).items()}

    scps: dict[str, dict[str, str]] = {}
    manifest = []
    for index in tqdm(range(config.num_mixtures), desc=f"mix {out_dir.name}", unit="mix", mininterval=2.0):
        draw = _draw_mixture(index, config, spk2utt, noises)
        key = f"mix{index:04d}_" + "_".join(draw["speakers"])
        entry = _plan_entry(key, draw, tables, config)
        entry["seed"] = [config.seed, index]
        paths = _mixture_paths(key, audio_dir, config.num_speakers)
        if not all(path.is_file() for path in paths.values()):
            _write_mixture(entry, paths)
        for name, path in paths.items():
            scps.setdefault(name, {})[key] = str(path)
        manifest.append(entry)
    for name, table in scps.items():
        write_table(out_dir / name, table)
    write_table(out_dir / "utt2spk", {key: key for key in scps["wav.scp"]})
    write_table(out_dir / "spk2utt", {key: key for key in scps["wav.scp"]})
    write_text_atomic(out_dir / "manifest.jsonl", "".join(json.dumps(e, sort_keys=True) + "\n" for e in manifest))
    write_table(out_dir / "utt2cond", {e["id"]: e["condition"] for e in manifest})
    return len(manifest)
