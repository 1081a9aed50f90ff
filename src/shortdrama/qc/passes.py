"""One FFmpeg analysis pass and what it leaves behind: the log, and the per-frame metadata files
written by `metadata=mode=print` / `ametadata=mode=print` (qc.analysis and qc.audio_analysis)."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import MediaError
from ..media import run_ffmpeg

Run = tuple[float, float]  # (start, end) in seconds
NUMBER = r"(-?(?:inf|nan|\d+(?:\.\d+)?(?:e[-+]?\d+)?))"  # a number as FFmpeg prints one


def longest(runs: tuple[Run, ...]) -> Run | None:
    return max(runs, key=lambda run: run[1] - run[0]) if runs else None


def open_container(source: Path):  # noqa: ANN202 - a PyAV container
    import av

    try:
        return av.open(str(source))
    except (av.error.FFmpegError, OSError) as error:
        raise MediaError(f"cannot read {source}: {one_line(error)}") from None


def run_analysis(source: Path, args: list[str], work: Path) -> str:
    """Run one analysis pass in `work` (where the metadata files land); a failure names the file."""
    try:
        return run_ffmpeg(args, cwd=work)
    except MediaError as error:
        raise MediaError(f"cannot analyse {source}: {one_line(error)}") from None
    except (OSError, ValueError) as error:  # e.g. an argument subprocess refuses
        raise MediaError(f"cannot run ffmpeg to analyse {source}: {one_line(error)}") from None


def one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def frame_metadata(path: Path) -> list[tuple[float, dict[str, str]]]:
    """The blocks of a `metadata=mode=print:file=` file: (pts_time, {key: value}) per frame."""
    frames: list[tuple[float, dict[str, str]]] = []
    if not path.exists():
        return frames
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("frame:"):
            match = re.search(r"pts_time:" + NUMBER, line)  # a frame without one follows the one before
            time = float(match.group(1)) if match else (frames[-1][0] if frames else 0.0)
            frames.append((time, {}))
        elif frames and "=" in line:
            key, _, value = line.partition("=")
            frames[-1][1][key.strip()] = value.strip()
    return frames


def runs(frames: list[tuple[float, dict[str, str]]], start_key: str, end_key: str, clip_end: float) -> tuple[Run, ...]:
    """Pair the start and end markers a detector leaves on frames; a run still open at the end closes
    there (black, freeze and silence detectors only log a run that lasts to the end of the file)."""
    runs: list[Run] = []
    open_start: float | None = None
    for _, meta in frames:
        # freezedetect can mark a start and its end on the same frame (a run found only as it ends).
        if start_key in meta and open_start is None:
            open_start = max(0.0, float(meta[start_key]))
        if end_key in meta and open_start is not None:
            runs.append((open_start, min(clip_end, float(meta[end_key]))))
            open_start = None
    if open_start is not None and clip_end > open_start:
        runs.append((open_start, clip_end))
    return tuple(runs)
