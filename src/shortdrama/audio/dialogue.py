"""Lay a scene's spoken lines onto a track of exactly the scene's length.

The video is cut to fixed scene durations, so the dialogue must bend to the scene, never
the other way round: speak faster, then close the gaps, and only then cut the last line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from ..errors import MediaError
from ..voice.base import RATE_RANGE, Voice, VoiceSpec
from .wav import resample


@dataclass(frozen=True)
class LineCue:
    speaker: str
    text: str
    start: float  # seconds from the scene start
    end: float


@dataclass(frozen=True)
class SpokenLine:
    speaker: str
    text: str
    voice: VoiceSpec


# Lines are levelled to a common loudness so no character is drowned by another.
_LINE_RMS = 10 ** (-20 / 20)
_LINE_PEAK = 10 ** (-1 / 20)
_CUT_FADE_SECONDS = 0.06
# espeak's duration is not exactly inverse to its rate (pauses scale less), so retry a few times.
_SPEEDUP_ATTEMPTS = 3


def render_scene_dialogue(
    lines: Sequence[SpokenLine],
    duration: float,
    voice: Voice,
    sample_rate: int = 48000,
    lead_in: float = 0.25,
    gap: float = 0.2,
    tail: float = 0.2,
    max_speedup: float = 1.6,
) -> tuple[np.ndarray, list[LineCue]]:
    """Speak `lines` in order inside a scene of `duration` seconds.

    Returns float32 mono of exactly round(duration * sample_rate) samples and one cue per
    line that is heard, timed to where its audio really starts and ends.
    """
    if duration < 0 or not np.isfinite(duration):
        raise MediaError(f"scene duration must be a non-negative number of seconds, got {duration}")
    if min(lead_in, gap, tail) < 0 or max_speedup < 1.0:
        raise MediaError("lead_in, gap and tail must be >= 0 and max_speedup >= 1")
    total = int(round(duration * sample_rate))
    track = np.zeros(total, dtype=np.float32)
    if not lines or total == 0:
        return track, []

    speed = 1.0
    clips = _speak_all(lines, voice, sample_rate, speed)
    for _ in range(_SPEEDUP_ATTEMPTS):
        spoken = sum(len(c) for c in clips) / sample_rate
        available = duration - lead_in - tail - gap * (len(lines) - 1)
        if spoken <= available or speed >= max_speedup:
            break
        wanted = speed * spoken / max(available, 1e-3)
        speed = min(max_speedup, max(wanted, speed * 1.05))
        clips = _speak_all(lines, voice, sample_rate, speed)

    spacing = _fit_spacing(
        [len(c) for c in clips], total, [lead_in, gap, tail], sample_rate, audible=[len(c) > 0 for c in clips]
    )
    return _place(lines, clips, spacing, track, sample_rate)


def _speak_all(lines: Sequence[SpokenLine], voice: Voice, sample_rate: int, speed: float) -> list[np.ndarray]:
    clips = []
    for line in lines:
        spec = line.voice
        if speed != 1.0:
            faster = min(int(round(spec.rate * speed)), RATE_RANGE[1])
            spec = replace(spec, rate=max(faster, spec.rate))
        raw = voice.synthesize(line.text, spec)
        clips.append(_level(resample(raw, voice.sample_rate, sample_rate)))
    return clips


def _level(clip: np.ndarray) -> np.ndarray:
    if clip.size == 0:
        return clip
    rms = float(np.sqrt(np.mean(np.square(clip, dtype=np.float64))))
    peak = float(np.max(np.abs(clip)))
    if rms <= 0.0:
        return np.zeros_like(clip)
    gain = min(_LINE_RMS / rms, _LINE_PEAK / peak)
    return (clip * gain).astype(np.float32)


def _fit_spacing(
    clip_lengths: list[int], total: int, pauses: list[float], sample_rate: int, audible: list[bool]
) -> tuple[int, int, int]:
    """Lead-in, gap and tail in samples, shrunk together when the speech leaves too little room."""
    lead_in, gap, tail = (int(round(p * sample_rate)) for p in pauses)
    speech = sum(clip_lengths)
    gap_count = max(sum(audible) - 1, 0)
    silence_wanted = lead_in + gap * gap_count + tail
    room = total - speech
    if room >= silence_wanted:
        return lead_in, gap, tail
    if room <= 0:
        return 0, 0, 0
    shrink = room / silence_wanted
    return int(lead_in * shrink), int(gap * shrink), int(tail * shrink)


def _place(
    lines: Sequence[SpokenLine],
    clips: list[np.ndarray],
    spacing: tuple[int, int, int],
    track: np.ndarray,
    sample_rate: int,
) -> tuple[np.ndarray, list[LineCue]]:
    lead_in, gap, _tail = spacing
    total = len(track)
    cues: list[LineCue] = []
    cursor = lead_in
    for line, clip in zip(lines, clips):
        if clip.size == 0:
            continue  # nothing audible to show a cue for (e.g. a line of only "...")
        if cursor >= total:
            break  # no room left at all: the line is dropped rather than squeezed into nothing
        end = min(cursor + len(clip), total)
        piece = clip[: end - cursor].copy()
        if end < cursor + len(clip):
            # Last resort: cut the line, with a short fade so the cut does not click.
            fade = min(int(_CUT_FADE_SECONDS * sample_rate), len(piece))
            piece[len(piece) - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        track[cursor:end] = piece
        cues.append(LineCue(line.speaker, line.text, cursor / sample_rate, end / sample_rate))
        cursor = end + gap
    return track, cues
