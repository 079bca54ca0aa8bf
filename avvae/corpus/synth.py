"""Speech synthesis with espeak-ng (text -> MBROLA .pho) and mbrola (.pho -> waveform).

Because we hand mbrola the .pho ourselves, its durations times the time ratio are the exact phoneme timeline of
the audio; the lips are rendered from that timeline.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import resample_poly

from avvae.corpus.config import SpeakerConfig
from avvae.errors import AvvaeError

SAMPLE_RATE = 16000


class SynthesisToolError(AvvaeError):
    """espeak-ng, mbrola or an MBROLA voice is missing or failed; the message says what to install."""


@dataclass(frozen=True)
class Phone:
    """One phoneme of the synthesised audio, times in seconds."""

    symbol: str
    start: float
    end: float


def voice_path(mbrola_dir: str | Path, db: str) -> Path:
    return Path(mbrola_dir) / db / db


def check_tools(speakers: list[SpeakerConfig], mbrola_dir: str | Path) -> None:
    """Fail before any work when a binary or a speaker's MBROLA database is missing."""
    for binary, package in (("espeak-ng", "espeak-ng"), ("mbrola", "mbrola")):
        if shutil.which(binary) is None:
            raise SynthesisToolError(f"{binary} not found on PATH; install the Debian package {package}")
    missing = sorted({speaker.db for speaker in speakers if not voice_path(mbrola_dir, speaker.db).is_file()})
    if missing:
        raise SynthesisToolError(
            "MBROLA voice(s) missing: "
            + ", ".join(f"{db} (expected {voice_path(mbrola_dir, db)})" for db in missing)
            + "; install the Debian package(s) "
            + " ".join(f"mbrola-{db}" for db in missing)
            + " (Debian non-free)"
        )
    for speaker in {speaker.voice: speaker for speaker in speakers}.values():
        probe = subprocess.run(["espeak-ng", "-q", "-v", speaker.voice, "--pho", "a"], capture_output=True, text=True)
        if probe.returncode != 0:
            raise SynthesisToolError(
                f"espeak-ng cannot use voice {speaker.voice} (speaker {speaker.id}): {probe.stderr.strip()}; "
                f"espeak-ng looks for the database in /usr/share/mbrola/{speaker.db}: install the Debian package "
                f"mbrola-{speaker.db} (Debian non-free)"
            )


def _run(command: list[str], what: str) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SynthesisToolError(f"{what} failed (exit {result.returncode}): {' '.join(command)}\n{result.stderr}")
    return result


def parse_pho(text: str) -> list[tuple[str, int, str]]:
    """(phoneme, duration ms, pitch points) for each non-blank line of an MBROLA .pho file."""
    entries = []
    for line in text.splitlines():
        fields = line.split(None, 2)
        if not fields or fields[0].startswith(";"):
            continue
        entries.append((fields[0], int(fields[1]), fields[2] if len(fields) > 2 else ""))
    return entries


def text_to_pho(speaker: SpeakerConfig, text: str) -> list[tuple[str, int, str]]:
    """espeak-ng's MBROLA phoneme list for `text` in the speaker's voice."""
    result = _run(["espeak-ng", "-q", "-v", speaker.voice, "--pho", text], f"espeak-ng (voice {speaker.voice})")
    entries = parse_pho(result.stdout)
    if not entries:
        raise SynthesisToolError(f"espeak-ng (voice {speaker.voice}) printed no phonemes for {text!r}: {result.stderr}")
    return entries


def synthesise(
    speaker: SpeakerConfig, text: str, leading_pause_s: float, mbrola_dir: str | Path
) -> tuple[np.ndarray, list[Phone]]:
    """(float32 waveform at 16 kHz, phoneme timeline) of `text` spoken by `speaker` after a pause."""
    entries = [("_", int(round(1000 * leading_pause_s / speaker.time_ratio)), "")] + text_to_pho(speaker, text)
    with tempfile.TemporaryDirectory(prefix="avvae_synth_") as workdir:
        pho, wav = Path(workdir) / "in.pho", Path(workdir) / "out.wav"
        pho.write_text("".join(f"{symbol} {ms} {pitch}\n".rstrip() + "\n" for symbol, ms, pitch in entries))
        _run(
            [
                "mbrola",
                "-e",
                "-f",
                str(speaker.pitch_ratio),
                "-t",
                str(speaker.time_ratio),
                str(voice_path(mbrola_dir, speaker.db)),
                str(pho),
                str(wav),
            ],
            f"mbrola (database {speaker.db})",
        )
        samples, rate = soundfile.read(str(wav), dtype="float32")
    if rate != SAMPLE_RATE:
        divisor = gcd(rate, SAMPLE_RATE)
        samples = resample_poly(samples, SAMPLE_RATE // divisor, rate // divisor).astype(np.float32)
    duration = len(samples) / SAMPLE_RATE
    ends = np.cumsum([ms for _, ms, _ in entries]) * speaker.time_ratio / 1000.0
    starts = np.concatenate([[0.0], ends[:-1]])
    ends[-1] = duration  # mbrola rounds each phone to whole samples: absorb the few ms of drift in the last pause
    timeline = [
        Phone(symbol, float(min(start, duration)), float(min(end, duration)))
        for (symbol, _, _), start, end in zip(entries, starts, ends)
    ]
    return samples, timeline


def format_timeline(timeline: list[Phone]) -> str:
    """The `<corpus>/pho/<spk>/<utt>.pho` text: `phoneme start_s end_s` lines."""
    return "".join(f"{phone.symbol} {phone.start:.4f} {phone.end:.4f}\n" for phone in timeline)


def parse_timeline(text: str) -> list[Phone]:
    """Inverse of format_timeline."""
    phones = []
    for line in text.splitlines():
        if line.strip():
            symbol, start, end = line.split()
            phones.append(Phone(symbol, float(start), float(end)))
    return phones
