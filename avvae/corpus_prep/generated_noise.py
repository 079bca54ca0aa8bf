"""Noise for a corpus that comes without any: coloured noises and noise shaped like the corpus's own speech.

GRID has no noise recordings. Where no noise folder is given (`noise: generated` in conf/corpus.yaml), the recipe
makes one in the layout a noise folder has, `<folder>/{train,test}/<type>/<type>.wav`: white, pink (1/f power) and
brown (1/f^2) noise, and speech-shaped noise filtered to the average spectrum of the training speech. The train
and test recordings of a type are drawn from different seeds, so no test mixture holds a noise sample that a
training mixture saw.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avvae.corpus.noise import COLOUR_EXPONENTS, average_spectrum, shaped_noise
from avvae.corpus_prep.common import NOISE_SPLITS, CorpusLayoutError
from avvae.fileio.audio import peak_normalise, read_wav, write_wav

GENERATED_NOISE_TYPES = (*COLOUR_EXPONENTS, "ssn")
PEAK = 0.9


def write_generated_noise(folder: str | Path, speech_wavs: list[Path], rate: int, seconds: float, seed: int) -> Path:
    """Write the noise folder (recordings already there are kept); returns it. The speech-shaped noise takes the
    average spectrum of `speech_wavs`."""
    folder = Path(folder)
    length = int(round(seconds * rate))
    spectrum = None
    for split_index, split in enumerate(NOISE_SPLITS.values()):
        for type_index, kind in enumerate(GENERATED_NOISE_TYPES):
            path = folder / split / kind / f"{kind}.wav"
            if path.is_file():
                continue
            if kind == "ssn" and spectrum is None:
                if not speech_wavs:
                    raise CorpusLayoutError("speech-shaped noise needs training speech, and none was given")
                spectrum = average_spectrum([read_wav(wav, rate)[0] for wav in speech_wavs], rate)
            noise = shaped_noise(np.random.default_rng([seed, split_index, type_index]), kind, length, rate, spectrum)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_wav(path, peak_normalise(noise, PEAK).astype(np.float32), rate)
    return folder
