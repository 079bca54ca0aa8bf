"""Feature dump: contents, resume after a crash or a kill, merging job outputs, and the Kaldi round trip."""

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from avvae.features import FeatureConfig, dump_features
from avvae.fileio.audio import read_wav, write_wav
from avvae.fileio.datadir import read_table, write_speech_dir, write_table
from avvae.fileio.feature_files import FeatureFileError, merge_feature_files, open_features
from avvae.fileio.kaldi_interop import export_to_kaldi, import_from_kaldi, write_imported_features
from avvae.fileio.lips import load_lips, resample_lips, save_lips
from avvae.stft import StftConfig, stft
from tests.commands import complete_utterances, kill_once_an_utterance_is_complete
from tests.datadirs import make_speech_dir

ROOT = Path(__file__).resolve().parents[1]
# 40 hops and 300 samples: the last sample is past the centre of frame 40, so the STFT adds frame 41 (N = 42)
TIMED_SAMPLES = 533 * 40 + 300
TIMED_FRAMES = 42


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return make_speech_dir(tmp_path_factory.mktemp("speech"), speakers=3, utts=3)


@pytest.fixture(scope="module")
def dumped(speech, tmp_path_factory):
    output = tmp_path_factory.mktemp("dump") / "feats.h5"
    dump_features(speech, output, FeatureConfig())
    return output


def assert_same_features(a: Path, b: Path) -> None:
    with h5py.File(a) as first, h5py.File(b) as second:
        assert sorted(first) == sorted(second)
        for key in first:
            for name in first[key]:
                np.testing.assert_array_equal(first[key][name][()], second[key][name][()])


def test_dump_holds_peak_normalised_stft_power_and_lips_at_frame_rate(speech, dumped):
    config = FeatureConfig()
    wavs, lips = read_table(speech / "wav.scp"), read_table(speech / "lips.scp")
    with open_features(dumped, config) as handle:
        assert handle.attrs["kind"] == "speech" and handle.attrs["hop_length"] == 533
        assert sorted(handle) == sorted(wavs)
        group = handle["spk1_002"]
        samples, _ = read_wav(wavs["spk1_002"])
        expected = stft(samples / np.abs(samples).max(), config.stft).numpy()
        np.testing.assert_allclose(group["stft"][()], expected, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(group["power"][()], np.abs(expected) ** 2, rtol=1e-4, atol=1e-6)
        frames, fps = load_lips(lips["spk1_002"])
        assert group["lips"].shape == (len(expected), 67, 67)
        # nearest video frame to the centre of STFT frame 10
        np.testing.assert_array_equal(group["lips"][10], frames[round(10 * 533 / 16000 * fps)])
        assert group.attrs["num_samples"] == len(samples) and group.attrs["spk"] == "spk1"
        assert group.attrs["scale"] == pytest.approx(1 / np.abs(samples).max())


def test_dump_resumes_after_a_crash_computing_only_what_is_missing(speech, dumped, tmp_path):
    broken = tmp_path / "data"
    broken.mkdir()
    for name in ("utt2spk", "spk2utt", "lips.scp", "wav.scp"):
        (broken / name).write_text((speech / name).read_text())
    wavs = read_table(speech / "wav.scp")
    bad = dict(wavs, spk1_001=str(tmp_path / "missing.wav"))
    write_table(broken / "wav.scp", bad)
    output = tmp_path / "feats.h5"
    with pytest.raises(ValueError, match="missing.wav: audio file does not exist"):
        dump_features(broken, output, FeatureConfig())
    assert not output.exists(), "a failed dump must not leave a complete-looking file"
    write_table(broken / "wav.scp", wavs)
    computed = dump_features(broken, output, FeatureConfig())
    assert computed == 9 - 4, "the four utterances before the crash are kept"
    assert_same_features(output, dumped)
    assert dump_features(broken, output, FeatureConfig()) == 0


@pytest.mark.slow
def test_dump_survives_being_killed_midway(speech, dumped, tmp_path):
    """Killed once an utterance is complete in its partial file: the rerun keeps it and computes only the rest."""
    config_file = tmp_path / "feats.yaml"
    config_file.write_text("hop_length: 533\n")
    command = [
        sys.executable,
        "-m",
        "avvae.bin.dump_features",
        "--config",
        str(config_file),
        str(speech),
        str(tmp_path / "dump"),
    ]
    partial = tmp_path / "dump" / "split1" / "feats.1.h5.partial"
    final = tmp_path / "dump" / "split1" / "feats.1.h5"
    for _ in range(3):  # a fast machine may finish the 9 utterances between two looks: start again
        partial.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        if kill_once_an_utterance_is_complete(command, ROOT, partial) and not final.exists():
            break
    else:
        pytest.fail("the dump always ended before it could be killed")
    kept = complete_utterances(partial)
    rerun = subprocess.run(command, cwd=ROOT, check=True, stderr=subprocess.PIPE, text=True)
    assert f"{9 - kept} utterances computed, {kept} already there" in rerun.stderr and 1 <= kept < 9
    assert_same_features(final, dumped)


def test_merge_joins_parts_and_rejects_duplicates(speech, dumped, tmp_path):
    keys = list(read_table(speech / "wav.scp"))
    parts = [tmp_path / "a.h5", tmp_path / "b.h5"]
    dump_features(speech, parts[0], FeatureConfig(), keys[:4])
    dump_features(speech, parts[1], FeatureConfig(), keys[4:])
    assert merge_feature_files(parts, tmp_path / "feats.h5") == 9
    assert_same_features(tmp_path / "feats.h5", dumped)
    with pytest.raises(FeatureFileError, match="a.h5: utterance 'spk0_000' is also in an earlier part"):
        merge_feature_files([parts[0], parts[0]], tmp_path / "twice.h5")
    assert not (tmp_path / "twice.h5").exists()


def test_feature_file_with_other_stft_settings_is_rejected(dumped):
    with pytest.raises(FeatureFileError, match="made with hop_length=533, this stage uses 256"):
        open_features(dumped, FeatureConfig(hop_length=256))


def test_kaldi_round_trip_restores_power_and_lips(dumped, tmp_path):
    scps = export_to_kaldi(dumped, tmp_path / "kaldi")
    power = import_from_kaldi(scps["power"])
    lips = import_from_kaldi(scps["lips"], lips_shape=(67, 67))
    with h5py.File(dumped) as handle:
        assert sorted(power) == sorted(handle)
        for key in handle:
            np.testing.assert_array_equal(power[key], handle[key]["power"][()])
            np.testing.assert_array_equal(lips[key], handle[key]["lips"][()])
    count = write_imported_features(scps["power"], scps["lips"], tmp_path / "imported.h5", {"kind": "speech"})
    assert count == 9
    with h5py.File(tmp_path / "imported.h5") as imported, h5py.File(dumped) as handle:
        np.testing.assert_array_equal(imported["spk2_000"]["lips"][()], handle["spk2_000"]["lips"][()])


def test_cli_reports_bad_input_without_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "avvae.bin.validate_data_dir", str(tmp_path / "nowhere")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 1
    assert "nowhere: data directory does not exist" in result.stderr and "Traceback" not in result.stderr


def timestamped_lips(fps: float, extra: int) -> np.ndarray:
    """Lips lasting as long as TIMED_SAMPLES of audio (plus `extra` frames) whose pixels all hold their own frame
    index k, i.e. the time k / fps: the value expected at any time is known in closed form."""
    count = round(TIMED_SAMPLES / 16000 * fps) + extra
    assert count <= 256, "the index must fit a uint8 pixel"
    return np.broadcast_to(np.arange(count, dtype=np.uint8)[:, None, None], (count, 67, 67)).copy()


def expected_lip_positions(fps: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per STFT frame n of TIMED_SAMPLES samples: its centre time n * 533 / 16000 in video frames, clipped to
    the last lip frame (no extrapolation), and the distance from the centre to the nearest lip frame's time."""
    centres = np.arange(TIMED_FRAMES) * 533 / 16000
    nearest_distance = np.abs(np.arange(count)[None, :] / fps - centres[:, None]).min(axis=1)
    return np.minimum(centres * fps, count - 1), nearest_distance


@pytest.mark.parametrize("extra", [0, 3])
@pytest.mark.parametrize("fps", [25.0, 29.97])
def test_lips_resampled_to_stft_frame_times_by_nearest_and_linear(fps, extra):
    """Lips at a video rate other than the STFT frame rate, taken at each STFT frame's centre time, including the
    frames that the STFT adds past the last hop: those take the last lip frame when the video ends first."""
    config = StftConfig()
    assert config.num_frames(TIMED_SAMPLES) == TIMED_FRAMES
    frames = timestamped_lips(fps, extra)
    times = config.frame_times(TIMED_FRAMES)
    position, nearest_distance = expected_lip_positions(fps, len(frames))
    nearest = resample_lips(frames, fps, times, "nearest")[:, 0, 0].astype(np.float64) * 255
    np.testing.assert_allclose(nearest, np.rint(nearest), atol=1e-4, err_msg="nearest must pick a whole frame")
    np.testing.assert_allclose(np.abs(np.rint(nearest) / fps - times), nearest_distance, atol=1e-9)
    linear = resample_lips(frames, fps, times, "linear")
    np.testing.assert_allclose(linear[:, 0, 0] * 255, position, atol=1e-4)
    assert np.all(linear == linear[:, :1, :1]), "every pixel is interpolated alike"
    if extra == 0:
        assert np.rint(nearest[-1]) == np.rint(linear[-1, 0, 0] * 255) == len(frames) - 1, "the last lip frame"
    else:
        assert linear[-1, 0, 0] * 255 < len(frames) - 1, "lips running past the audio are not clipped early"


@pytest.mark.parametrize("method", ["nearest", "linear"])
@pytest.mark.parametrize("fps", [25.0, 29.97])
def test_dumped_lips_sit_at_stft_frame_centres(fps, method, tmp_path):
    """The dump's lips: one per STFT frame (N of the new frame count, the power's), each at its centre time."""
    samples = np.random.default_rng(1).uniform(-0.5, 0.5, TIMED_SAMPLES).astype(np.float32)
    write_wav(tmp_path / "utt.wav", samples, 16000)
    frames = timestamped_lips(fps, 0)
    save_lips(tmp_path / "utt.npz", frames, fps)
    write_speech_dir(
        tmp_path / "data", {"utt": str(tmp_path / "utt.wav")}, {"utt": "spk"}, {"utt": str(tmp_path / "utt.npz")}
    )
    config = FeatureConfig(lips_interpolation=method)
    dump_features(tmp_path / "data", tmp_path / "feats.h5", config)
    with open_features(tmp_path / "feats.h5", config) as handle:
        group = handle["utt"]
        assert group["power"].shape == (TIMED_FRAMES, 513) and group["lips"].shape == (TIMED_FRAMES, 67, 67)
        lips = group["lips"][:, 33, 33].astype(np.float64)
    position, nearest_distance = expected_lip_positions(fps, len(frames))
    if method == "nearest":
        np.testing.assert_allclose(
            np.abs(lips / fps - np.arange(TIMED_FRAMES) * 533 / 16000), nearest_distance, atol=1e-9
        )
    else:
        assert np.all(np.abs(lips - position) <= 0.5 + 1e-4), "linear value, rounded to uint8"
    assert lips[-1] == len(frames) - 1
