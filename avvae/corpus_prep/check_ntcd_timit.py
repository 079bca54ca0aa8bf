"""Check a copy of the NTCD-TIMIT release before stage 1: per speaker, its clean wavs, lip files and noisy versions,
and what is missing or inconsistent (lips whose duration disagrees with the audio or that hold NaN or infinite
values, noisy files of another length).

The layout and the split are the recipe's own (egs/ntcd_timit/conf/corpus.yaml), so the check reads what stage 1
will read: the wavs' headers (their lengths) and the `.mat` files' coefficients (their frame counts and values,
which stage 1 refuses when not finite).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

import soundfile

from avvae.corpus_prep.common import CorpusLayoutError, list_speakers, list_utterances, release_path
from avvae.corpus_prep.ntcd_lips import LipValuesError, check_mat_lips
from avvae.corpus_prep.ntcd_timit import (
    NtcdConfig,
    NtcdLayout,
    find_lips_root,
    find_noisy_root,
    lip_folders,
    speaker_splits,
)
from avvae.corpus_prep.release_report import ReleaseReport, recipe_config, start_report

T = TypeVar("T")


def _attempt(report: ReleaseReport, kind: str, step: Callable[[], T]) -> T | None:
    """`step()`, or None with its layout error recorded as a problem of `kind`."""
    try:
        return step()
    except CorpusLayoutError as error:
        report.problem(kind, str(error))
        return None


def _seconds(path: Path) -> tuple[int, int] | None:
    """(samples, rate) of a wav from its header, None if unreadable."""
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError):
        return None
    return info.frames, info.samplerate


def _check_speaker(
    spk: str, group: str, layout: NtcdLayout, noisy: bool, config: NtcdConfig, report: ReleaseReport
) -> tuple[int, int, int]:
    """Record one speaker's problems (noisy versions only if `noisy`: their folder is known); returns its counts of
    clean wavs, lip files and noisy versions."""
    utts = list_utterances(layout.root, config.clean_audio, group=group, spk=spk)
    folder = layout.lips_folders.get(spk)
    mats = {path.stem: path for path in folder.glob("*.mat")} if folder else {}
    if folder is None and layout.lips_folders:
        report.problem(
            "speaker without lip folder",
            f"{spk}: no {layout.lips_root}/{{{','.join(config.lips_splits)}}}/{spk}/ folder",
        )
    kinds, found = config.noise_types if noisy else [], 0
    for utt in utts:
        clean_path = release_path(layout.root, config.clean_audio, group=group, spk=spk, utt=utt)
        clean = _seconds(clean_path)
        if clean is None:
            report.problem("unreadable clean wav", str(clean_path))
            continue
        if folder is not None and utt not in mats:
            report.problem("missing lip file", f"{folder / f'{utt}.mat'} (clean {clean_path.name} exists)")
        elif utt in mats:
            _check_lips(mats[utt], clean, config, report)
        for kind in kinds:
            path = release_path(
                layout.noisy_root,
                config.noisy_audio,
                noise=kind,
                snr=str(config.noise_snr),
                group=group,
                spk=spk,
                utt=utt,
            )
            if not path.is_file():
                report.problem(f"missing noisy version ({config.noise_snr} dB)", str(path))
                continue
            found += 1
            if _seconds(path) != clean:
                report.problem(
                    "noisy length differs from clean", f"{path}: {_seconds(path)} (samples, Hz), clean {clean}"
                )
    for utt in sorted(set(mats) - set(utts)):
        report.problem("lip file without clean speech", str(mats[utt]))
    return len(utts), len(mats), found


def _check_lips(path: Path, clean: tuple[int, int], config: NtcdConfig, report: ReleaseReport) -> None:
    """Record an unreadable lip file, one with NaN or infinite values, or lips whose duration differs from the
    audio's by more than the tolerance."""
    try:
        frames = check_mat_lips(path, config.lips_size)
    except LipValuesError as error:
        report.problem("lip file with NaN or infinite values", str(error))
        return
    except CorpusLayoutError as error:
        report.problem("unreadable lip file", str(error))
        return
    lips, audio = frames / config.lips_fps, clean[0] / clean[1]
    if abs(lips - audio) > config.lips_tolerance:
        report.problem(
            f"lips and audio durations differ by more than {config.lips_tolerance:g} s",
            f"{path}: {frames} frames = {lips:.2f} s at {config.lips_fps:g} fps, clean audio {audio:.2f} s",
        )


def _describe_noisy(noisy_root: Path, config: NtcdConfig, report: ReleaseReport) -> str:
    """One line: each noise folder's SNR folders; a missing noise folder is a problem."""
    snrs = {}
    for kind in config.noise_types:
        if not (noisy_root / kind).is_dir():
            report.problem("missing noise folder", str(noisy_root / kind))
            continue
        snrs[kind] = " ".join(
            sorted(
                (p.name for p in (noisy_root / kind).iterdir() if p.is_dir()),
                key=lambda name: float(name) if name.lstrip("-").isdigit() else float("inf"),
            )
        )
    if len(set(snrs.values())) == 1:
        return f"{' '.join(snrs)}, each with SNR folders {next(iter(snrs.values()))}"
    return "; ".join(f"{kind}: {value}" for kind, value in snrs.items())


def check_release(recipe: Path, root: Path) -> ReleaseReport:
    """Walk the user's copy of NTCD-TIMIT at `root` with the layout and split of `recipe` (egs/ntcd_timit)."""
    config = recipe_config(recipe, NtcdConfig)
    report = start_report("NTCD-TIMIT", recipe, root)
    if report.problems:
        return report
    lips_root = _attempt(report, "lip ROI folder", lambda: find_lips_root(root, config))
    noisy_root = _attempt(report, "noisy speech folder", lambda: find_noisy_root(root, config))
    folders = (
        (_attempt(report, "lip ROI folder", lambda: lip_folders(lips_root, config.lips_splits)) or {})
        if lips_root
        else {}
    )
    layout = NtcdLayout(root, lips_root or root, noisy_root or root, folders)
    groups = {}
    for group in (config.volunteers_group, config.lipspeakers_group):
        try:
            groups.update({spk: group for spk in list_speakers(root, config.clean_audio, group=group)})
        except CorpusLayoutError as error:  # lipspeakers are optional unless the config lists some
            if group == config.volunteers_group or config.lipspeakers:
                report.problem("clean speech folder", str(error))
    counts = {
        group: sum(1 for g in groups.values() if g == group)
        for group in (config.volunteers_group, config.lipspeakers_group)
    }
    report.found.append(
        f"clean speech ({config.clean_audio}): "
        + ", ".join(f"{group} {count}" for group, count in counts.items())
        + " speakers"
    )
    if lips_root:
        per_split = {split: sum(1 for f in folders.values() if f.parent.name == split) for split in config.lips_splits}
        report.found.append(
            f"lip ROIs: {lips_root} ({'set' if config.lips_root else 'found'}): "
            + ", ".join(f"{split} {n}" for split, n in per_split.items())
            + " speakers"
        )
    if noisy_root:
        report.found.append(
            f"noisy speech: {noisy_root} ({'set' if config.noisy_root else 'found'}): "
            + _describe_noisy(noisy_root, config, report)
        )

    splits = _attempt(report, "speaker split", lambda: speaker_splits(layout, config)) or {}
    role = {spk: name for name, speakers in splits.items() for spk in speakers}
    role.update({spk: "lipspk" for spk in config.lipspeakers})
    report.found.append(
        f"speaker split ({config.speaker_split}): "
        + ", ".join(f"{name} {len(speakers)}" for name, speakers in splits.items())
    )
    for spk in sorted(set(role) - set(groups)):
        report.problem("split speaker without clean speech", f"{spk} ({role[spk]}): not in {root / 'Clean'}")
    for spk in sorted(set(folders) - set(groups)):
        report.problem("lip folder without clean speech", str(folders[spk]))

    for spk in sorted(groups):
        before = report.problem_count
        wavs, lips, noisy = _check_speaker(spk, groups[spk], layout, noisy_root is not None, config, report)
        mark = "!" if report.problem_count > before else " "
        release = folders[spk].parent.name if spk in folders else "-"
        report.speakers.append(f"{mark}{spk} {role.get(spk, '-')}/{release} {wavs}w {lips}l {noisy}n")
    report.legend = (
        f"speaker, recipe split/release split, clean wavs (w), lip files (l), noisy versions at "
        f"{config.noise_snr} dB over {len(config.noise_types)} noise types (n); ! = has problems"
    )
    return report
