"""FFmpeg and probing. The FFmpeg binary comes from the imageio-ffmpeg wheel, so no apt step is needed."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Iterable, Iterator

from .errors import MediaError


@cache
def ffmpeg_exe() -> str:
    override = os.environ.get("SHORTDRAMA_FFMPEG")
    if override:
        return override
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], *, cwd: str | os.PathLike | None = None) -> str:
    """Run ffmpeg with `args` (without the binary name); return its stderr text, raise MediaError on failure."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, cwd=cwd)
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        tail = " | ".join(line for line in stderr.strip().splitlines()[-3:])
        raise MediaError(f"ffmpeg failed (exit {proc.returncode}): {tail}")
    return stderr


def ffconcat_listing(paths: Iterable[str | os.PathLike]) -> str:
    """An ffconcat file naming `paths` (absolute, single quotes escaped as the concat demuxer reads them)."""
    quoted = (str(Path(p).resolve()).replace("'", "'\\''") for p in paths)
    return "ffconcat version 1.0\n" + "".join(f"file '{name}'\n" for name in quoted)


@contextmanager
def atomic_output(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto `path` only if the block succeeds.

    A crash (even SIGKILL) then never leaves a partial file under the real name, which
    Snakemake would otherwise take as complete behind a checkpoint.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    ext = suffix if suffix is not None else final.suffix
    tmp = final.with_name(f".{final.stem}.{os.getpid()}.part{ext}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class StreamInfo:
    kind: str  # "video", "audio", "subtitle"
    codec: str
    width: int = 0
    height: int = 0
    fps: float = 0.0
    sample_rate: int = 0
    language: str = ""
    duration: float = 0.0  # the stream's own length in seconds, where the container says (0: unknown)


@dataclass(frozen=True)
class MediaInfo:
    duration: float
    streams: tuple[StreamInfo, ...]

    def first(self, kind: str) -> StreamInfo | None:
        return next((s for s in self.streams if s.kind == kind), None)


def probe(path: str | os.PathLike) -> MediaInfo:
    """Describe a media file with PyAV (the wheel's FFmpeg has no ffprobe)."""
    import av

    try:
        with av.open(str(path)) as container:
            streams = []
            for s in container.streams:
                ctx = s.codec_context
                kind = s.type
                info = StreamInfo(
                    kind=kind,
                    codec=(ctx.name if ctx is not None else "") or "",
                    width=getattr(ctx, "width", 0) or 0,
                    height=getattr(ctx, "height", 0) or 0,
                    fps=float(s.average_rate) if kind == "video" and s.average_rate else 0.0,
                    sample_rate=(getattr(ctx, "sample_rate", 0) or 0) if kind == "audio" else 0,
                    language=s.metadata.get("language", ""),
                    duration=float(s.duration * s.time_base) if s.duration and s.time_base else 0.0,
                )
                streams.append(info)
            duration = (container.duration or 0) / 1_000_000
            return MediaInfo(duration=duration, streams=tuple(streams))
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot probe {path}: {exc}") from exc


def read_subtitles(path: str | os.PathLike) -> list[tuple[float, float, str]]:
    """The text cues of the first subtitle stream, as (start, end, text) in seconds."""
    import av

    cues = []
    with av.open(str(path)) as container:
        if not container.streams.subtitles:
            return cues
        stream = container.streams.subtitles[0]
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            start = float(packet.pts * stream.time_base)
            end = start + float((packet.duration or 0) * stream.time_base)
            for subtitle_set in packet.decode():
                # PyAV yields either a set of rects or, in newer versions, the rect itself.
                rects = subtitle_set if hasattr(subtitle_set, "__iter__") else [subtitle_set]
                text = "".join(_subtitle_text(rect) for rect in rects)
                if text:
                    cues.append((start, end, text))
    return cues


def _subtitle_text(rect) -> str:  # noqa: ANN001 - a PyAV subtitle rect
    dialogue = getattr(rect, "dialogue", None)
    if dialogue:
        raw = dialogue
    else:
        raw = getattr(rect, "text", b"") or b""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text.replace("\\N", "\n").strip()
