"""Parts of the mini_av generator: configs, sentences (GRID and TIMIT-like), phoneme -> viseme mapping, mouth
rendering, noises and room tone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from avvae.config import ConfigError
from avvae.corpus import timit_like
from avvae.corpus.config import SENTENCE_GRAMMARS, check_corpus_config, load_corpus_config
from avvae.corpus.grid import ADVERBS, COLOURS, COMMANDS, DIGITS, LETTERS, PREPOSITIONS, draw_sentence, spoken_text
from avvae.corpus.make_corpus import GRAMMARS, spoken
from avvae.corpus.noise import average_spectrum, coloured_noise, room_tone, speech_shaped_noise
from avvae.corpus.render import draw_appearance, render_mouth
from avvae.corpus.synth import Phone, text_to_pho
from avvae.corpus.visemes import ARTICULATORS, mouth_trajectory, viseme_parts

CONF = Path(__file__).resolve().parents[1] / "egs" / "mini_av" / "conf"


@pytest.mark.parametrize("name", ["corpus.yaml", "corpus_tiny.yaml"])
def test_shipped_configs_load_and_fit_the_protocol(name):
    config = load_corpus_config(CONF / name)
    recorded = [s for s in config.speakers if s.split != "babble"]
    # a test or dev voice is heard nowhere else; training voices may come back as pitch/time variants
    for speaker in config.speakers_in("test") + config.speakers_in("dev_si"):
        assert [s.id for s in config.speakers if s.db == speaker.db] == [speaker.id], speaker.id
    assert not {s.db for s in config.speakers} & {"de3", "de4", "hu1", "pl1", "ro1"}  # held back as unheard voices
    assert len(config.speakers_in("test")) >= 3
    assert {s.gender for s in config.speakers_in("test")} == {"F", "M"}
    if name == "corpus.yaml":
        assert len(recorded) >= 12


def test_config_errors_name_the_problem():
    config = load_corpus_config(CONF / "corpus_tiny.yaml")
    twice = dataclasses.replace(config, speakers=config.speakers + config.speakers[:1])
    with pytest.raises(ConfigError, match="unique"):
        check_corpus_config(twice)
    bad_id = dataclasses.replace(config.speakers[0], id="s_1")
    with pytest.raises(ConfigError, match="letters and digits"):
        check_corpus_config(dataclasses.replace(config, speakers=[bad_id] + config.speakers[1:]))
    with pytest.raises(ConfigError, match="no speaker has split dev_si"):
        check_corpus_config(dataclasses.replace(config, speakers=[s for s in config.speakers if s.split != "dev_si"]))
    with pytest.raises(ConfigError, match="sd_test_utterances"):
        check_corpus_config(dataclasses.replace(config, sd_test_utterances=config.utterances_per_speaker))
    with pytest.raises(ConfigError, match="corpus config: sentences must be one of grid, timit_like, got 'timit'"):
        check_corpus_config(dataclasses.replace(config, sentences="timit"))
    for level in (0.0, 6.0):
        with pytest.raises(ConfigError, match=f"room_tone_db must be negative .*got {level}"):
            check_corpus_config(dataclasses.replace(config, room_tone_db=level))
    check_corpus_config(dataclasses.replace(config, room_tone_db=None))


def test_sentences_and_room_tone_are_read_from_the_config_file(tmp_path):
    shipped = load_corpus_config(CONF / "corpus.yaml")
    assert (shipped.sentences, shipped.room_tone_db) == ("timit_like", -45.0)
    assert set(GRAMMARS) == set(SENTENCE_GRAMMARS)  # every accepted grammar has a sentence drawer
    text = (CONF / "corpus_tiny.yaml").read_text()
    path = tmp_path / "corpus.yaml"
    path.write_text(text + "room_tone_db: loud\n")
    with pytest.raises(ConfigError, match=rf"{path}.room_tone_db: expected float, got 'loud'"):
        load_corpus_config(path)
    path.write_text(text + "sentences: timit_like\nroom_tone_db: -40\n")
    assert load_corpus_config(path).room_tone_db == -40.0


def test_sentences_are_grid_commands_and_letters_are_spelled():
    rng = np.random.default_rng(0)
    sentences = [draw_sentence(rng) for _ in range(200)]
    for words in sentences:
        for word, vocabulary in zip(words, (COMMANDS, COLOURS, PREPOSITIONS, LETTERS, DIGITS, ADVERBS)):
            assert word in vocabulary
    assert len({" ".join(words) for words in sentences}) > 190
    assert spoken_text(["bin", "blue", "at", "a", "two", "now"]) == "bin blue at eigh two now"


def test_timit_like_sentences_are_8_to_15_known_words_drawn_from_the_seed():
    sentences = [timit_like.draw_sentence(np.random.default_rng(seed)) for seed in range(2000)]
    assert all(8 <= len(words) <= 15 for words in sentences)
    vocabulary = timit_like.vocabulary()
    used = {word for words in sentences for word in words}
    assert used <= vocabulary and len(used) > 0.9 * len(vocabulary) > 360
    assert len({" ".join(words) for words in sentences}) == len(sentences)
    # every template is drawn: questions, counted objects, motion and (the rest) transitive sentences
    assert {words[0] for words in sentences} >= {"why", "when", "where", "how"}
    assert any("them" in words for words in sentences)
    assert any(set(words) & set(timit_like.VERBS_MOTION) for words in sentences)
    assert [timit_like.draw_sentence(np.random.default_rng(7)) for _ in range(2)] == [sentences[7]] * 2
    config = load_corpus_config(CONF / "corpus.yaml")
    with_article = next(words for words in sentences if "a" in words)
    assert spoken(config, tuple(with_article)) == " ".join(with_article)  # the article, not the letter "eigh"
    assert spoken(dataclasses.replace(config, sentences="grid"), ("bin", "a", "two")) == "bin eigh two"
    first, again = np.random.default_rng(3), np.random.default_rng(3)
    assert [timit_like.draw_sentence(first) for _ in range(20)] == [timit_like.draw_sentence(again) for _ in range(20)]


def test_timit_like_plurals():
    irregular = {
        "child": "children",
        "woman": "women",
        "man": "men",
        "fisherman": "fishermen",
        "mouse": "mice",
        "goose": "geese",
        "potato": "potatoes",
        "tomato": "tomatoes",
    }
    assert {noun: timit_like.plural(noun) for noun in irregular} == irregular
    assert set(irregular) <= set(timit_like.NOUNS)
    regular = {
        "pony": "ponies",
        "donkey": "donkeys",
        "dog": "dogs",
        "church": "churches",
        "box": "boxes",
        "bus": "buses",
        "brush": "brushes",
    }
    assert {noun: timit_like.plural(noun) for noun in regular} == regular


def test_viseme_parts_handle_variants_diphthongs_and_unknown_symbols():
    assert viseme_parts("t_h") == ["t"]
    assert viseme_parts("u:") == ["u"]
    assert viseme_parts("aU") == ["a", "U"]
    assert viseme_parts("EI") == ["E", "I"]
    assert viseme_parts("4") == ["d"]
    assert viseme_parts("_") == ["_"]
    assert viseme_parts("Xq") == [None]
    assert viseme_parts("X") == ["k", "s"]  # gr2's /ks/ cluster
    assert viseme_parts("u0") == ["u"] and viseme_parts("q") == ["g"]  # sw1/sw2's central /u/, gr2's palatal /g/


@pytest.mark.parametrize("grammar", SENTENCE_GRAMMARS)
def test_every_phoneme_the_configured_voices_speak_has_a_viseme(grammar):
    config = dataclasses.replace(load_corpus_config(CONF / "corpus.yaml"), sentences=grammar)
    words = (
        COMMANDS + COLOURS + PREPOSITIONS + LETTERS + DIGITS + ADVERBS
        if grammar == "grid"
        else tuple(sorted(timit_like.vocabulary()))
    )
    vocabulary = spoken(config, words)
    for speaker in config.speakers:
        symbols = {symbol for symbol, _, _ in text_to_pho(speaker, vocabulary)}
        unknown = sorted(symbol for symbol in symbols if None in viseme_parts(symbol))
        assert not unknown, f"{speaker.voice}: {unknown}"


def test_trajectory_closes_for_bilabials_and_opens_for_open_vowels():
    timeline = [
        Phone("_", 0.0, 0.3),
        Phone("b", 0.3, 0.38),
        Phone("A", 0.38, 0.6),
        Phone("m", 0.6, 0.68),
        Phone("u:", 0.68, 0.9),
        Phone("_", 0.9, 1.3),
    ]
    times = np.array([0.1, 0.34, 0.49, 0.64, 0.79, 1.2])
    track = dict(zip(ARTICULATORS, mouth_trajectory(timeline, times).T))
    opening = track["open"]
    assert opening[0] < 0.05 and opening[-1] < 0.05
    assert opening[2] > 0.7 and opening[1] < 0.3 and opening[3] < 0.3
    assert track["round"][4] > 0.7 and track["round"][2] < 0.3


def test_rendered_dark_area_grows_with_opening():
    trajectory = np.zeros((6, len(ARTICULATORS)))
    trajectory[:, 0] = np.linspace(0.0, 1.0, 6)
    trajectory[:, 1] = 0.6
    frames = render_mouth(trajectory, draw_appearance(3), np.random.default_rng(0))
    assert frames.dtype == np.uint8 and frames.shape == (6, 67, 67)
    dark = (frames < 70).sum(axis=(1, 2))
    assert dark[0] == 0 and np.all(np.diff(dark) > 0)
    assert draw_appearance(3) == draw_appearance(3) != draw_appearance(4)


def _slope_db_per_decade(noise: np.ndarray) -> float:
    frequencies, density = welch(noise, fs=16000, nperseg=4096)
    band = (frequencies > 100) & (frequencies < 4000)
    return float(np.polyfit(np.log10(frequencies[band]), 10 * np.log10(density[band]), 1)[0])


def test_coloured_noises_have_their_spectral_slopes():
    rng = np.random.default_rng(0)
    slopes = [_slope_db_per_decade(coloured_noise(rng, 16000 * 8, 16000, exponent)) for exponent in (0, 1, 2)]
    assert slopes == pytest.approx([0.0, -10.0, -20.0], abs=1.5)


def test_speech_shaped_noise_follows_the_speech_spectrum():
    rng = np.random.default_rng(1)
    time = np.arange(16000 * 2) / 16000
    tones = np.sin(2 * np.pi * 300 * time) + 0.3 * np.sin(2 * np.pi * 1200 * time)
    speech = [tones + 0.01 * rng.standard_normal(len(time))]
    frequencies, density = average_spectrum(speech, 16000)
    noise = speech_shaped_noise(rng, 16000 * 4, 16000, frequencies, density)
    noise_frequencies, noise_density = welch(noise, fs=16000, nperseg=1024)
    assert noise_frequencies[np.argmax(noise_density)] == pytest.approx(300, abs=20)
    assert np.corrcoef(np.log(noise_density), np.log(density))[0, 1] > 0.8

    # The power itself, not just its shape on a log scale: the 1200 Hz tone is 10.5 dB below the 300 Hz one in the
    # speech (amplitude 0.3) and the floor at 4 kHz about 60 dB below, and both are as far below in the noise.
    def below_peak_db(frequencies: np.ndarray, density: np.ndarray, hz: float) -> float:
        return float(10 * np.log10(density[np.argmin(np.abs(frequencies - hz))] / density.max()))

    assert below_peak_db(frequencies, density, 1200) == pytest.approx(20 * np.log10(0.3), abs=0.5)
    for hz, tolerance in ((1200, 1.0), (4000, 4.0)):
        assert below_peak_db(noise_frequencies, noise_density, hz) == pytest.approx(
            below_peak_db(frequencies, density, hz), abs=tolerance
        ), hz


def _utterance_with_pauses(rate: int = 16000) -> tuple[np.ndarray, slice]:
    """0.5 s of digital silence, 2 s of a voiced harmonic sound, 0.5 s of silence (what the synthesiser gives)."""
    time = np.arange(2 * rate) / rate
    voiced = sum(np.sin(2 * np.pi * 140 * k * time + k) / k for k in range(1, 20))
    voiced *= 0.5 * (1.2 + np.sin(2 * np.pi * 3 * time))  # syllable-rate envelope
    speech = np.zeros(3 * rate, dtype=np.float32)
    active = slice(rate // 2, rate // 2 + 2 * rate)
    speech[active] = voiced
    return speech, active


def test_room_tone_is_pink_at_its_level_below_the_speech_and_fills_the_pauses():
    speech, active = _utterance_with_pauses()
    tone = room_tone(np.random.default_rng(0), speech, -45.0, 16000)
    assert tone.shape == speech.shape and tone.dtype == speech.dtype
    assert _slope_db_per_decade(tone) == pytest.approx(-10.0, abs=1.5)
    speech_rms = np.sqrt(np.mean(speech[active].astype(np.float64) ** 2))
    assert 20 * np.log10(np.sqrt(np.mean(tone.astype(np.float64) ** 2)) / speech_rms) == pytest.approx(-45.0, abs=0.5)
    recording = speech + tone
    assert np.count_nonzero(recording == 0) == 0
    frames = recording[: len(recording) // 320 * 320].reshape(-1, 320)  # 20 ms frames
    frame_db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) / speech_rms**2)
    assert frame_db.min() > -55.0  # no frame near digital silence, pauses included
    assert np.array_equal(tone, room_tone(np.random.default_rng(0), speech, -45.0, 16000))
    louder = room_tone(np.random.default_rng(0), 4 * speech, -30.0, 16000)
    assert np.allclose(louder, tone * 4 * 10 ** (15 / 20), rtol=1e-4, atol=1e-9)  # follows the speech's level
