"""Episode subtitles: per-scene dialogue cues placed on the episode timeline, written as SRT."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def episode_cues(scenes: Sequence[Sequence[dict[str, Any]]], durations: Sequence[float]) -> list[Cue]:
    """Shift each scene's cues (seconds from the scene start) by the scenes before it."""
    if len(scenes) != len(durations):
        raise ValueError(f"{len(scenes)} scenes of cues for {len(durations)} scene durations")
    cues, offset = [], 0.0
    for scene_cues, duration in zip(scenes, durations):
        for cue in scene_cues:
            start, end = offset + float(cue["start"]), offset + min(float(cue["end"]), duration)
            if end > start:
                cues.append(Cue(start, end, cue["text"]))
        offset += duration
    return cues


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def format_srt(cues: Sequence[Cue]) -> str:
    blocks = [f"{i}\n{_timestamp(c.start)} --> {_timestamp(c.end)}\n{c.text.strip()}\n" for i, c in enumerate(cues, 1)]
    return "\n".join(blocks)


_TIME = r"(\d+):(\d\d):(\d\d)[,.](\d{3})"


def parse_srt(text: str) -> list[Cue]:
    cues = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.strip().splitlines()
        match = re.match(_TIME + r"\s*-->\s*" + _TIME, lines[1]) if len(lines) >= 2 else None
        if not match:
            continue
        g = [int(x) for x in match.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        cues.append(Cue(start, end, "\n".join(lines[2:])))
    return cues
