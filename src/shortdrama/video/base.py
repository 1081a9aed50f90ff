"""The VideoGenerator protocol: a keyframe and a scene's camera direction in, one H.264 clip out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..specs import Encoding


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


def x264_args(encoding: Encoding) -> list[str]:
    """The one encoding every clip shares, so the concat demuxer can copy the streams."""
    return [
        "-c:v", "libx264", "-preset", encoding.preset, "-crf", str(encoding.crf),
        "-pix_fmt", "yuv420p", "-profile:v", "high", "-r", str(encoding.fps),
        "-g", str(encoding.fps * 2), "-video_track_timescale", str(encoding.fps * 1000),
    ]
