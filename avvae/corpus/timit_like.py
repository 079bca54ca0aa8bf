"""TIMIT-like read sentences from a small phrase-structure grammar with a vocabulary of about 400 words.

GRID's six-slot commands (avvae.corpus.grid) are short (1.5-2.5 s) and draw on 51 words, too little phonetic
variety to teach a speech model; these sentences last about 3-5 s at the corpus's speaking rates and cover most
English phonemes in many contexts, like TIMIT's SX sentences ("The bungalow was pleasantly situated near the
shore"). Every word is plain English that espeak-ng reads as written.
"""

from __future__ import annotations

import numpy as np

ADJECTIVES = tuple(
    """
old young small large quiet noisy bright dark heavy light cold warm early late happy angry careful lazy clever
brave gentle rough smooth narrow wide empty busy yellow purple golden silver wooden broken hidden famous strange
simple thin thick sharp soft hungry tired proud honest rapid steady distant local modern ancient fresh bitter
sweet muddy dusty shiny greasy frozen
""".split()
)

NOUNS = tuple(
    """
farmer teacher doctor sailor baker driver painter lawyer student nurse soldier miner pilot writer butcher
singer dancer fisherman gardener neighbour child girl boy woman man grandmother uncle captain
dog horse kitten rabbit goose donkey pony mouse tiger camel
house barn garden kitchen window bridge river valley mountain village market station harbour castle chapel
forest meadow island office cellar ladder basket bottle blanket bucket candle carpet chair clock coat
drawer engine fence hammer jacket kettle lamp letter mirror needle pencil pillow pocket rope saddle shovel
spoon table ticket towel trumpet wagon wallet wheel whistle apple biscuit bread butter cheese onion orange
pepper potato sugar tomato water coffee soup
""".split()
)

PLACES = tuple(
    """
barn garden kitchen bridge river valley mountain village market station harbour castle chapel forest meadow
island office cellar library bakery stable factory hospital school theatre museum
""".split()
)

VERBS_PAST = tuple(
    """
carried painted opened closed cleaned fixed washed dropped lifted pushed pulled found lost bought sold
borrowed wanted needed watched followed noticed ordered packed wrapped boiled cooked tasted counted measured
polished repaired delivered collected forgot remembered broke chose caught brought taught built
""".split()
)

VERBS_MOTION = tuple(
    """
walked hurried wandered rushed strolled marched drove rode sailed climbed travelled returned crept jumped
""".split()
)

ADVERBS = tuple(
    """
quickly slowly quietly loudly carefully gladly rarely often nearly suddenly easily gently proudly sadly
calmly boldly
""".split()
)

TIMES = (
    "last night",
    "this morning",
    "on sunday",
    "every winter",
    "after lunch",
    "before dinner",
    "at noon",
    "in the spring",
    "at midnight",
    "on monday",
    "all year",
    "last summer",
    "every evening",
    "on friday",
    "in october",
    "at dawn",
)

NAMES = tuple(
    """
alice bob carol david ellen frank grace harry irene james kate lucy martin nora oscar peter ruth simon
thomas victor
""".split()
)

PREPOSITIONS = ("near", "behind", "beside", "under", "inside", "across", "above", "below", "towards", "past")

DETERMINERS = ("the", "a", "that", "this", "every", "our", "my", "her", "his", "their")

NUMBERS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve", "twenty")


IRREGULAR_PLURALS = {
    "child": "children",
    "woman": "women",
    "man": "men",
    "fisherman": "fishermen",
    "mouse": "mice",
    "goose": "geese",
    "potato": "potatoes",
    "tomato": "tomatoes",
}


def plural(noun: str) -> str:
    if noun in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[noun]
    if noun.endswith(("s", "ch", "sh", "x")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _pick(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    return str(words[int(rng.integers(len(words)))])


def _noun_phrase(rng: np.random.Generator) -> list[str]:
    """the (adjective) noun: an adjective two times in three."""
    phrase = [_pick(rng, DETERMINERS)]
    if rng.random() < 2 / 3:
        phrase.append(_pick(rng, ADJECTIVES))
    return phrase + [_pick(rng, NOUNS)]


def _subject(rng: np.random.Generator) -> list[str]:
    return [_pick(rng, NAMES)] if rng.random() < 0.3 else _noun_phrase(rng)


def _place(rng: np.random.Generator) -> list[str]:
    return [_pick(rng, PREPOSITIONS), "the", _pick(rng, ADJECTIVES), _pick(rng, PLACES)]


def _transitive(rng: np.random.Generator) -> list[str]:
    """subject verbed the object near the place (at a time)."""
    words = _subject(rng) + [_pick(rng, VERBS_PAST)] + _noun_phrase(rng) + _place(rng)
    return words + _pick(rng, TIMES).split() if rng.random() < 0.5 else words


def _motion(rng: np.random.Generator) -> list[str]:
    """subject walked slowly across the place at a time."""
    return _subject(rng) + [_pick(rng, VERBS_MOTION), _pick(rng, ADVERBS)] + _place(rng) + _pick(rng, TIMES).split()


def _counted(rng: np.random.Generator) -> list[str]:
    """name counted seven adjective nouns and verbed them adverb."""
    return [
        _pick(rng, NAMES),
        _pick(rng, VERBS_PAST),
        _pick(rng, NUMBERS),
        _pick(rng, ADJECTIVES),
        plural(_pick(rng, NOUNS)),
        "and",
        _pick(rng, VERBS_PAST),
        "them",
        _pick(rng, ADVERBS),
    ]


def _question(rng: np.random.Generator) -> list[str]:
    """why did the subject leave the object behind the place."""
    return (
        [_pick(rng, ("why", "when", "where", "how"))]
        + ["did"]
        + _subject(rng)
        + [_pick(rng, ("leave", "hide", "find", "sell", "paint", "carry", "clean", "fix"))]
        + _noun_phrase(rng)
        + _place(rng)
    )


TEMPLATES = (_transitive, _motion, _counted, _question)


def draw_sentence(rng: np.random.Generator) -> list[str]:
    """One sentence, its template drawn uniformly; 8 to 15 words."""
    return TEMPLATES[int(rng.integers(len(TEMPLATES)))](rng)


def vocabulary() -> set[str]:
    """Every word a sentence can hold (plural nouns as drawn)."""
    words = set(
        ADJECTIVES + NOUNS + PLACES + VERBS_PAST + VERBS_MOTION + ADVERBS + NAMES + PREPOSITIONS + DETERMINERS + NUMBERS
    )
    words |= {word for time in TIMES for word in time.split()} | {plural(noun) for noun in NOUNS}
    return words | {
        "and",
        "them",
        "did",
        "why",
        "when",
        "where",
        "how",
        "the",
        "leave",
        "hide",
        "find",
        "sell",
        "paint",
        "carry",
        "clean",
        "fix",
    }
