"""Reading and writing waveforms, with errors that name the file."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import scipy.io.wavfile
import soundfile

from avvae.errors import AvvaeError
from avvae.fileio.atomic import atomic_path

log = logging.getLogger(__name__)


class AudioFileError(AvvaeError):
    """A waveform file is missing, unreadable, or not what the recipe expects."""


def read_wav(path: str | Path, expected_rate: int | None = None, downmix: bool = False) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] and the sample rate; fails clearly on a missing/odd/empty file. A multichannel
    file is refused, or with `downmix` (a user's own recording) averaged to mono with a log line."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: audio file does not exist")
    check_complete(path)
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise AudioFileError(f"{path}: cannot read audio ({error})") from error
    if len(samples) == 0:
        raise AudioFileError(f"{path}: has no samples (an empty recording)")
    if samples.shape[1] != 1 and downmix:
        log.info("%s: %d channels, downmixed to mono (their mean)", path, samples.shape[1])
        samples = samples.mean(axis=1, keepdims=True, dtype=np.float32)
    if samples.shape[1] != 1:
        raise AudioFileError(f"{path}: expected mono audio, found {samples.shape[1]} channels")
    if expected_rate is not None and rate != expected_rate:
        raise AudioFileError(f"{path}: sample rate {rate} Hz, expected {expected_rate} Hz")
    check_finite(samples[:, 0], str(path), rate)
    return samples[:, 0], int(rate)


def check_complete(path: Path) -> None:
    """Fail when a WAV file is shorter than its header says (a copy or download cut short): libsndfile would read the
    part that is there as a shorter recording, with no error. Non-WAV files and streamed headers (data size 0 or
    0xFFFFFFFF) are not checked."""
    with open(path, "rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return
            size = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                available = path.stat().st_size - handle.tell()
                if 0 < size < 0xFFFFFFFF and available < size:
                    raise AudioFileError(
                        f"{path}: truncated: its header announces {size} bytes of samples, the file holds {available}"
                    )
                return
            handle.seek(size + (size & 1), 1)


def check_finite(samples: np.ndarray, what: str, rate: int) -> None:
    """Fail, naming `what` and the first bad sample, when a waveform holds NaN or infinite values: one such
    sample turns every spectrogram, separation and score computed from it into NaN."""
    bad = np.flatnonzero(~np.isfinite(samples))
    if bad.size:
        first = int(bad[0])
        raise AudioFileError(
            f"{what}: {bad.size} non-finite sample(s), the first at sample {first} "
            f"({first / rate:.3f} s): {samples[first]}"
        )


def write_wav(path: str | Path, samples: np.ndarray, rate: int, subtype: str = "FLOAT") -> None:
    """Write mono audio atomically; FLOAT keeps mixtures exact and unclipped, PCM_16 suits clean speech.

    FLOAT goes through scipy: libsndfile stamps float WAVs with the time (PEAK chunk), so the same samples
    would give different bytes on each run, and the corpus and mixtures must be reproducible byte for byte.
    """
    check_finite(np.asarray(samples), f"{path} (not written)", rate)
    with atomic_path(path) as tmp:
        if subtype == "FLOAT":
            scipy.io.wavfile.write(tmp, rate, np.asarray(samples, dtype=np.float32))
        else:
            soundfile.write(str(tmp), np.asarray(samples), rate, subtype=subtype, format="WAV")


def peak_normalise(samples: np.ndarray, peak: float = 1.0) -> np.ndarray:
    """Scale so that max |x| = peak (silence is returned unchanged)."""
    top = float(np.max(np.abs(samples))) if samples.size else 0.0
    return samples if top == 0.0 else samples * (peak / top)
