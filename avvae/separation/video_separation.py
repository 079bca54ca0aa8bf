"""Separate the speakers of an ordinary video with its soundtrack: one speaker per face seen in it.

1. Faces: every frame is decoded (gray, scaled down to `detect_width` if wider); dlib's detector looks at the whole
   frame every `detect_every` frames and, in between, only near where each face just was (a fraction of the cost);
   the mouth landmarks are placed in each face found (avvae.vision.landmarks, as for the GRID recipe's crops), and
   avvae.separation.face_tracking links the faces into one track per person. Tracks detected in fewer than
   `min_track_seconds` of frames are detector false alarms and dropped. Faces are numbered left to right as they first
   appear.
2. Mouths: per chosen face, a square box around the mouth landmarks (side `mouth_scale` times the mouth's width,
   centres smoothed, as for GRID) is cropped from every frame and scaled to the model's lip size; a frame where the
   face was not found takes the nearest found crop. The crops go to a file on disk, not to memory.
3. Separation: the soundtrack is cut into equal windows of at most `window_seconds` overlapping by
   `overlap_seconds`; MCEM separates each with the chosen faces' lips, in worker processes on the usable cores
   (avvae.separation.window_pool), and the windows are joined by cross-fading (avvae.separation.overlap_add), each
   finished stretch written straight to the output wavs.
4. Outputs per face k: <name>_face<k>.wav, <name>_face<k>.mp4 (the input's video stream, copied, with that face's
   separated audio), <name>_face<k>_mouth.png (a strip of mouth crops); and <name>_noise.wav, <name>_faces.png (a
   frame with each face outlined and numbered) and <name>_spectrograms.png (the first `figure_seconds`), drawn by
   avvae.separation.video_drawings. The video is decoded twice (faces, mouths), one frame at a time.
   They are written in a hidden folder `.<name>.separating-*` of the output folder, beside the mouth crops, and moved
   into place as a set with <name>.json, which names the video (avvae.separation.output_set, as for a wav): the
   outputs of another video of the same file name are never overwritten, and a rerun from the same video replaces
   its own set (the files of faces it no longer separates go). A run killed midway leaves its hidden folder; the next
   run of the same name into that folder removes it.
The summary says how long each stage took (avvae.separation.stage_clock).
"""

from __future__ import annotations

import functools
import glob
import logging
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile
from tqdm import tqdm

from avvae.config import ConfigValueError, check_ranges
from avvae.errors import UsageError
from avvae.features import FeatureConfig
from avvae.fileio.audio import check_finite
from avvae.fileio.job_lock import job_lock
from avvae.fileio.video import VideoError, VideoInfo, iter_frames, read_container_audio, video_info
from avvae.mcem import McemConfig
from avvae.models import SpeechVAE
from avvae.separation.face_tracking import Box, FaceTracker, FaceTracks, match_cost
from avvae.separation.output_set import OutputSet, check_output_dir
from avvae.separation.overlap_add import OverlapAdd, plan_windows
from avvae.separation.own_mixture import separation_bytes
from avvae.separation.stage_clock import StageClock
from avvae.separation.video_drawings import faces_picture, mouth_strip, spectrogram_figure, write_face_videos
from avvae.separation.window_pool import WindowJob, separated_windows, worker_count
from avvae.vision.landmarks import detect_faces, detect_faces_near, mouth_of_face
from avvae.vision.mouth_boxes import boxes_from_landmarks, crop_frames, nearest_found

log = logging.getLogger(__name__)

FILL_CHUNK = 1024  # frames copied at a time into the frames without a face, to keep the memory bounded
FACE_OUTPUTS = (".wav", "_mouth.png", ".mp4")  # the files of each face, after <name>_face<k>
# Between two detections over the whole frame, a face seen this recently is looked for near where it was: long enough
# to find a face again after a short occlusion without waiting for the next whole-frame detection.
FOLLOW_SECONDS = 2.0


@dataclass
class VideoSeparationConfig:
    """How faces are found and tracked, mouths cropped and a long soundtrack cut (see the module docstring).
    max_match_cost: how far (face sizes, see avvae.separation.face_tracking) a face may be from where its track was last
    seen and still continue it. detect_every: frames between two runs of the face detector over the whole frame (1:
    every frame); in between, each face is looked for only in its last box grown by `follow_margin` of its size on
    each side, a fraction of the cost, and a face that comes into the picture is found at the next whole-frame run.
    strip_frames: mouth crops in each strip picture."""

    detect_width: int = 640
    detect_every: int = 10
    follow_margin: float = 0.5
    max_match_cost: float = 0.6
    min_track_seconds: float = 0.5
    mouth_scale: float = 1.5
    window_seconds: float = 30.0
    overlap_seconds: float = 1.0
    strip_frames: int = 8
    figure_seconds: float = 30.0

    def __post_init__(self) -> None:
        check_ranges(
            self,
            {
                "detect_width": ">= 32",
                "detect_every": ">= 1",
                "follow_margin": "> 0",
                "max_match_cost": "> 0",
                "min_track_seconds": ">= 0",
                "mouth_scale": "> 0",
                "window_seconds": "> 0",
                "overlap_seconds": ">= 0",
                "strip_frames": ">= 1",
                "figure_seconds": "> 0",
            },
        )
        if self.overlap_seconds >= self.window_seconds:
            raise ConfigValueError(
                f"overlap_seconds ({self.overlap_seconds}) must be below window_seconds ({self.window_seconds})"
            )


@dataclass
class FaceResult:
    """One separated face: its number, per-frame face boxes [T, 4] (NaN where not found) and mouth boxes [T, 4],
    the frames where it was not found (those the audio runs past the video's end included), and its output files."""

    number: int
    face_boxes: np.ndarray
    mouth_boxes: np.ndarray
    missing_frames: int
    outputs: list[Path] = field(default_factory=list)


@dataclass
class VideoSummary:
    """What the run found and wrote."""

    video: Path
    faces_found: int
    num_frames: int
    audio_seconds: float
    seconds_taken: float
    faces: list[FaceResult]
    outputs: list[Path]
    frames_past_end: int = 0
    clock: StageClock = field(default_factory=StageClock)

    def text(self) -> str:
        lines = [
            f"{self.video}: {self.faces_found} face(s) found in {self.num_frames} frames, "
            f"{self.audio_seconds:.1f} s of audio, separated in {self.seconds_taken:.1f} s ({self.clock.text()})"
        ]
        past_end = f", {self.frames_past_end} of them past the video's end" if self.frames_past_end else ""
        for face in self.faces:
            lines.append(
                f"  face {face.number}: missing in {face.missing_frames} of {self.num_frames + self.frames_past_end} "
                f"frames{past_end} (those take the nearest found mouth crop); "
                f"{', '.join(p.name for p in face.outputs)}"
            )
        lines.append(f"  also {', '.join(p.name for p in self.outputs)}")
        return "\n".join(lines)


def find_faces(path: Path, info: VideoInfo, config: VideoSeparationConfig) -> FaceTracks:
    """Pass 1: faces and mouth landmarks in every frame, linked into tracks, in the video's own pixels. The detector
    looks at the whole frame every `detect_every` frames; in between, each face seen in the last FOLLOW_SECONDS is
    looked for only near where it was (follow_faces)."""
    width = config.detect_width if info.size[0] > config.detect_width else None
    factor = 1.0 if width is None else info.size[0] / width
    tracker = FaceTracker(config.max_match_cost)
    recent: dict[int, tuple[Box, int]] = {}  # track -> its last box (detection pixels) and frame
    followed_frames = max(1, round(FOLLOW_SECONDS * info.fps))
    for index, frame in enumerate(
        tqdm(iter_frames(path, "gray", width), total=info.expected_frames, desc="faces", unit="frame")
    ):
        if index % config.detect_every == 0:
            boxes, tracks = detect_faces(frame), None
        else:
            last = {track: box for track, (box, seen) in recent.items() if index - seen <= followed_frames}
            boxes, tracks = follow_faces(frame, last, config.follow_margin)
        mouths = [mouth_of_face(frame, box) for box in boxes]
        assigned = tracker.update(
            [tuple(factor * np.asarray(box, dtype=np.float64)) for box in boxes],
            [factor * centre for centre, _ in mouths],
            [factor * width for _, width in mouths],
            tracks,
        )
        recent.update({track: (box, index) for track, box in zip(assigned, boxes)})
    if tracker.num_frames == 0:
        raise VideoError(f"{path}: no video frames")
    return tracker.tracks()


def follow_faces(frame: np.ndarray, last: dict[int, Box], margin: float) -> tuple[list[Box], list[int]]:
    """The faces of the tracks `last` (track -> its last box) found near their last boxes (grown by `margin` of their
    size on each side), the nearest where several are, and their tracks. A face covered or gone is not found, and
    its track misses the frame."""
    boxes, tracks = [], []
    for track, box in last.items():
        near = detect_faces_near(frame, box, margin)
        if near:
            boxes.append(min(near, key=lambda found: match_cost(np.asarray(box, float), np.asarray(found, float))))
            tracks.append(track)
    return boxes, tracks


def frames_past_end(video: Path, num_frames: int, fps: float, audio_seconds: float, features: FeatureConfig) -> int:
    """The frames of audio past the video stream's last frame (they are separated with its mouth crops, so they
    count as frames without a face). Warns, as the --lips form does, when video and audio lengths differ by more
    than the features' lips_tolerance."""
    video_seconds = num_frames / fps
    past_end = max(0, math.ceil(round(audio_seconds * fps, 6)) - num_frames)
    if audio_seconds - video_seconds > features.lips_tolerance:
        log.warning(
            "%s: the video lasts %.2f s (%d frames), its audio %.2f s: the last %.2f s of audio (%d frames) are "
            "separated with the last frame's mouth crops, and counted as frames where the faces are missing",
            video,
            video_seconds,
            num_frames,
            audio_seconds,
            audio_seconds - video_seconds,
            past_end,
        )
    elif video_seconds - audio_seconds > features.lips_tolerance:
        log.warning(
            "%s: the video lasts %.2f s (%d frames), its audio %.2f s: the frames after the audio's end are not "
            "separated",
            video,
            video_seconds,
            num_frames,
            audio_seconds,
        )
    return past_end


def keep_faces(path: Path, tracks: FaceTracks, min_seconds: float, fps: float) -> FaceTracks:
    """The tracks seen in `min_seconds` of frames or more: shorter ones are taken as false detections and dropped,
    with a log line; when that drops every face found, an error that says so, with the numbers."""
    min_frames = max(1, int(round(min_seconds * fps)))
    kept = tracks.keep_long(min_frames)
    dropped = len(tracks.boxes) - len(kept.boxes)
    if dropped and not kept.boxes:
        longest = max(int(tracks.found(track).sum()) for track in range(len(tracks.boxes)))
        raise VideoError(
            f"{path}: {dropped} face(s) found, but each in at most {longest} of its {tracks.num_frames} frames, and "
            f"dropped as too short: a face must be seen in {min_frames} frames (min_track_seconds {min_seconds:g} s at "
            f"{fps:g} fps) not to be taken for a false detection; give a longer video, or a lower min_track_seconds "
            "in --video-config"
        )
    if dropped:
        log.info("%s: %d short face track(s) dropped as false detections", path, dropped)
    return kept


def check_face_numbers(faces: list[int] | None) -> None:
    """Refuse, before any work, a face asked for more than once (--faces 0,0): its outputs would be written twice."""
    twice = sorted({number for number in faces or [] if faces.count(number) > 1})
    if twice:
        raise UsageError(
            f"--faces {','.join(map(str, faces))}: face {', '.join(map(str, twice))} given more than once; give each "
            "face once"
        )


def choose_faces(path: Path, tracks: FaceTracks, faces: list[int] | None) -> list[int]:
    """Track indices of the faces asked for (numbers counted left to right at first appearance; all by default)."""
    order = tracks.left_to_right()
    if not order:
        raise VideoError(f"{path}: no face found in its {tracks.num_frames} frames")
    if faces is None:
        return order
    wrong = [number for number in faces if not 0 <= number < len(order)]
    if wrong:
        raise UsageError(
            f"{path}: --faces {','.join(map(str, faces))} asks for face(s) "
            f"{', '.join(map(str, wrong))}, but {len(order)} face(s) were found "
            f"(numbered 0 to {len(order) - 1} left to right)"
        )
    return [order[number] for number in faces]


def crop_mouths(
    path: Path, info: VideoInfo, found: list[np.ndarray], boxes: list[np.ndarray], sizes: list[int], folder: Path
) -> list[np.ndarray]:
    """Pass 2: each face's mouth crops uint8 [T, S, S] into a memory-mapped file in `folder`; frames where the face
    was not found copy the nearest found crop."""
    num_frames = len(found[0])
    crops = [
        np.lib.format.open_memmap(folder / f"mouths{j}.npy", mode="w+", dtype=np.uint8, shape=(num_frames, size, size))
        for j, size in enumerate(sizes)
    ]
    for index, frame in enumerate(tqdm(iter_frames(path, "gray"), total=num_frames, desc="mouths", unit="frame")):
        if index >= num_frames:
            break
        for j, crop in enumerate(crops):
            if found[j][index]:
                crop[index] = crop_frames(frame[None], boxes[j][index : index + 1], sizes[j])[0]
    for j, crop in enumerate(crops):
        missing = np.flatnonzero(~found[j])
        sources = nearest_found(found[j])[missing]
        for chunk in range(0, len(missing), FILL_CHUNK):
            crop[missing[chunk : chunk + FILL_CHUNK]] = crop[sources[chunk : chunk + FILL_CHUNK]]
        crop.flush()
    return crops


def separate_windows(job: WindowJob, samples: np.ndarray, config: VideoSeparationConfig, paths: list[Path]) -> None:
    """MCEM on each window of `samples` (avvae.separation.window_pool, on the usable cores), the windows cross-faded
    into the wavs `paths` (one per speaker, then the noise) as they come, at the input's level."""
    rate = job.features.sample_rate
    plan = plan_windows(len(samples), int(config.window_seconds * rate), int(config.overlap_seconds * rate))
    workers = worker_count(job.mcem, len(plan))
    log.info("separating %d window(s) in %d process(es) of %d torch thread(s)", len(plan), workers, job.mcem.threads)
    files = [soundfile.SoundFile(path, "w", rate, 1, "FLOAT", format="WAV") for path in paths]
    try:
        joiner = OverlapAdd(plan, lambda block: [f.write(row) for f, row in zip(files, block)])
        windows = separated_windows(job, samples, plan, workers)
        for outputs in tqdm(windows, total=len(plan), desc="separation", unit="window"):
            joiner.add(outputs)
    finally:
        for handle in files:
            handle.close()


def output_bytes(video: Path, info: VideoInfo, num_samples: int, lip_sizes: list[int]) -> int:
    """About the bytes the outputs of `len(lip_sizes)` faces take, with the mouth crops kept on disk meanwhile:
    float32 wavs, uint8 crops, per face a video of up to twice the input's size (its video stream copied, or
    re-encoded where MP4 cannot hold it, with its audio) and a strip, the picture of the faces as an uncompressed
    RGB frame, and the figure as an uncompressed RGBA image."""
    faces = len(lip_sizes)
    crops = sum(info.expected_frames * size * size for size in lip_sizes)
    videos = faces * 2 * video.stat().st_size
    picture = 3 * info.size[0] * info.size[1]
    return separation_bytes(faces, num_samples) + crops + videos + picture + faces * 2**20


@dataclass
class VideoRun:
    """A checked video on its way through the passes: the file and its header, its soundtrack, the models (one per
    face once the faces are chosen), the settings, and the clock of its stages."""

    video: Path
    info: VideoInfo
    samples: np.ndarray
    models: list[SpeechVAE]
    mcem: McemConfig
    features: FeatureConfig
    config: VideoSeparationConfig
    clock: StageClock


def separate_video(
    video: str | Path,
    models: list[SpeechVAE],
    mcem: McemConfig,
    features: FeatureConfig,
    config: VideoSeparationConfig,
    out_dir: str | Path,
    faces: list[int] | None = None,
) -> VideoSummary:
    """Separate one speaker per face of `video` (all faces, or the numbers in `faces`); one model for all faces or
    one per face. Writes the outputs of the module docstring into `out_dir` as a set (avvae.separation.output_set),
    refusing, before any work, a folder that holds the outputs of another video of the same file name. Holds the
    lock of their name in `out_dir` (avvae.fileio.job_lock) meanwhile: a second run writing the same names there
    fails at its start."""
    start_time, clock = time.time(), StageClock()
    video, out_dir = Path(video), Path(out_dir)
    check_face_numbers(faces)
    for model in models:
        if not model.config.uses_lips:
            raise UsageError(
                f"a {model.config.kind} model reads no lips: separating a video needs an audio-visual "
                "model (avvae or cvae), which ties each output to its face"
            )
    with clock.stage("audio"):
        info = video_info(video)
        if not info.has_audio:
            raise VideoError(f"{video}: has no audio track")
        samples = read_container_audio(video, features.sample_rate)
        check_finite(samples, f"{video} (audio track)", features.sample_rate)
        if not np.any(samples):
            raise VideoError(f"{video}: its audio track is silent")
    # Before the face pass, room for as few faces as there can be; before the separation, for the faces chosen.
    fewest = [models[0].config.lip_size] * max(1, len(faces or []))
    check_output_dir(out_dir, output_bytes(video, info, len(samples), fewest))
    run = VideoRun(video, info, samples, models, mcem, features, config, clock)
    with job_lock(out_dir / f"{video.stem}.json", f"separation into {video.stem}_*"):
        video_outputs(video, [], out_dir).previous()  # another video's outputs of this name: refused before any work
        remove_stale_work(out_dir, video.stem)
        summary = separate_faces(run, out_dir, faces)
    summary.seconds_taken = time.time() - start_time
    return summary


def remove_stale_work(out_dir: Path, name: str) -> None:
    """Remove the work folders `.<name>.separating-*` that runs killed midway left in `out_dir` (their mouth crops
    and unfinished outputs); the caller holds the lock of `name` there, so no running separation owns one."""
    for folder in out_dir.glob(f".{glob.escape(name)}.separating-*"):
        log.info("%s: removing the unfinished work of a run that was stopped", folder)
        shutil.rmtree(folder)


def separate_faces(run: VideoRun, out_dir: Path, faces: list[int] | None) -> VideoSummary:
    """The passes of the module docstring on a checked video and its soundtrack (see separate_video)."""
    video, info, features, config = run.video, run.info, run.features, run.config
    with run.clock.stage("faces"):
        tracks = find_faces(video, info, config)
    seconds = len(run.samples) / features.sample_rate
    past_end = frames_past_end(video, tracks.num_frames, info.fps, seconds, features)
    tracks = keep_faces(video, tracks, config.min_track_seconds, info.fps)
    chosen = choose_faces(video, tracks, faces)
    numbers = [tracks.left_to_right().index(track) for track in chosen]
    if len(run.models) not in (1, len(chosen)):
        raise UsageError(f"{len(run.models)} models for {len(chosen)} faces: give one, or one per face")
    run.models = run.models * len(chosen) if len(run.models) == 1 else run.models
    sizes = [model.config.lip_size for model in run.models]
    check_output_dir(out_dir, output_bytes(video, info, len(run.samples), sizes))
    found = [tracks.found(track) for track in chosen]
    mouth_boxes = [
        boxes_from_landmarks(tracks.centres[track], tracks.widths[track], config.mouth_scale, info.size)
        for track in chosen
    ]
    results = [
        FaceResult(number, tracks.boxes[track], boxes, int((~mask).sum()) + past_end)
        for number, track, boxes, mask in zip(numbers, chosen, mouth_boxes, found)
    ]
    outputs = video_outputs(video, numbers, out_dir)
    outputs.previous()
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=f".{video.stem}.separating-") as folder:
        work = Path(folder)
        write_outputs(run, found, results, work)
        with run.clock.stage("outputs"):
            moves = {name: functools.partial(os.replace, work / name) for name in outputs.names}
            outputs.write(moves, {"faces": numbers})
    for result in results:
        result.outputs = [out_dir / f"{video.stem}_face{result.number}{suffix}" for suffix in FACE_OUTPUTS]
    return VideoSummary(
        video, len(tracks.boxes), tracks.num_frames, seconds, 0.0, results, outputs.paths[-3:], past_end, run.clock
    )


def video_outputs(video: Path, numbers: list[int], out_dir: Path) -> OutputSet:
    """The output set of the faces `numbers` of `video`: each face's files (FACE_OUTPUTS), then the noise, the
    picture of the faces and the figure; its sidecar names the video, so that another video of the same file name is
    refused."""
    name = video.stem
    per_face = [f"{name}_face{number}{suffix}" for number in numbers for suffix in FACE_OUTPUTS]
    shared = (f"{name}_noise.wav", f"{name}_faces.png", f"{name}_spectrograms.png")
    return OutputSet(out_dir, name, video.resolve(), (*per_face, *shared))


def write_outputs(run: VideoRun, found: list[np.ndarray], results: list[FaceResult], work: Path) -> None:
    """Passes 2 and 3 and the pictures: the outputs of the faces `results` written into the folder `work`, under the
    names of `video_outputs`, with the mouth crops beside them."""
    name, features = run.video.stem, run.features
    sizes = [model.config.lip_size for model in run.models]
    wavs = [work / f"{name}_face{result.number}.wav" for result in results] + [work / f"{name}_noise.wav"]
    with run.clock.stage("mouths"):
        crops = crop_mouths(run.video, run.info, found, [result.mouth_boxes for result in results], sizes, work)
    with run.clock.stage("separation"):
        crop_files = [Path(crop.filename) for crop in crops]
        peak = float(np.max(np.abs(run.samples)))
        job = WindowJob(run.models, run.mcem, features, crop_files, run.info.fps, peak)
        separate_windows(job, run.samples, run.config, wavs)
    with run.clock.stage("outputs"):
        for result, crop, mask in zip(results, crops, found):
            mouth_strip(work / f"{name}_face{result.number}_mouth.png", crop, mask, run.config.strip_frames)
        write_face_videos(run.video, wavs, [work / f"{name}_face{result.number}.mp4" for result in results])
        faces_picture(run.video, run.info, results, work / f"{name}_faces.png")
        spectrogram_figure(
            work / f"{name}_spectrograms.png",
            run.samples,
            wavs,
            [f"face {result.number}" for result in results] + ["noise"],
            features.sample_rate,
            run.config.figure_seconds,
        )
