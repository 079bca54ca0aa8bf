"""validate_data_dir accepts a good dir and rejects each kind of broken one with a message naming the file."""

import shutil

import numpy as np
import pytest
import soundfile

from avvae.bin import validate_data_dir as validate_cli
from avvae.fileio.datadir import DataDirError, read_table, validate_data_dir, write_table
from avvae.fileio.lips import save_lips
from tests.commands import failure
from tests.datadirs import make_speech_dir


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return make_speech_dir(tmp_path_factory.mktemp("speech"))


@pytest.fixture
def data(pristine, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(pristine, copy)
    return copy


def test_good_dir_passes(data):
    assert validate_data_dir(data) == 6


def _point(data, table: str, key: str, path) -> None:
    """Make `key` of data/<table> name `path` (the file under test)."""
    entries = read_table(data / table)
    entries[key] = str(path)
    write_table(data / table, entries)


def test_missing_audio_file(data):
    _point(data, "wav.scp", "spk1_000", "/nonexistent/spk1_000.wav")
    with pytest.raises(DataDirError, match=r"wav.scp: spk1_000: audio file /nonexistent/spk1_000.wav does not exist"):
        validate_data_dir(data)


def test_missing_table(data):
    (data / "lips.scp").unlink()
    with pytest.raises(DataDirError, match=r"lips.scp: file does not exist"):
        validate_data_dir(data)


def test_sample_rate_mismatch(data, tmp_path):
    odd = tmp_path / "8k.wav"
    soundfile.write(odd, np.zeros(8000, dtype=np.float32), 8000)
    _point(data, "wav.scp", "spk0_001", odd)
    with pytest.raises(DataDirError, match=r"spk0_001: .*8k.wav has sample rate 8000 Hz, expected 16000 Hz"):
        validate_data_dir(data)


def test_lips_shorter_than_audio(data, tmp_path):
    short = tmp_path / "short.npz"
    save_lips(short, np.zeros((5, 67, 67), dtype=np.uint8), 30.0)
    _point(data, "lips.scp", "spk2_001", short)
    with pytest.raises(DataDirError, match=r"lips.scp: spk2_001: lips last 0.167 s but the audio"):
        validate_data_dir(data)


def test_corrupt_lips_file(data, tmp_path):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    _point(data, "lips.scp", "spk0_000", broken)
    with pytest.raises(DataDirError, match=r"spk0_000: .*broken.npz: not a lips .npz"):
        validate_data_dir(data)


def _npy_renamed_npz(path):
    np.save(path.with_suffix(".npy"), np.zeros((3, 67, 67), np.uint8))
    path.with_suffix(".npy").rename(path)


def _fps_array(path):
    np.savez(path, frames=np.zeros((3, 67, 67), np.uint8), fps=np.array([30.0, 25.0]))


def _no_frames(path):
    np.savez(path, pixels=np.zeros((3, 67, 67), np.uint8))


@pytest.mark.parametrize(
    "write, message",
    [
        (_npy_renamed_npz, "holds a single array, not a lips .npz"),
        (_fps_array, r"'fps' must be one number, got float64 \(2,\)"),
        (_no_frames, "not a lips .npz: no fps and no frames"),
    ],
)
def test_malformed_lips_files_are_named(data, tmp_path, write, message):
    bad = tmp_path / "bad.npz"
    write(bad)
    _point(data, "lips.scp", "spk1_000", bad)
    with pytest.raises(DataDirError, match=f"spk1_000: {bad}: {message}"):
        validate_data_dir(data)


def test_lips_of_another_frame_size_are_refused(data, tmp_path):
    """A 32x32 lips file among 67x67 ones would pass the dump and break training far later."""
    lips = read_table(data / "lips.scp")
    first, last = sorted(lips)[0], sorted(lips)[-1]
    small = tmp_path / "small.npz"
    seconds = soundfile.info(read_table(data / "wav.scp")[last]).duration
    save_lips(small, np.zeros((int(round(seconds * 30)), 32, 32), dtype=np.uint8), 30.0)
    _point(data, "lips.scp", last, small)
    with pytest.raises(DataDirError, match=f"{last}: lip frames are 32x32 .*but {first}'s are 67x67"):
        validate_data_dir(data)


def test_duplicated_key(data):
    text = (data / "utt2spk").read_text().splitlines()
    (data / "utt2spk").write_text("\n".join([text[0], text[0], *text[1:]]) + "\n")
    with pytest.raises(DataDirError, match=r"utt2spk:2: duplicated key 'spk0_000'"):
        validate_data_dir(data)


def test_unsorted_keys(data):
    lines = (data / "wav.scp").read_text().splitlines()
    (data / "wav.scp").write_text("\n".join(reversed(lines)) + "\n")
    with pytest.raises(DataDirError, match=r"wav.scp:2: keys not sorted"):
        validate_data_dir(data)


def test_keys_disagree(data):
    utt2spk = read_table(data / "utt2spk")
    del utt2spk["spk1_001"]
    write_table(data / "utt2spk", utt2spk)
    with pytest.raises(DataDirError, match=r"utt2spk: keys differ from wav.scp \(missing: \['spk1_001'\]"):
        validate_data_dir(data)


def test_spk2utt_out_of_date(data):
    utt2spk = read_table(data / "utt2spk")
    utt2spk["spk1_001"] = "spk0"
    write_table(data / "utt2spk", utt2spk)
    with pytest.raises(DataDirError, match=r"spk2utt: does not match utt2spk"):
        validate_data_dir(data)


def test_a_truncated_wav_is_refused_not_read_as_a_shorter_recording(data):
    """A copy cut short (here: half of one file) would otherwise be read, and dumped, as half the recording."""
    wav = read_table(data / "wav.scp")["spk1_001"]
    content = open(wav, "rb").read()
    with open(wav, "wb") as handle:
        handle.write(content[: len(content) // 2])
    with pytest.raises(DataDirError, match=f"wav.scp: spk1_001: {wav}: truncated: its header announces"):
        validate_data_dir(data)


def _respace(data, table: str, old: str, new: str) -> None:
    """Write `new` for the first `old` in every line of data/<table> (as a data prep of one's own might)."""
    lines = (data / table).read_text().splitlines()
    (data / table).write_text("".join(line.replace(old, new, 1) + "\n" for line in lines))


def test_a_key_with_a_space_everywhere_is_named_at_its_first_line_not_blamed_on_spk2utt(data, caplog):
    for table in ("wav.scp", "utt2spk", "lips.scp", "spk2utt"):  # an utterance 'spk0 000' as the data prep wrote it
        _respace(data, table, "spk0_000", "spk0 000")
    message = failure(caplog, validate_cli.build_parser, validate_cli.main, [str(data)])
    wav = read_table(data / "wav.scp")["spk0"].split(" ", 1)[1]
    assert message == (
        f"{data / 'wav.scp'}:1: no file '000 {wav}' for key 'spk0', but {wav} exists: is 'spk0 000' "
        "a key with a space? Keys cannot hold one"
    )


@pytest.mark.parametrize(
    "old, new, line, words",
    [
        ("spk0_001 spk0", "spk0_001 spk 0", 2, "spk0_001 spk 0"),  # a speaker with a space
        ("spk0_000", "spk0 000", 1, "spk0 000 spk0"),  # an utterance with a space ('spk0' sorts before its neighbour)
    ],
)
def test_an_utt2spk_line_with_a_space_is_named_not_blamed_on_spk2utt(data, caplog, old, new, line, words):
    _respace(data, "utt2spk", old, new)
    message = failure(caplog, validate_cli.build_parser, validate_cli.main, [str(data)])
    assert message == (
        f"{data / 'utt2spk'}:{line}: 3 words ({words}), expected '<utterance> <speaker>': an "
        "utterance or speaker with a space? Neither can hold one"
    )
