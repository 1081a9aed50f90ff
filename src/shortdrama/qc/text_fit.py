"""How wide libass draws a subtitle line, so QC can tell before the burn-in whether it fits the frame,
and where the episode's ASS breaks a CJK line that does not (`cjk_lines`).

The burn-in (render.py) draws the episode's ASS (subtitles.format_ass) with libass. It is written in
the 384 x 288 script (PlayResX x PlayResY) FFmpeg makes of an SRT, and libass:

- scales the font size by frame_height / 288, and asks FreeType for that size as the font's *real*
  height (FT_SIZE_REQUEST_TYPE_REAL_DIM: ascender - descender, with the ascender and descender
  replaced by OS/2 usWinAscent and usWinDescent as GDI does), so one em is
  size * unitsPerEm / (usWinAscent + usWinDescent) pixels: 0.68 of the size for Noto Sans CJK;
- shapes without kerning (FFmpeg's script header does not ask for it);
- places margins, outline and shadow in script units scaled by frame_width / 384;
- wraps a line once the ink of its glyphs (their boxes, not the border) reaches the width between
  the margins, at a space. Between CJK characters it breaks only a converted SRT (FFmpeg and mpv turn
  on ASS_FEATURE_WRAP_UNICODE for those, never for an ASS file), so the ASS breaks a CJK line that
  does not fit itself, with `\\N`, where `cjk_lines` says: balanced lines, none before closing or
  after opening punctuation, each narrower than the room (the burn then looks as the SRT's did).

These rules were checked against the real burn (tests/unit/test_qc_text_fit.py measures the drawn
ink on a frame): the ink matched within 0.4 % for Latin, CJK and Vietnamese lines at 720x1280
(outline 0 and 2) and 1080x1920, and a line wraps exactly where `fits` says it stops fitting.
The width comes from the font file itself (Pillow/HarfBuzz on the bundled face), never from a
count of characters.
"""

from __future__ import annotations

import re
import struct
from functools import cache
from pathlib import Path

from PIL import ImageFont

from ..errors import MediaError
from ..fonts import font_path
from ..subtitles import WORD_JOINER

# The script FFmpeg writes for SRT input (libavcodec/ass.h ASS_DEFAULT_PLAYRESX / PLAYRESY).
PLAY_RES_X = 384
PLAY_RES_Y = 288
# FFmpeg's default style's MarginL and MarginR, in script units.
DEFAULT_MARGIN = 10
# Pillow renders the line at this em size and the ink is scaled down: 1/256 em is a sixth of a pixel
# at a 720x1280 burn, and rendering at one size keeps the result independent of hinting at small sizes.
REFERENCE_EM_PX = 256
# A rendered line stays under this many pixels wide however long it is (the reference size shrinks).
MAX_RENDER_WIDTH = 16384


def em_px(font_size: float, frame_height: int, font: Path | None = None) -> float:
    """Pixels per em that libass uses for `FontSize=font_size` on a frame `frame_height` pixels high."""
    units_per_em, real_height_units = _font_metrics(str(font or font_path()))
    return font_size * frame_height / PLAY_RES_Y * units_per_em / real_height_units


def glyph_ink_width_px(text: str, *, font_size: float, frame_height: int, font: Path | None = None) -> float:
    """The width of the glyphs' ink (no border): what libass compares with the margins to wrap.

    Text on several lines (a newline) is measured by its widest line.
    """
    lines = [line for line in text.replace(WORD_JOINER, "").splitlines() if line.strip()]
    if not lines:
        return 0.0
    path = str(font or font_path())
    return max(_ink_width_at_reference(line, path) for line in lines) * em_px(font_size, frame_height, font)


def line_width_px(text: str, *, font_size: float, frame_width: int, frame_height: int, outline: float = 0.0,
                  shadow: float = 0.0, font: Path | None = None) -> float:
    """The width libass draws `text` at, outline (on both sides) and shadow (to one side) included."""
    ink = glyph_ink_width_px(text, font_size=font_size, frame_height=frame_height, font=font)
    if ink == 0.0:
        return 0.0
    return ink + (2 * outline + abs(shadow)) * frame_width / PLAY_RES_X


def available_width_px(frame_width: int, frame_height: int, margin_l: float = DEFAULT_MARGIN,
                       margin_r: float = DEFAULT_MARGIN) -> float:
    """The width between the left and right margins, in frame pixels.

    Margins are script units, scaled by frame_width / PlayResX; the frame's height does not enter
    (it is taken so every function here is called with the same frame size).
    """
    del frame_height
    return (PLAY_RES_X - margin_l - margin_r) * frame_width / PLAY_RES_X


def fits(text: str, *, font_size: float, frame_width: int, frame_height: int, margin_l: float = DEFAULT_MARGIN,
         margin_r: float = DEFAULT_MARGIN, font: Path | None = None) -> tuple[bool, float, float]:
    """(whether libass keeps `text` on one line between the margins, its glyph ink width, the available width).

    libass's own test: it wraps the line once the glyphs' ink reaches the available width. The
    border is not part of that test.
    """
    width = glyph_ink_width_px(text, font_size=font_size, frame_height=frame_height, font=font)
    available = available_width_px(frame_width, frame_height, margin_l, margin_r)
    return width < available, width, available


# No line starts with these (closing punctuation, small kana) or ends with the opening ones: UAX #14's
# CL/CP/EX/IS/NS and OP classes as they occur in CJK dialogue.
_NO_BREAK_BEFORE = set("，。、！？：；）」』】〉》〕］｝…‥—～·・ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮ,.!?:;)]}%'\"”’")
_NO_BREAK_AFTER = set("（「『【〈《〔［｛“‘([{")
_CJK_CHAR = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")


def _break_points(text: str) -> list[int]:
    """Indices between two characters where a CJK line may break with no space (UAX #14, simplified)."""
    return [i for i in range(1, len(text))
            if (_CJK_CHAR.match(text[i - 1]) or _CJK_CHAR.match(text[i])) and not text[i - 1].isspace()
            and not text[i].isspace() and text[i] not in _NO_BREAK_BEFORE and text[i - 1] not in _NO_BREAK_AFTER]


def cjk_lines(text: str, *, font_size: float, frame_width: int, frame_height: int, margin_l: float = DEFAULT_MARGIN,
              margin_r: float = DEFAULT_MARGIN, font: Path | None = None, max_lines: int = 4) -> list[str]:
    """`text` as the lines the ASS shows it in: itself when it fits (or has no CJK break point), else
    the fewest balanced lines, broken between CJK characters, whose ink each fits between the margins."""
    room = available_width_px(frame_width, frame_height, margin_l, margin_r)

    def ink(line: str) -> float:
        return glyph_ink_width_px(line, font_size=font_size, frame_height=frame_height, font=font)

    points = _break_points(text)
    if not points or ink(text) < room:
        return [text]
    # Lines are balanced by their advance widths (additive: no kerning, CJK shapes one glyph a
    # character), then each is checked by its ink; a little less room is tried if one does not fit.
    path = str(font or font_path())
    reference = _reference_font(path, REFERENCE_EM_PX)
    features = ["-kern"] if _has_harfbuzz() else None
    px = em_px(font_size, frame_height, font) / REFERENCE_EM_PX
    cuts = [0, *points, len(text)]
    advance = [reference.getlength(text[:cut], features=features) * px for cut in cuts]
    for slack in (0.98, 0.95, 0.92, 0.89):
        for count in range(2, max_lines + 1):
            ends = _balanced(advance, count, room * slack)
            if ends:
                lines = [text[cuts[a]:cuts[b]] for a, b in zip((0, *ends[:-1]), ends)]
                if all(ink(line) < room for line in lines):
                    return lines
                break
    return [text]  # too long for max_lines: libass shows one line past the margins (QC flags its width)


def _balanced(advance: list[float], count: int, room: float) -> tuple[int, ...] | None:
    """The cut indices (the last one the end) splitting into `count` lines with the narrowest widest
    line, each under `room`; None when there is no such split."""
    last = len(advance) - 1
    best: dict[int, tuple[float, tuple[int, ...]]] = {0: (0.0, ())}
    for _ in range(count):
        row: dict[int, tuple[float, tuple[int, ...]]] = {}
        for j in range(1, last + 1):
            for i, (widest, ends) in best.items():
                line = advance[j] - advance[i]
                if i < j and line < room and (j not in row or max(widest, line) < row[j][0]):
                    row[j] = (max(widest, line), (*ends, j))
        best = row
    return best[last][1] if last in best else None


def _ink_width_at_reference(line: str, path: str) -> float:
    """The ink width of one line in ems, rendered with HarfBuzz (when Pillow has it) and no kerning."""
    size = max(16, min(REFERENCE_EM_PX, MAX_RENDER_WIDTH // max(1, len(line))))
    font = _reference_font(path, size)
    features = ["-kern"] if _has_harfbuzz() else None
    box = font.getmask(line, features=features).getbbox()
    return (box[2] - box[0]) / size if box else 0.0


@cache
def _has_harfbuzz() -> bool:
    """Pillow shapes with HarfBuzz (raqm) as libass does; without it, kerning cannot be switched off."""
    from PIL import features

    return bool(features.check_feature("raqm"))


@cache
def _reference_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@cache
def _font_metrics(path: str) -> tuple[int, int]:
    """(unitsPerEm, the height libass sizes the font by) from the font's head, OS/2 and hhea tables.

    libass takes usWinAscent + usWinDescent; where those are zero, the typographic ascender and
    descender; then hhea's (FreeType's own default).
    """
    tables = _sfnt_tables(Path(path))
    units_per_em = struct.unpack(">H", tables["head"][18:20])[0]
    heights = []
    if "OS/2" in tables and len(tables["OS/2"]) >= 78:
        os2 = tables["OS/2"]
        typo_ascender, typo_descender = struct.unpack(">hh", os2[68:72])
        win_ascent, win_descent = struct.unpack(">hh", os2[74:78])  # unsigned in the spec, signed in GDI
        heights += [win_ascent + win_descent, typo_ascender - typo_descender]
    hhea_ascender, hhea_descender = struct.unpack(">hh", tables["hhea"][4:8])
    heights.append(hhea_ascender - hhea_descender)
    real_height = next((h for h in heights if h > 0), units_per_em)
    return units_per_em, real_height


def _sfnt_tables(path: Path) -> dict[str, bytes]:
    """The head, hhea and OS/2 tables of a TrueType or OpenType (CFF) font file."""
    data = path.read_bytes()
    if data[:4] not in (b"\x00\x01\x00\x00", b"OTTO", b"true"):
        raise MediaError(f"cannot read the metrics of {path}: not a single TrueType/OpenType font")
    (count,) = struct.unpack(">H", data[4:6])
    tables = {}
    for index in range(count):
        tag, _, offset, length = struct.unpack(">4sIII", data[12 + 16 * index:28 + 16 * index])
        name = tag.decode("latin-1")
        if name in ("head", "hhea", "OS/2"):
            tables[name] = data[offset:offset + length]
    if "head" not in tables or "hhea" not in tables:
        raise MediaError(f"cannot read the metrics of {path}: it has no head or hhea table")
    return tables
