"""Check a copy of the GRID release before stage 1: per listed speaker, its videos (in whichever layout the recipe's
config finds them), and what is missing or unusable: a speaker without videos (with the archive to unpack, if it is
still packed), a GRID utterance id that does not decode to words, empty files, and, for each speaker's first video,
no audio track or a frame rate other than the recipe's.

Only the first video of each speaker is decoded (a full pass over GRID's 34,000 videos takes hours): stage 1 reads
them all and names any that fail.
"""

from __future__ import annotations

from pathlib import Path

from avvae.corpus_prep.common import CorpusLayoutError, read_speaker_list
from avvae.corpus_prep.grid import GridConfig, grid_words, speaker_videos
from avvae.corpus_prep.release_report import ReleaseReport, recipe_config, start_report
from avvae.fileio.video import VideoError, read_container_audio, read_gray_frames


def _check_first_video(spk: str, video: Path, config: GridConfig, report: ReleaseReport) -> None:
    try:
        _, fps, _ = read_gray_frames(video, size=8)
    except VideoError as error:
        report.problem("unreadable video", f"{spk}: {error}")
        return
    if abs(fps - config.lips_fps) > 0.01:
        report.problem("frame rate differs from the recipe's", f"{video}: {fps:g} fps, lips_fps is {config.lips_fps:g}")
    try:
        if read_container_audio(video, config.sample_rate).size == 0:
            report.problem("video without a readable audio track", f"{video}: the track is empty")
    except VideoError as error:
        report.problem("video without a readable audio track", f"{spk}: {error}")


def check_release(recipe: Path, root: Path) -> ReleaseReport:
    """Walk the user's copy of GRID at `root` with the layout and split of `recipe` (egs/grid)."""
    config = recipe_config(recipe, GridConfig)
    report = start_report("GRID", recipe, root)
    if report.problems:
        return report
    roles = {}
    for name in ("train", "dev", "test"):
        try:
            roles.update({spk: name for spk in read_speaker_list(getattr(config, f"{name}_speakers"))})
        except CorpusLayoutError as error:
            report.problem("speaker list", str(error))
    report.found.append(
        "speaker split: "
        + ", ".join(f"{name} {sum(1 for role in roles.values() if role == name)}" for name in ("train", "dev", "test"))
    )
    layouts: dict[str, int] = {}
    for spk in sorted(roles, key=lambda name: (len(name), name)):
        try:
            videos = speaker_videos(root, config, spk)
        except CorpusLayoutError as error:
            report.problem("speaker without videos", str(error))
            report.speakers.append(f"!{spk} {roles[spk]} 0v")
            continue
        before = report.problem_count
        first = next(iter(videos.values()))
        layout = str(first.parent.relative_to(root)).replace(spk, "{spk}")
        layouts[layout] = layouts.get(layout, 0) + 1
        for utt, video in videos.items():
            try:
                grid_words(utt)
            except CorpusLayoutError as error:
                report.problem("utterance id that is not GRID's", f"{video}: {error}")
            if video.stat().st_size == 0:
                report.problem("empty video file", str(video))
        _check_first_video(spk, first, config, report)
        mark = "!" if report.problem_count > before else " "
        report.speakers.append(f"{mark}{spk} {roles[spk]} {len(videos)}v")
    report.found.append(
        "videos found in: "
        + (", ".join(f"{root}/{layout} ({count} speakers)" for layout, count in layouts.items()) or "none")
    )
    report.legend = "speaker, recipe split, videos (v); ! = has problems"
    return report
