"""Whether a decode's estimates follow the mixtures' speaker order, from what its system tells the speakers apart by.

A system knows which estimate is whose when, in every mixture, something of its own differs between the speakers:
the lips it reads (each speaker's own), the references it is fitted to (the oracle rows), or the model or
dictionary it gives each (speaker-dependent ones of distinct speakers). One that gives two speakers of a mixture the
same model and reads no lips cannot: an audio-only SI VAE, NMF with the SI dictionary, or an SD audio-only model in
a mixture where one talker speaks twice. Its estimates come in an arbitrary order ("none"), and scoring takes their
best one; the decode records which (avvae.fileio.decode_dir.SPEAKER_ORDER).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Hashable, Iterable

from avvae.fileio.feature_files import open_features

# What a system tells each speaker of a mixture by (the mixture's speaker ids in, one cue per speaker out): two
# speakers with equal cues are the same to it.
SpeakerCues = Callable[[list[str]], list[Hashable]]


def own_cues(speakers: list[str]) -> list[Hashable]:
    """Every speaker its own cue: a system that reads each speaker's lips or reference (or gives every speaker the
    same estimate, the mixture or silence, whose order changes nothing)."""
    return list(range(len(speakers)))


def speaker_order(mixtures: Iterable[list[str]], cues: SpeakerCues) -> str:
    """ "fixed" when `cues` tell the speakers of every mixture (lists of speaker ids) apart, else "none"."""
    for speakers in mixtures:
        found = cues(speakers)
        if len(set(found)) < len(found):
            return "none"
    return "fixed"


def mixture_speakers(feats: str | Path) -> list[list[str]]:
    """The speaker ids of every mixture of a mixture feats.h5, in key order."""
    with open_features(feats) as handle:
        count = int(handle.attrs["num_speakers"])
        return [[str(handle[key].attrs[f"spk{j}"]) for j in range(1, count + 1)] for key in sorted(handle)]
