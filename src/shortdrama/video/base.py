"""The VideoGenerator protocol: a keyframe and a scene's camera direction in, one H.264 clip out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol



@dataclass(frozen=True)
class Encoding:
    """Identical for every clip, so the episode concatenates without re-encoding."""

    width: int
    height: int
    fps: int
    crf: int
    preset: str

    @classmethod
    def from_spec(cls, data: dict) -> "Encoding":
        return cls(**data)


@dataclass(frozen=True)
class ClipRequest:
    keyframe: Path
    camera: str
    duration: float
    encoding: Encoding


class VideoGenerator(Protocol):
    def generate(self, request: ClipRequest, out_path: Path) -> None: ...


def frame_count(duration: float, fps: int) -> int:
    """Frames a clip of `duration` seconds holds; every clip and the episode total use this rounding."""
    return max(1, round(duration * fps))


def on_frames(duration: float, fps: int) -> float:
    """A scene's duration rounded to whole frames. Every spec carries this value, so picture, voice,
    music and subtitles agree on where each scene starts even when a script says 3.02 s."""
    return round(frame_count(duration, fps) / fps, 6)


# x264 writes the same stream for the same input and settings whatever the CPU, but its thread
# count is one of those settings (and defaults to 1.5 x the cores): fixed, so two machines give the
# same bytes for the same config and seed.
X264_THREADS = 4


def x264_args(encoding: Encoding) -> list[str]:
    """The one encoding every clip shares, so the concat demuxer can copy the streams."""
    return [
        "-c:v", "libx264", "-threads", str(X264_THREADS), "-preset", encoding.preset, "-crf", str(encoding.crf),
        "-pix_fmt", "yuv420p", "-profile:v", "high", "-r", str(encoding.fps),
        "-g", str(encoding.fps * 2), "-video_track_timescale", str(encoding.fps * 1000),
    ]
