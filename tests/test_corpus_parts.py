"""Parts of the mini_av generator: configs, sentences, phoneme -> viseme mapping, mouth rendering, noises."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import welch

from avvae.config import ConfigError
from avvae.corpus.config import check_corpus_config, load_corpus_config
from avvae.corpus.grid import ADVERBS, COLOURS, COMMANDS, DIGITS, LETTERS, PREPOSITIONS, draw_sentence, spoken_text
from avvae.corpus.noise import average_spectrum, coloured_noise, speech_shaped_noise
from avvae.corpus.render import draw_appearance, render_mouth
from avvae.corpus.synth import Phone, text_to_pho
from avvae.corpus.visemes import ARTICULATORS, mouth_trajectory, viseme_parts

CONF = Path(__file__).resolve().parents[1] / "egs" / "mini_av" / "conf"


@pytest.mark.parametrize("name", ["corpus.yaml", "corpus_tiny.yaml"])
def test_shipped_configs_load_and_fit_the_protocol(name):
    config = load_corpus_config(CONF / name)
    recorded = [s for s in config.speakers if s.split != "babble"]
    assert len({s.db for s in recorded}) == len(recorded)  # every recorded speaker its own MBROLA voice
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


def test_sentences_are_grid_commands_and_letters_are_spelled():
    rng = np.random.default_rng(0)
    sentences = [draw_sentence(rng) for _ in range(200)]
    for words in sentences:
        for word, vocabulary in zip(words, (COMMANDS, COLOURS, PREPOSITIONS, LETTERS, DIGITS, ADVERBS)):
            assert word in vocabulary
    assert len({" ".join(words) for words in sentences}) > 190
    assert spoken_text(["bin", "blue", "at", "a", "two", "now"]) == "bin blue at eigh two now"


def test_viseme_parts_handle_variants_diphthongs_and_unknown_symbols():
    assert viseme_parts("t_h") == ["t"]
    assert viseme_parts("u:") == ["u"]
    assert viseme_parts("aU") == ["a", "U"]
    assert viseme_parts("EI") == ["E", "I"]
    assert viseme_parts("4") == ["d"]
    assert viseme_parts("_") == ["_"]
    assert viseme_parts("Xq") == [None]


def test_every_phoneme_the_configured_voices_speak_has_a_viseme():
    config = load_corpus_config(CONF / "corpus.yaml")
    vocabulary = spoken_text(list(COMMANDS + COLOURS + PREPOSITIONS + LETTERS + DIGITS + ADVERBS))
    for speaker in config.speakers:
        symbols = {symbol for symbol, _, _ in text_to_pho(speaker, vocabulary)}
        unknown = sorted(symbol for symbol in symbols if None in viseme_parts(symbol))
        assert not unknown, f"{speaker.voice}: {unknown}"


def test_trajectory_closes_for_bilabials_and_opens_for_open_vowels():
    timeline = [Phone("_", 0.0, 0.3), Phone("b", 0.3, 0.38), Phone("A", 0.38, 0.6), Phone("m", 0.6, 0.68),
                Phone("u:", 0.68, 0.9), Phone("_", 0.9, 1.3)]
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
