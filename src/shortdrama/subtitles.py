"""Episode subtitles: per-scene dialogue cues placed on the episode timeline, written as SRT.

The file is composed by the `srt` library (index, timing, no blank line inside a cue). Cue text is
made safe here as well, whatever reached the writer (the schemas already refuse such text at the
edge): every cue is one line of plain text, shown literally.

- Control characters, bidirectional controls and line breaks become spaces, and runs of white space
  one space: a cue can never hold a blank line, a second line or a line that starts another cue.
- `-->` gets a WORD JOINER (U+2060, invisible) inside it: FFmpeg's SRT reader starts a new cue at any
  line that parses as a timing, even without a blank line before it.
- Markup is shown as text, not obeyed: a WORD JOINER follows every `<`, `{` and `\\`, so FFmpeg's
  SubRip decoder reads no `<i>`, `<font ...>`, `{\\an8}` or `{\\pos(...)}`, and no `\\N` line break.
  On screen the text is what was written; in the file and in the soft track the joiners are there.

`parse_srt` undoes exactly these joiners, so `parse_srt(format_srt(cues))` gives the cues back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Sequence

import srt

WORD_JOINER = "\u2060"
# Replaced by a space: C0/C1 controls (NUL, ESC, DEL, NEL...), line/paragraph separators, bidi controls.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_MARKUP = re.compile(r"([<{\\])")
_ARROW = "-->"
_JOINED_MARKUP = re.compile(r"([<{\\])" + WORD_JOINER)
_JOINED_ARROW = "--" + WORD_JOINER + ">"


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def episode_cues(scenes: Sequence[Sequence[dict[str, Any]]], durations: Sequence[float]) -> list[Cue]:
    """Shift each scene's cues (seconds from the scene start) by the scenes before it. Lines the voice
    step dropped (listed with "dropped": true) are not heard, so they get no subtitle."""
    if len(scenes) != len(durations):
        raise ValueError(f"{len(scenes)} scenes of cues for {len(durations)} scene durations")
    cues, offset = [], 0.0
    for scene_cues, duration in zip(scenes, durations):
        for cue in scene_cues:
            if cue.get("dropped"):
                continue
            start, end = offset + float(cue["start"]), offset + min(float(cue["end"]), duration)
            if end > start:
                cues.append(Cue(start, end, cue["text"]))
        offset += duration
    return cues


def cue_text(text: str) -> str:
    """One line of SRT content that FFmpeg shows as `text` (see the module's docstring)."""
    line = " ".join(_UNSAFE.sub(" ", text).split())
    return _MARKUP.sub(r"\1" + WORD_JOINER, line).replace(_ARROW, _JOINED_ARROW)


def _plain(content: str) -> str:
    return _JOINED_MARKUP.sub(r"\1", content).replace(_JOINED_ARROW, _ARROW)


def _at(seconds: float) -> timedelta:
    return timedelta(milliseconds=round(seconds * 1000))


def format_srt(cues: Sequence[Cue]) -> str:
    """The SRT of `cues`: one block per cue with text to show (a cue left blank is dropped)."""
    subtitles = [srt.Subtitle(index=None, start=_at(c.start), end=_at(c.end), content=cue_text(c.text)) for c in cues]
    return srt.compose(subtitles, reindex=True)


def parse_srt(text: str) -> list[Cue]:
    """The cues of an SRT file; blocks that are not cues are skipped."""
    return [Cue(s.start.total_seconds(), s.end.total_seconds(), _plain(s.content))
            for s in srt.parse(text, ignore_errors=True)]
