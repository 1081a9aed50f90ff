"""Episode subtitles: per-scene dialogue cues placed on the episode timeline, written with pysubs2 in
three formats from the same cues:

- SRT (`format_srt`): the final's soft mov_text track and QC's reference;
- WebVTT (`format_vtt`): what players and the review page's <track> read;
- ASS (`format_ass`): the burn-in, carrying the configured style (render.subtitles: font, size,
  colours, outline, shadow, margins, position) in a 384x288 script, the script FFmpeg makes of an SRT,
  so sizes and margins mean what they meant when the burn-in styled an SRT (qc/text_fit.py).

Cue text is made safe here, whatever reached the writer (the schemas already refuse such text at the
edge): every cue is one line of plain text, shown literally in every format.

- Control characters, bidirectional controls and line breaks become spaces, and runs of white space
  one space: a cue can never hold a blank line, a second line or a line that starts another cue.
- SRT: `-->` gets a WORD JOINER (U+2060, invisible) inside it, and so does every `:` between digits:
  FFmpeg's SRT reader starts a new cue at any line that parses as a timing, and pysubs2's reader at
  any line that holds two timestamps, even without a blank line before it. Markup is shown as text,
  not obeyed: a WORD JOINER follows every `<`, `{` and `\\`, so FFmpeg's SubRip decoder reads no
  `<i>`, `<font ...>`, `{\\an8}` or `{\\pos(...)}`, and no `\\N` line break.
- WebVTT: `&`, `<` and `>` are written as character references (so no tag and no `-->` in a cue), and
  `:` between digits and every `\\` get the joiner as in SRT (pysubs2 writes `\\N` as a line break).
- ASS: `{` and `}` are written `\\{` and `\\}` (libass draws them, opens no override block) and a
  WORD JOINER follows every `\\` of the text (no `\\N`, `\\h` or `\\{` of its own). A CJK line too
  wide for the frame is broken with `\\N` between two characters (`lines_of`: qc.text_fit.cjk_lines),
  since libass wraps an ASS file's lines only at spaces. Times are centiseconds, as the format has
  them (rounded: within 5 ms of the cue).

On screen the text is what was written; in the files and the soft track the joiners are there.
`parse_srt`, `parse_vtt` and `parse_ass` read a file with pysubs2 and undo exactly these escapes, so
`parse_srt(format_srt(cues))` gives the cues back.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pysubs2

WORD_JOINER = "\u2060"
# Replaced by a space: C0/C1 controls (NUL, ESC, DEL, NEL...), line/paragraph separators, bidi controls.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_MARKUP = re.compile(r"([<{\\])")
_ARROW = "-->"
_JOINED_ARROW = "--" + WORD_JOINER + ">"
_TIME_COLON = re.compile(r"(?<=\d):(?=\d)")
_JOINED_MARKUP = re.compile(r"([<{\\])" + WORD_JOINER)
_JOINED_COLON = re.compile(r"(?<=\d):" + WORD_JOINER + r"(?=\d)")
_ASS_ESCAPED = re.compile(r"\\([{}])|\\" + WORD_JOINER)

# The script the ASS is written in: FFmpeg's for SRT (libavcodec/ass.h ASS_DEFAULT_PLAYRESX/Y).
PLAY_RES_X = 384
PLAY_RES_Y = 288
# render.subtitles.position -> ASS (numpad) alignment, centred horizontally.
ALIGNMENT = {"bottom": pysubs2.Alignment.BOTTOM_CENTER, "middle": pysubs2.Alignment.MIDDLE_CENTER,
             "top": pysubs2.Alignment.TOP_CENTER}


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class SubtitleStyle:
    """The burn-in style (render.subtitles less soft/burn; config/models.py SubtitleConfig validates it)."""

    font_size: float = 12
    primary_colour: str = "&H00FFFFFF"
    outline_colour: str = "&HA0000000"
    back_colour: str = "&H00000000"
    border_style: int = 1
    outline: float = 1.8
    shadow: float = 0.8
    position: str = "bottom"
    margin_l: int = 10
    margin_r: int = 10
    margin_v: int = 78
    font: str | None = None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> "SubtitleStyle":
        """From a spec's `subtitles` dict (SubtitleConfig.model_dump): the switches are left out."""
        fields = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in fields})


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


def one_line(text: str) -> str:
    """The cue's text as one line: no controls, no line breaks, single spaces."""
    return " ".join(_UNSAFE.sub(" ", text).split())


def cue_text(text: str) -> str:
    """One line of SRT content that FFmpeg and pysubs2 show as `text` (see the module's docstring)."""
    line = _MARKUP.sub(r"\1" + WORD_JOINER, one_line(text)).replace(_ARROW, _JOINED_ARROW)
    return _TIME_COLON.sub(":" + WORD_JOINER, line)


def vtt_text(text: str) -> str:
    """One line of WebVTT cue text shown as `text`: character references for & < >."""
    line = html.escape(one_line(text), quote=False).replace("\\", "\\" + WORD_JOINER)
    return _TIME_COLON.sub(":" + WORD_JOINER, line)


def ass_text(text: str, lines_of: Callable[[str], Sequence[str]] | None = None) -> str:
    """An ASS Dialogue's text that libass draws as `text`, in the lines `lines_of` breaks it into."""
    line = one_line(text)
    return "\\N".join(part.replace("\\", "\\" + WORD_JOINER).replace("{", "\\{").replace("}", "\\}")
                       for part in (lines_of(line) if lines_of and line else [line]))


def _subs(cues: Sequence[Cue], text_of) -> pysubs2.SSAFile:  # noqa: ANN001 - str -> str
    """The cues as pysubs2 events (millisecond times); a cue left blank is dropped."""
    subs = pysubs2.SSAFile()
    for cue in cues:
        text = text_of(cue.text)
        if text:
            subs.append(pysubs2.SSAEvent(start=round(cue.start * 1000), end=round(cue.end * 1000), text=text))
    return subs


def format_srt(cues: Sequence[Cue]) -> str:
    """The SRT of `cues`: one numbered block per cue with text to show."""
    return _subs(cues, cue_text).to_string("srt", keep_ssa_tags=True)


def format_vtt(cues: Sequence[Cue]) -> str:
    """The WebVTT of `cues` (a numbered cue each, as the SRT)."""
    return _subs(cues, vtt_text).to_string("vtt", keep_ssa_tags=True)


def _colour(value: str) -> pysubs2.Color:
    """ASS &HAABBGGRR as a pysubs2 Color."""
    aabbggrr = int(value[2:], 16)
    return pysubs2.Color(r=aabbggrr & 0xFF, g=aabbggrr >> 8 & 0xFF, b=aabbggrr >> 16 & 0xFF, a=aabbggrr >> 24 & 0xFF)


def ass_style(style: SubtitleStyle, language: str) -> pysubs2.SSAStyle:
    """The ASS style of the burn-in: FFmpeg's default style for an SRT with the configured fields set
    (what `force_style` used to do), the font the configured one or the language's bundled face."""
    from .fonts import font_family

    return pysubs2.SSAStyle(
        fontname=style.font or font_family(language), fontsize=float(style.font_size),
        primarycolor=_colour(style.primary_colour), secondarycolor=_colour("&H00FFFFFF"),
        outlinecolor=_colour(style.outline_colour), backcolor=_colour(style.back_colour),
        bold=False, italic=False, underline=False, strikeout=False, scalex=100.0, scaley=100.0, spacing=0.0,
        angle=0.0, borderstyle=style.border_style, outline=float(style.outline), shadow=float(style.shadow),
        alignment=ALIGNMENT[style.position], marginl=style.margin_l, marginr=style.margin_r,
        marginv=style.margin_v, encoding=1)


def format_ass(cues: Sequence[Cue], style: SubtitleStyle, language: str,
               lines_of: Callable[[str], Sequence[str]] | None = None) -> str:
    """The ASS of `cues` in `style`: the header FFmpeg writes for an SRT (384x288, scaled borders, no
    colour matrix), one "Default" style, one Dialogue per cue (its lines broken by `lines_of`)."""
    subs = _subs(cues, lambda text: ass_text(text, lines_of))
    subs.info = {"PlayResX": str(PLAY_RES_X), "PlayResY": str(PLAY_RES_Y), "ScaledBorderAndShadow": "yes",
                 "YCbCr Matrix": "None", "WrapStyle": "0"}
    subs.styles = {"Default": ass_style(style, language)}
    return subs.to_string("ass")


def write_episode_subtitles(cues: Sequence[Cue], style: SubtitleStyle, language: str, srt: str | Path,
                            vtt: str | Path, ass: str | Path, lines_of: Callable[[str], Sequence[str]] | None = None) -> None:
    """The episode's three subtitle files, each written atomically."""
    from .media import write_text_atomic

    write_text_atomic(srt, format_srt(cues))
    write_text_atomic(vtt, format_vtt(cues))
    write_text_atomic(ass, format_ass(cues, style, language, lines_of))


def _cues(text: str, format_: str, plain, **options: Any) -> list[Cue]:  # noqa: ANN001 - str -> str
    subs = pysubs2.SSAFile.from_string(text, format_=format_, **options)
    return [Cue(e.start / 1000, e.end / 1000, plain(e.text)) for e in subs if not e.is_comment]


def _plain_srt(content: str) -> str:
    content = content.replace("\\N", "\n")  # pysubs2 reads a line break as \N
    return _JOINED_COLON.sub(":", _JOINED_MARKUP.sub(r"\1", content).replace(_JOINED_ARROW, _ARROW))


def parse_srt(text: str) -> list[Cue]:
    """The cues of an SRT file (read by pysubs2, tags kept as text); blocks that are not cues are skipped."""
    return _cues(text, "srt", _plain_srt, keep_html_tags=True)


def parse_vtt(text: str) -> list[Cue]:
    """The cues of a WebVTT file written by `format_vtt`."""
    return _cues(text, "vtt", lambda t: html.unescape(
        _JOINED_COLON.sub(":", t.replace("\\N", "\n")).replace("\\" + WORD_JOINER, "\\")), keep_html_tags=True)


def parse_ass(text: str) -> list[Cue]:
    """The cues of an ASS file written by `format_ass` (times to the centisecond; its line breaks,
    between CJK characters, taken out)."""
    return _cues(text, "ass", lambda t: _ASS_ESCAPED.sub(lambda m: m.group(1) or "\\", t.replace("\\N", "")))
