"""Separating an ordinary video: faces found and tracked, mouths cropped, one separated speaker per face, outputs
that play; the tracker, the window cross-fade and the errors on their own.

The video is a real face photograph (matplotlib's Grace Hopper) twice side by side, moving and zooming, the right
one covered by a board in a few frames, with a two-speaker soundtrack (avvae.synthetic_video)."""

import contextlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile
from imageio_ffmpeg import get_ffmpeg_exe, write_frames
from PIL import Image

from avvae.bin import separate as separate_cli
from avvae.features import FeatureConfig
from avvae.fileio.audio import write_wav
from avvae.fileio.video import iter_frames, read_container_audio, video_info
from avvae.mcem import McemConfig
from avvae.models import ModelConfig, SpeechVAE, save_model
from avvae.separation import output_set, video_separation
from avvae.separation.face_tracking import FaceTracker
from avvae.separation.output_set import OutputDirError
from avvae.separation.overlap_add import OverlapAdd, plan_windows
from avvae.separation.video_drawings import COLOURS
from avvae.separation.video_separation import VideoSeparationConfig, output_bytes, separate_video
from avvae.synthetic_video import FRAME_SIZE, mouth_position, render_frame, write_talking_heads
from avvae.vision.mouth_boxes import nearest_found
from tests.commands import failure, kill_when
from tests.signals import two_speaker_mixture

ROOT = Path(__file__).resolve().parents[1]
FPS = 25.0
RATE = 16000
SECONDS = 1.6
COVERED = range(18, 24)  # frames where the right face is behind a board
MCEM = "iterations: 2\ndraws: 3\nburn_in: 1\nfinal_draws: 3\nfinal_burn_in: 1\n"
WINDOWS = VideoSeparationConfig(window_seconds=0.7, overlap_seconds=0.2, min_track_seconds=0.2)


def run_cli(*args) -> str:
    """avvae.bin.separate with these arguments; what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        separate_cli.main(separate_cli.build_parser().parse_args([str(arg) for arg in args]))
    return printed.getvalue()


def video_command(root, video, out, *extra) -> list[str]:
    """The arguments of `separate --video` on `video` with the test's model and short settings, into `out`."""
    settings = ["--mcem-config", root / "mcem.yaml", "--video-config", root / "video.yaml"]
    return [str(arg) for arg in ("--video", video, "--model", root / "model.pt", *settings, "--out-dir", out, *extra)]


def streams(path) -> tuple[list[str], float]:
    """The stream lines and the duration (s) that the ffmpeg binary reports for a media file."""
    text = subprocess.run([get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    hours, minutes, seconds = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text).groups()
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("Stream #")]
    return lines, 3600 * int(hours) + 60 * int(minutes) + float(seconds)


def write_plain_video(path, frames: int, audio: np.ndarray | None = None, heads: bool = False) -> None:
    """A grey video with no face (or with the test video's two `heads`), with `audio` as its soundtrack or none,
    however long the audio is."""
    wav = path.with_suffix(".wav")
    if audio is not None:
        write_wav(wav, audio, RATE)
    writer = write_frames(
        str(path),
        FRAME_SIZE,
        fps=FPS,
        macro_block_size=2,
        ffmpeg_log_level="error",
        audio_path=str(wav) if audio is not None else None,
        audio_codec="aac",
    )
    writer.send(None)
    for frame in range(frames):
        writer.send(render_frame(frame, FPS) if heads else np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 100, np.uint8))
    writer.close()


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    """The test video, its soundtrack as written, a tiny untrained AV-VAE and a short MCEM schedule."""
    root = tmp_path_factory.mktemp("talk")
    references, _ = two_speaker_mixture(4, SECONDS)
    mixture = references.sum(0).astype(np.float32)
    frames = write_talking_heads(root / "talk.mp4", mixture, RATE, FPS, {frame: (1,) for frame in COVERED})
    model = SpeechVAE(ModelConfig(kind="avvae", hidden_dim=32, lip_hidden=16, lip_embedding=8))
    save_model(model, root / "model.pt")
    (root / "mcem.yaml").write_text(MCEM)
    (root / "video.yaml").write_text("window_seconds: 0.7\noverlap_seconds: 0.2\nmin_track_seconds: 0.2\n")
    return root, frames, model


@pytest.fixture(scope="module")
def separated(talk, tmp_path_factory):
    root, _, model = talk
    out = tmp_path_factory.mktemp("separated")
    mcem = McemConfig(iterations=2, draws=3, burn_in=1, final_draws=3, final_burn_in=1)
    return separate_video(root / "talk.mp4", [model], mcem, FeatureConfig(), WINDOWS, out), out


@pytest.mark.slow
def test_two_faces_are_found_and_tracked_through_the_occlusion(talk, separated):
    _, frames, _ = talk
    summary, _ = separated
    assert summary.faces_found == 2 and summary.num_frames == frames
    left, right = summary.faces
    assert (left.number, right.number) == (0, 1)
    assert left.missing_frames <= 1, "the uncovered face is found in (nearly) every frame"
    assert len(COVERED) <= right.missing_frames <= len(COVERED) + 2, "the covered frames, (nearly) no others"
    assert np.isnan(right.face_boxes[list(COVERED)]).all()
    for number, face in enumerate(summary.faces):
        found = ~np.isnan(face.face_boxes[:, 0])
        centre_x = face.face_boxes[found, 0] + face.face_boxes[found, 2] / 2
        assert np.all((centre_x < FRAME_SIZE[0] / 2) == (number == 0)), "one id per person in every frame"


@pytest.mark.slow
def test_mouths_are_cropped_inside_the_face_boxes_on_the_mouth(separated):
    summary, _ = separated
    for number, face in enumerate(summary.faces):
        found = ~np.isnan(face.face_boxes[:, 0])
        mouth, box = face.mouth_boxes[found], face.face_boxes[found]
        middle = mouth[:, :2] + mouth[:, 2:] / 2
        assert np.all((middle >= box[:, :2]) & (middle <= box[:, :2] + box[:, 2:])), "the mouth box's middle"
        assert np.all(middle[:, 1] >= box[:, 1] + 0.5 * box[:, 3]), "in the lower half of the face"
        truth = np.array([mouth_position(frame, number, FPS) for frame in np.flatnonzero(found)])
        assert np.median(np.abs(middle - truth)) <= 4 and np.abs(middle - truth).max() <= 12, "on the drawn mouth"
        assert (mouth[:, 2] == mouth[0, 2]).all() and 20 <= mouth[0, 2] <= 80, "one size per face, from its mouth"


@pytest.mark.slow
def test_every_output_is_written_and_the_separations_add_up_to_the_soundtrack(talk, separated):
    root, frames, _ = talk
    summary, out = separated
    soundtrack = read_container_audio(root / "talk.mp4", RATE)
    wavs = [soundfile.read(out / f"talk_{name}.wav", dtype="float32")[0] for name in ("face0", "face1", "noise")]
    assert all(len(wav) == len(soundtrack) for wav in wavs)
    # Each window's Wiener filters sum to one and the cross-fade weights too: the outputs add up across the joins.
    assert np.max(np.abs(np.sum(wavs, axis=0) - soundtrack)) < 1e-3 * np.max(np.abs(soundtrack))
    assert all(np.std(wav) > 0.01 * np.std(soundtrack) for wav in wavs[:2])
    for number in range(2):
        lines, duration = streams(out / f"talk_face{number}.mp4")
        assert len(lines) == 2 and "Video: h264" in lines[0] and "Audio: aac" in lines[1], lines
        assert abs(duration - frames / FPS) < 0.1
        audio = read_container_audio(out / f"talk_face{number}.mp4", RATE)
        assert abs(len(audio) - len(soundtrack)) < 0.05 * RATE
        assert (out / f"talk_face{number}_mouth.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "talk_spectrograms.png").read_bytes()[:4] == b"\x89PNG"
    picture = np.asarray(Image.open(out / "talk_faces.png").convert("RGB"))
    assert picture.shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3)
    for number in range(2):
        assert np.all(picture == COLOURS[number], axis=-1).sum() > 500, f"face {number} outlined in its colour"
    original = [frame.copy() for _, frame in zip(range(3), iter_frames(root / "talk.mp4", "rgb24"))]
    for number in range(2):
        copied = [frame.copy() for _, frame in zip(range(3), iter_frames(out / f"talk_face{number}.mp4", "rgb24"))]
        assert all(np.array_equal(a, b) for a, b in zip(original, copied)), "the video stream copied, not re-encoded"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"talk_face{n}{suffix}" for n in range(2) for suffix in (".wav", ".mp4", "_mouth.png")]
        + ["talk_noise.wav", "talk_faces.png", "talk_spectrograms.png", "talk.json", ".talk.json.lock"]
    ), "no temporary files left"


@pytest.mark.slow
def test_the_command_separates_the_faces_asked_for_and_prints_a_summary(talk, tmp_path):
    root, frames, _ = talk
    printed = run_cli(
        "--video",
        root / "talk.mp4",
        "--model",
        root / "model.pt",
        "--faces",
        "1",
        "--mcem-config",
        root / "mcem.yaml",
        "--video-config",
        root / "video.yaml",
        "--out-dir",
        tmp_path,
    )
    assert f"2 face(s) found in {frames} frames, 1.6 s of audio" in printed
    missing = int(re.search(r"face 1: missing in (\d+) of", printed).group(1))
    assert len(COVERED) <= missing <= len(COVERED) + 2 and "face 0" not in printed
    assert (tmp_path / "talk_face1.mp4").is_file() and not (tmp_path / "talk_face0.wav").exists()


@pytest.mark.slow
def test_another_video_of_the_same_name_is_refused_and_a_rerun_replaces_its_own_set(
    talk, separated, tmp_path, caplog, monkeypatch
):
    root, _, _ = talk
    out = tmp_path / "out"
    shutil.copytree(separated[1], out)  # both faces of talk.mp4
    other = tmp_path / "other" / "talk.mp4"  # another file of the same name
    other.parent.mkdir()
    shutil.copy(root / "talk.mp4", other)
    passes = []
    monkeypatch.setattr(video_separation, "find_faces", spy(video_separation.find_faces, passes, "faces"))
    before = contents(out)
    message = failure(caplog, separate_cli.build_parser, separate_cli.main, video_command(root, other, out))
    assert message == (
        f"{out}: the outputs talk_* there were made from {(root / 'talk.mp4').resolve()}; {other.resolve()} has the "
        "same file name and would overwrite them: give another --out-dir"
    )
    assert passes == [] and contents(out) == before, "refused before any work, the outputs untouched"
    run_cli(*video_command(root, root / "talk.mp4", out, "--faces", "1"))
    names = [f"talk_face1{suffix}" for suffix in (".wav", "_mouth.png", ".mp4")] + [
        "talk_noise.wav",
        "talk_faces.png",
        "talk_spectrograms.png",
    ]
    assert sorted(path.name for path in out.iterdir()) == sorted(["talk.json", ".talk.json.lock", *names]), (
        "face 0's files are gone"
    )
    record = json.loads((out / "talk.json").read_text())
    assert record == {"source": str((root / "talk.mp4").resolve()), "faces": [1], "outputs": names}


@pytest.mark.slow
def test_a_second_run_into_the_same_names_is_refused_while_the_first_runs(talk, tmp_path, caplog, monkeypatch):
    root, _, _ = talk
    other = tmp_path / "other" / "talk.mp4"  # another file of the same name
    other.parent.mkdir()
    shutil.copy(root / "talk.mp4", other)
    out = tmp_path / "out"
    started, messages = [], []
    find_faces = video_separation.find_faces

    def meanwhile(*args):
        if not started:  # the second run, started while the first is in its face pass
            started.append(other)
            messages.append(
                failure(caplog, separate_cli.build_parser, separate_cli.main, video_command(root, other, out))
            )
        return find_faces(*args)

    monkeypatch.setattr(video_separation, "find_faces", meanwhile)
    run_cli(*video_command(root, root / "talk.mp4", out, "--faces", "1"))
    assert messages == [
        f"{out}: another separation into talk_* is running (pid {os.getpid()}), writing talk.json: wait for it to "
        "finish, or stop it first"
    ]
    assert json.loads((out / "talk.json").read_text())["source"] == str((root / "talk.mp4").resolve())


@pytest.mark.slow
def test_a_rerun_removes_what_a_killed_run_left(talk, tmp_path):
    root, _, _ = talk
    out = tmp_path / "out"
    command = [sys.executable, "-m", "avvae.bin.separate", *video_command(root, root / "talk.mp4", out)]

    def cropping():  # a folder of the run's own, once it holds mouth crops
        folders = [path for path in out.iterdir() if path.is_dir()] if out.is_dir() else []
        return next((folder for folder in folders if (folder / "mouths0.npy").exists()), None)

    for _ in range(3):  # a fast machine may finish between two looks: start again
        shutil.rmtree(out, ignore_errors=True)
        left = kill_when(command, ROOT, cropping)
        if left is not None and left.is_dir():
            break
    else:
        pytest.fail("the command always ended before it could be killed")
    run_cli(*video_command(root, root / "talk.mp4", out))
    assert unlocked(out) == sorted(
        [f"talk_face{n}{suffix}" for n in range(2) for suffix in (".wav", ".mp4", "_mouth.png")]
        + ["talk_noise.wav", "talk_faces.png", "talk_spectrograms.png", "talk.json"]
    ), f"{left.name} is gone"


@pytest.mark.slow
def test_a_video_stream_shorter_than_its_audio_is_said_and_counted_as_missing(talk, tmp_path, caplog):
    root, _, _ = talk
    video = tmp_path / "short.mp4"
    write_plain_video(video, 25, two_speaker_mixture(6, 4.0)[0].sum(0).astype(np.float32), heads=True)
    with caplog.at_level(logging.WARNING):
        printed = run_cli(*video_command(root, video, tmp_path / "out"))
    assert (
        f"{video}: the video lasts 1.00 s (25 frames), its audio 4.00 s: the last 3.00 s of audio (75 frames) are "
        "separated with the last frame's mouth crops, and counted as frames where the faces are missing"
    ) in caplog.messages
    assert "2 face(s) found in 25 frames, 4.0 s of audio" in printed
    counts = re.findall(r"face \d: missing in (\d+) of 100 frames, 75 of them past the video's end", printed)
    assert len(counts) == 2 and all(75 <= int(count) <= 76 for count in counts), printed
    longer = tmp_path / "long.mp4"  # and the other way round: the frames past the audio are left out
    write_plain_video(longer, 40, two_speaker_mixture(6, 1.0)[0].sum(0).astype(np.float32), heads=True)
    with caplog.at_level(logging.WARNING):
        printed = run_cli(*video_command(root, longer, tmp_path / "out"))
    assert (
        f"{longer}: the video lasts 1.60 s (40 frames), its audio 1.00 s: the frames after the audio's end are not "
        "separated"
    ) in caplog.messages
    assert re.search(r"face 0: missing in [01] of 40 frames \(", printed), printed


@pytest.mark.slow
def test_bad_inputs_are_errors_that_name_the_file(talk, tmp_path):
    root, frames, _ = talk
    model, mcem, video = root / "model.pt", root / "mcem.yaml", root / "talk.mp4"
    audio = two_speaker_mixture(5, 0.6)[0].sum(0).astype(np.float32)
    write_plain_video(tmp_path / "silent_film.mp4", 10)
    write_plain_video(tmp_path / "nobody.mp4", 15, audio)
    write_plain_video(tmp_path / "glimpse.mp4", 4, audio[: RATE // 5], heads=True)
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    (tmp_path / "notes.pt").write_text("not a model")
    cases = [
        (["--video", tmp_path / "silent_film.mp4"], "silent_film.mp4: has no audio track"),
        (["--video", tmp_path / "nobody.mp4"], "nobody.mp4: no face found in its 15 frames"),
        (
            ["--video", tmp_path / "glimpse.mp4"],
            r"glimpse.mp4: 2 face\(s\) found, but each in at most 4 of its 4 frames, and dropped as too short: a face "
            r"must be seen in 12 frames \(min_track_seconds 0.5 s at 25 fps\) not to be taken for a false detection",
        ),
        (["--video", tmp_path / "broken.mp4"], "broken.mp4: cannot read it as a video"),
        (["--video", tmp_path / "absent.mp4"], "absent.mp4: video file does not exist"),
        (["--video", video, "--faces", "0,2"], r"talk.mp4: --faces 0,2 asks for face\(s\) 2, but 2 face\(s\) were"),
        (["--video", video, "--faces", "0,x"], "--faces '0,x': expected face numbers"),
        (["--video", video, "--faces", "1,0,1"], "--faces 1,0,1: face 1 given more than once; give each face once"),
        (["--video", video, "--model", tmp_path / "notes.pt"], "notes.pt: corrupt or truncated file"),
        (["--video", video, tmp_path / "mix.wav"], "--video takes the soundtrack and the faces from the video"),
        ([tmp_path / "mix.wav", "--lips", "a.npz", "--faces", "1"], "--faces and --video-config go with --video"),
    ]
    for args, message in cases:
        args = args if "--model" in args else [*args, "--model", model]
        with pytest.raises(ValueError, match=message):
            run_cli(*args, "--mcem-config", mcem, "--out-dir", tmp_path / "out")
    assert not (tmp_path / "out").exists() or not unlocked(tmp_path / "out")


@pytest.mark.slow
def test_the_output_folder_is_checked_before_the_face_pass_and_again_for_the_faces_found(talk, tmp_path, monkeypatch):
    root, _, model = talk
    mcem = McemConfig(iterations=2, draws=3, burn_in=1, final_draws=3, final_burn_in=1)
    video = root / "talk.mp4"
    passes = []
    monkeypatch.setattr(video_separation, "find_faces", spy(video_separation.find_faces, passes, "faces"))
    monkeypatch.setattr(video_separation, "crop_mouths", spy(video_separation.crop_mouths, passes, "mouths"))

    def attempt(out) -> str:
        with pytest.raises(OutputDirError) as error:
            separate_video(video, [model], mcem, FeatureConfig(), WINDOWS, out)
        return str(error.value)

    (tmp_path / "taken").write_text("a file, not a folder")
    assert attempt(tmp_path / "taken" / "out").startswith(f"{tmp_path / 'taken' / 'out'}: cannot create the output")
    assert passes == []
    info, samples = video_info(video), len(read_container_audio(video, RATE))
    one, two = (output_bytes(video, info, samples, [model.config.lip_size] * faces) for faces in (1, 2))
    out = tmp_path / "out"
    for free, ran in ((one - 1, []), (two - 1, ["faces"])):  # no room for one face; room for one, not for both
        monkeypatch.setattr(  # that much in the output folder, a lot in any other
            output_set.shutil,
            "disk_usage",
            lambda path, free=free: SimpleNamespace(free=free if Path(path) == out else 2**40),
        )
        passes.clear()
        assert "MiB free, the outputs need about" in attempt(out) and passes == ran
    assert unlocked(out) == []


@pytest.mark.slow
def test_the_outputs_take_less_room_than_the_check_asks_for(talk, separated):
    root, _, model = talk
    _, out = separated
    video = root / "talk.mp4"
    written = sum(path.stat().st_size for path in out.iterdir())
    estimate = output_bytes(
        video, video_info(video), len(read_container_audio(video, RATE)), [model.config.lip_size] * 2
    )
    assert written < estimate


def unlocked(folder) -> list[str]:
    """The names in `folder` but the lock files a run leaves, unlocked, beside its outputs (avvae.fileio.job_lock)."""
    return sorted(path.name for path in folder.iterdir() if path.suffix != ".lock")


def contents(folder) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def spy(function, calls: list[str], name: str):
    """`function`, noting `name` in `calls` each time it is called."""

    def called(*args, **kwargs):
        calls.append(name)
        return function(*args, **kwargs)

    return called


def test_tracks_keep_their_identity_through_gaps_and_returns():
    tracker = FaceTracker(max_cost=0.6)
    mouth = [np.zeros(2)]

    def frame(*boxes):
        return tracker.update(list(boxes), mouth * len(boxes), [10.0] * len(boxes))

    assert frame((200, 50, 80, 80), (20, 50, 80, 80)) == [0, 1]
    assert frame((24, 52, 82, 82), (205, 48, 80, 80)) == [1, 0], "matched by position, not by order"
    assert frame((28, 54, 84, 84)) == [1], "face 0 missed in this frame"
    assert frame((210, 50, 78, 78), (30, 54, 84, 84)) == [0, 1], "and found again"
    for _ in range(20):
        frame((30, 54, 84, 84))
    assert frame((212, 52, 80, 80), (30, 54, 84, 84)) == [0, 1], "back after 20 frames away, where it was"
    assert frame((120, 140, 40, 40), (30, 54, 84, 84)) == [2, 1], "a face elsewhere is someone new"
    tracks = tracker.tracks()
    assert tracks.num_frames == 26 and tracks.left_to_right() == [1, 2, 0]
    assert tracks.found(0).sum() == 4 and tracks.found(2).sum() == 1
    assert len(tracks.keep_long(2).boxes) == 2


def test_nearest_found_agrees_with_the_distance_matrix_it_replaces():
    """The binary search (linear memory) picks what the frames x found distance matrix picked, earlier on ties."""
    found = np.random.default_rng(0).random(500) < 0.2
    frames, where = np.arange(len(found)), np.flatnonzero(found)
    assert nearest_found(found).tolist() == where[np.abs(frames[:, None] - where[None, :]).argmin(axis=1)].tolist()


def test_missing_frames_take_the_nearest_found_one():
    found = np.array([False, True, False, False, False, True, True, False])
    assert nearest_found(found).tolist() == [1, 1, 1, 1, 5, 5, 6, 6]


def test_windows_cover_the_signal_and_join_without_clicks():
    assert plan_windows(50, 100, 10) == [(0, 50)]
    plan = plan_windows(1000, 300, 100)
    assert plan == [(0, 280), (180, 460), (360, 640), (540, 820), (720, 1000)], "five equal windows, 100 overlapping"
    assert plan_windows(1000, 550, 100) == [(0, 550), (450, 1000)], "two windows where two do"
    signal = np.sin(2 * np.pi * np.arange(1000) / 97).astype(np.float32)
    for gains in ([1.0] * 5, [1.0, 0.4, 1.5, 0.6, 1.3]):
        pieces = []
        joiner = OverlapAdd(plan, pieces.append)
        for (start, end), gain in zip(plan, gains):
            joiner.add(gain * signal[None, start:end])
        assert all(piece.shape[1] <= 300 for piece in pieces), "each window handed on once no later one needs it"
        joined = np.concatenate(pieces, axis=1)[0]
        assert len(joined) == 1000
        np.testing.assert_allclose(joined[:180], gains[0] * signal[:180], atol=1e-6)
        if len(set(gains)) == 1:
            np.testing.assert_allclose(joined, signal, atol=1e-6)
        # Windows at different levels: the level glides across each join (a cut would step by 0.6 to 1.1).
        where = np.flatnonzero(np.abs(signal) > 0.3)
        level = joined[where] / signal[where]
        assert np.max(np.abs(np.diff(level)) / np.diff(where)) < 0.025
        assert level.min() > 0.4 - 1e-6 and level.max() < 1.5 + 1e-6
    with pytest.raises(ValueError, match="overlap must be in"):
        plan_windows(1000, 300, 300)
