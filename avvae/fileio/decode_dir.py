"""Where a decode dir keeps its separated signals and its speaker-order record (shared by decoding and scoring,
without importing torch)."""

from __future__ import annotations

from pathlib import Path

from avvae.fileio.atomic import write_text_atomic

# The decode's record of whether its estimates follow the mixtures' speaker order: "fixed" (estimate j is speaker
# j's) or "none" (the system could not tell the speakers apart: any order of its estimates is as good).
SPEAKER_ORDER = "speaker_order"
SPEAKER_ORDERS = ("fixed", "none")


def output_paths(out_dir: Path, key: str, num_speakers: int) -> list[Path]:
    """Where a mixture's estimates go: one wav per speaker, then the noise."""
    wav = out_dir / "wav"
    return [wav / f"{key}_s{j}.wav" for j in range(1, num_speakers + 1)] + [wav / f"{key}_noise.wav"]


def write_speaker_order(out_dir: str | Path, order: str) -> None:
    """Record the speaker order of a decode's estimates (one of SPEAKER_ORDERS), atomically."""
    if order not in SPEAKER_ORDERS:
        raise ValueError(f"speaker order {order!r} is not one of {', '.join(SPEAKER_ORDERS)}")
    write_text_atomic(Path(out_dir) / SPEAKER_ORDER, f"{order}\n")


def read_speaker_order(decode_dir: str | Path) -> str | None:
    """The speaker order a decode recorded; None where there is no record (estimates made elsewhere, or by a decode
    from before the record). A record that holds anything else is an error naming it."""
    path = Path(decode_dir) / SPEAKER_ORDER
    if not path.is_file():
        return None
    order = path.read_text().strip()
    if order not in SPEAKER_ORDERS:
        raise ValueError(f"{path}: {order!r} is not a speaker order ({' or '.join(SPEAKER_ORDERS)})")
    return order
