"""GRID-like sentences (Cooke et al. 2006): command colour preposition letter digit adverb ("bin blue at f two now").

The transcript keeps GRID's words; espeak-ng reads single letters as words ("a" -> the article), so the text given
to the synthesiser spells each letter's name out.
"""

from __future__ import annotations

import numpy as np

COMMANDS = ("bin", "lay", "place", "set")
COLOURS = ("blue", "green", "red", "white")
PREPOSITIONS = ("at", "by", "in", "with")
LETTERS = tuple("abcdefghijklmnopqrstuvxyz")  # GRID leaves out w
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ADVERBS = ("again", "now", "please", "soon")

# How each letter is written so that espeak-ng says its name (checked on the us1 and *-en voices).
LETTER_NAMES = dict(
    zip(
        LETTERS,
        ("eigh bee see dee ee ef gee aitch eye jay kay el em en oh pee cue ar ess tee you vee ex why zed".split()),
    )
)


def draw_sentence(rng: np.random.Generator) -> list[str]:
    """Six GRID words drawn uniformly, slot by slot."""
    return [str(rng.choice(words)) for words in (COMMANDS, COLOURS, PREPOSITIONS, LETTERS, DIGITS, ADVERBS)]


def spoken_text(words: list[str]) -> str:
    """The text handed to espeak-ng: letters replaced by their spelled names."""
    return " ".join(LETTER_NAMES.get(word, word) if len(word) == 1 else word for word in words)
