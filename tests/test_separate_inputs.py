"""`separate` with awkward inputs and output folders, run as a user runs it: the folder checked before any work
(not creatable, too little space), outputs written as a whole set or not at all, two inputs of one file name never
overwriting each other, a stereo mixture downmixed, an empty one refused, and a spectrogram figure whose size does
not grow with the recording."""

import errno
import json
import logging
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.signal
import soundfile
from imageio_ffmpeg import get_ffmpeg_exe

from avvae.bin import separate
from avvae.cli import run_main
from avvae.fileio.audio import read_wav, write_wav
from avvae.fileio.lips import save_lips
from avvae.models import ModelConfig, SpeechVAE, save_model
from avvae.separation import output_set, own_mixture
from tests import commands
from tests.datadirs import FPS, RATE, lips_for, voiced_utterance


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """b/mix.wav (and a/mix.wav, another mixture of the same name), lips for three speakers, a small model."""
    root = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(5)
    voices = [voiced_utterance(rng, 1.0, f0) for f0 in (110.0, 190.0, 260.0)]
    for folder, gains in (("a", (0.5, 0.3)), ("b", (0.3, 0.5))):
        mixture = gains[0] * voices[0] + gains[1] * voices[1] + 0.02 * rng.standard_normal(len(voices[0]))
        write_wav(root / folder / "mix.wav", mixture.astype(np.float32), RATE, subtype="PCM_16")
    for j, voice in enumerate(voices, start=1):
        save_lips(root / f"lips{j}.npz", lips_for(voice), FPS)
    save_model(SpeechVAE(ModelConfig(kind="avvae", hidden_dim=16, lip_hidden=8, lip_embedding=4)), root / "model.pt")
    (root / "mcem.yaml").write_text("iterations: 2\ndraws: 3\nburn_in: 1\nfinal_draws: 3\nfinal_burn_in: 1\n")
    return root


@pytest.fixture
def separations(monkeypatch):
    """Counts the separations run, to show that a refused command did no work."""
    calls = []
    original = own_mixture.separate

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(own_mixture, "separate", counted)
    return calls


def argv(recording, wav, out_dir, speakers: int = 2) -> list[str]:
    lips = [str(recording / f"lips{j}.npz") for j in range(1, speakers + 1)]
    return [
        str(wav),
        "--lips",
        *lips,
        "--model",
        str(recording / "model.pt"),
        "--mcem-config",
        str(recording / "mcem.yaml"),
        "--out-dir",
        str(out_dir),
    ]


def run(recording, wav, out_dir, speakers: int = 2) -> None:
    run_main(separate.build_parser, separate.main, argv(recording, wav, out_dir, speakers))


def failure(caplog, recording, wav, out_dir) -> str:
    """The error `separate` logs before it exits with status 1."""
    caplog.clear()
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as stop:
        run(recording, wav, out_dir)
    assert stop.value.code == 1
    return caplog.records[-1].getMessage()


def contents(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_an_output_folder_that_cannot_be_created_is_refused_before_any_work(recording, tmp_path, caplog, separations):
    (tmp_path / "taken").write_text("a file, not a folder")
    out = tmp_path / "taken" / "out"
    assert failure(caplog, recording, recording / "b" / "mix.wav", out).startswith(
        f"{out}: cannot create the output folder ("
    )
    assert not separations


def test_a_folder_without_room_for_the_outputs_is_refused_before_any_work(
    recording, tmp_path, caplog, separations, monkeypatch
):
    # 1 MiB free in the output folder, a lot everywhere else: checking another folder (the input's, the output's
    # parent, the working directory) finds room and fails this test.
    out = tmp_path / "out"
    monkeypatch.setattr(
        output_set.shutil, "disk_usage", lambda path: SimpleNamespace(free=2**20 if Path(path) == out else 2**40)
    )
    message = failure(caplog, recording, recording / "b" / "mix.wav", out)
    # 3 float32 wavs of 1 s (188 kB) and the figure, an uncompressed 900 x 880 RGBA image at most (3.0 MiB)
    assert message == f"{out}: 1.0 MiB free, the outputs need about 3.3 MiB: free some space or give another --out-dir"
    assert not separations and not list((tmp_path / "out").iterdir())


def test_a_failed_write_leaves_no_partial_set_and_keeps_the_previous_one(recording, tmp_path, caplog, monkeypatch):
    out = tmp_path / "out"
    run(recording, recording / "b" / "mix.wav", out)
    before = contents(out)
    assert set(before) == {"mix_s1.wav", "mix_s2.wav", "mix_noise.wav", "mix_spectrograms.png", "mix.json"}

    def disk_full(signals, rate, path):
        path.write_bytes(b"\x89PNG")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(own_mixture, "plot_spectrograms", disk_full)
    message = failure(caplog, recording, recording / "b" / "mix.wav", out)
    assert message.startswith(f"{out / 'mix_spectrograms.png'}: cannot write (No space left on device; ")
    assert contents(out) == before


def test_an_input_of_the_same_name_is_refused_naming_both(recording, tmp_path, caplog, separations):
    out = tmp_path / "out"
    run(recording, recording / "b" / "mix.wav", out)
    first = contents(out)
    assert json.loads(first["mix.json"])["source"] == str(recording / "b" / "mix.wav")
    separations.clear()
    message = failure(caplog, recording, recording / "a" / "mix.wav", out)
    assert message == (
        f"{out}: the outputs mix_* there were made from {recording / 'b' / 'mix.wav'}; "
        f"{recording / 'a' / 'mix.wav'} has the same file name and would overwrite them: give another "
        "--out-dir"
    )
    assert not separations and contents(out) == first
    (out / "mix.json").unlink()
    assert "mix_s1.wav, mix_s2.wav, mix_noise.wav, mix_spectrograms.png exist(s) but mix.json" in failure(
        caplog, recording, recording / "b" / "mix.wav", out
    )


def test_a_rerun_from_the_same_input_replaces_its_own_set(recording, tmp_path):
    out = tmp_path / "out"
    run(recording, recording / "b" / "mix.wav", out, speakers=3)
    assert (out / "mix_s3.wav").is_file()
    run(recording, recording / "b" / "mix.wav", out, speakers=2)
    assert sorted(path.name for path in out.iterdir()) == [
        "mix.json",
        "mix_noise.wav",
        "mix_s1.wav",
        "mix_s2.wav",
        "mix_spectrograms.png",
    ]
    assert json.loads((out / "mix.json").read_text())["outputs"][:2] == ["mix_s1.wav", "mix_s2.wav"]


def test_a_mixture_after_lips_or_model_is_named_as_taken_by_that_option(recording, tmp_path, caplog, separations):
    lips = [str(recording / f"lips{j}.npz") for j in (1, 2)]
    wav, model = str(recording / "b" / "mix.wav"), str(recording / "model.pt")
    cases = [
        (["--lips", *lips, wav, "--model", model], "--lips", "lips"),
        (["--lips", *lips, "--model", model, wav], "--model", "model"),
    ]
    for argv, option, kind in cases:
        message = commands.failure(caplog, separate.build_parser, separate.main, [*argv, "--out-dir", str(tmp_path)])
        assert message.startswith(f"no mixture wav: {option} takes every name after it, so it took {wav} as a {kind} ")
        assert message.endswith(f"give the mixture before the options, e.g. separate {wav} --lips ... --model ...")
    assert not separations


def test_a_stereo_mixture_is_downmixed_with_a_log_line(recording, tmp_path, caplog):
    mono, _ = read_wav(recording / "b" / "mix.wav")
    stereo = tmp_path / "stereo.wav"
    soundfile.write(str(stereo), np.stack([mono, 0.5 * mono], axis=1), RATE, subtype="FLOAT")
    with caplog.at_level(logging.INFO):
        run(recording, stereo, tmp_path / "out")
    assert f"{stereo}: 2 channels, downmixed to mono (their mean)" in caplog.messages
    outputs = [read_wav(tmp_path / "out" / f"stereo_{name}.wav")[0] for name in ("s1", "s2", "noise")]
    # the estimates add up to the downmixed mixture
    assert np.max(np.abs(np.sum(outputs, axis=0) - 0.75 * mono)) < 1e-3


def test_an_mp3_mixture_is_separated_at_its_own_level(recording, tmp_path):
    """An MP3 is read at the level of the wav it was made from, and its estimates add up to it: the codec changes the
    content (a band limit, quantisation), never the scale."""
    ffmpeg = get_ffmpeg_exe()
    encoders = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    if "libmp3lame" not in encoders or "MP3" not in soundfile.available_formats():
        pytest.skip("no MP3 encoder in the ffmpeg of imageio-ffmpeg, or a libsndfile that cannot read MP3")
    wav, mp3 = recording / "b" / "mix.wav", tmp_path / "mix.mp3"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(wav), "-c:a", "libmp3lame", str(mp3)], check=True)
    original, (samples, rate) = read_wav(wav)[0], read_wav(mp3)
    assert rate == RATE and len(samples) == len(original)
    assert 0.9 < np.sqrt(np.mean(samples**2) / np.mean(original**2)) < 1.1
    run(recording, mp3, tmp_path / "out")
    outputs = [read_wav(tmp_path / "out" / f"mix_{name}.wav")[0] for name in ("s1", "s2", "noise")]
    assert np.max(np.abs(np.sum(outputs, axis=0) - samples)) < 1e-3


def test_a_mixture_without_samples_is_refused_naming_it(recording, tmp_path, caplog, separations):
    empty = tmp_path / "empty.wav"
    soundfile.write(str(empty), np.zeros(0, np.float32), RATE, subtype="PCM_16")
    assert failure(caplog, recording, empty, tmp_path / "out") == f"{empty}: has no samples (an empty recording)"
    assert not separations


def test_the_figure_of_a_long_recording_is_pooled_to_a_bounded_width():
    rng = np.random.default_rng(0)
    signal = 0.01 * rng.standard_normal(60 * RATE).astype(np.float32)
    signal[30 * RATE : 30 * RATE + 64] = 1.0  # a 4 ms click in the middle
    db = own_mixture.pooled_db(signal, RATE)
    assert db.shape == (257, 1500) and db.dtype == np.float32
    # each column is the loudest of 5 frames of the full-resolution spectrogram (7497 frames), computed in blocks
    full = 10 * np.log10(scipy.signal.spectrogram(signal, fs=RATE, nperseg=512, noverlap=384)[2] + 1e-12)
    assert full.shape == (257, 7497)
    padded = np.pad(full, ((0, 0), (0, 3)), mode="edge")
    np.testing.assert_allclose(db, padded.reshape(257, 1500, 5).max(axis=2), atol=1e-3)
    # so the click stays visible, in the middle column
    assert db.max() == pytest.approx(full.max(), abs=1e-3)
    assert abs(int(np.argmax(db.max(axis=0))) - 750) <= 1
