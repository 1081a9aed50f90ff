"""What every keyframe generator receives and promises, independent of how it draws."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CAMERAS = ("close-up", "medium", "wide", "pan", "tilt", "zoom-in", "zoom-out", "static")


@dataclass(frozen=True)
class CharacterLook:
    name: str
    slug: str
    look: str  # free text, English or Chinese: "tall woman, long black hair, red qipao"
    gender: str | None = None


@dataclass(frozen=True)
class KeyframeRequest:
    setting: str  # "INT" or "EXT"
    place: str  # "Kitchen of the Chen family, night"
    action: str
    camera: str  # one of CAMERAS
    characters: tuple[CharacterLook, ...]  # present in the scene, most important first
    width: int
    height: int
    seed: int = 0
    caption: str = ""  # optional text printed on the frame; may be Chinese


class ImageGenerator(Protocol):
    def generate(self, request: KeyframeRequest, out_path: Path) -> None:
        """Write one RGB PNG of exactly request.width x request.height to out_path."""
        ...
