"""Where a decode dir keeps its separated signals (shared by decoding and scoring, without importing torch)."""

from __future__ import annotations

from pathlib import Path


def output_paths(out_dir: Path, key: str, num_speakers: int) -> list[Path]:
    """Where a mixture's estimates go: one wav per speaker, then the noise."""
    wav = out_dir / "wav"
    return [wav / f"{key}_s{j}.wav" for j in range(1, num_speakers + 1)] + [wav / f"{key}_noise.wav"]
