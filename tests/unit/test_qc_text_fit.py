"""The predicted subtitle width against what FFmpeg + libass really burn with the bundled font, from
the episode's ASS as render.py burns it."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest

from shortdrama.fonts import font_dir
from shortdrama.media import run_ffmpeg
from shortdrama.qc.text_fit import available_width_px, cjk_lines, em_px, fits, glyph_ink_width_px, line_width_px
from shortdrama.subtitles import Cue, SubtitleStyle, format_ass

WIDTH, HEIGHT = 720, 1280
FONT_SIZE = 12
INK = 60  # grey level above which a pixel of the white-on-black burn counts as ink
LATIN = "I know what you did last summer."
CJK = "你到底是谁？我们认识吗"
WORDS = "I know what you did last summer and then you ran away from all of us without a word".split()


def burn(work: Path, lines: list[str], *, outline: float = 0.0, width: int = WIDTH, height: int = HEIGHT) -> list[np.ndarray]:
    """Burn each line (one cue a second) as render.py does, white on black; one grey frame per line."""
    style = SubtitleStyle(font_size=FONT_SIZE, outline=outline, shadow=0.0, border_style=1,
                          primary_colour="&H00FFFFFF", outline_colour="&H00FFFFFF")
    lines_of = partial(cjk_lines, font_size=FONT_SIZE, frame_width=width, frame_height=height)  # as write_subtitles
    cues = [Cue(i, i + 1, text) for i, text in enumerate(lines)]
    (work / "lines.ass").write_text(format_ass(cues, style, "en", lines_of), encoding="utf-8")
    fonts = work / "fonts"
    if not fonts.exists():
        fonts.symlink_to(font_dir())  # a plain relative path: nothing to escape in the filtergraph
    run_ffmpeg(["-f", "lavfi", "-i", f"color=black:s={width}x{height}:r=2:d={len(lines)}",
                "-vf", "ass=lines.ass:fontsdir=fonts",
                "-f", "rawvideo", "-pix_fmt", "gray", "frames.gray"], cwd=work)
    frames = np.fromfile(work / "frames.gray", np.uint8).reshape(-1, height, width)
    return [frames[2 * i + 1] for i in range(len(lines))]  # the frame half-way through each cue


def ink_extent(frame: np.ndarray, axis: int) -> tuple[int, int]:
    """First and last ink column (axis=0) or row (axis=1)."""
    found = np.flatnonzero(frame.max(axis=axis) > INK)
    assert found.size, "nothing was drawn"
    return int(found[0]), int(found[-1])


def ink_width(frame: np.ndarray) -> int:
    left, right = ink_extent(frame, 0)
    return right - left + 1


@pytest.mark.parametrize("outline", [0.0, 2.0])
def test_the_predicted_width_matches_the_burned_ink(tmp_path, outline):
    texts = [LATIN, CJK, "Wow, it's you!", "Tôi biết anh đã làm gì."]
    for text, frame in zip(texts, burn(tmp_path, texts, outline=outline)):
        predicted = line_width_px(text, font_size=FONT_SIZE, frame_width=WIDTH, frame_height=HEIGHT, outline=outline)
        assert predicted == pytest.approx(ink_width(frame), rel=0.08), text


def test_the_prediction_holds_on_a_1080p_frame(tmp_path):
    frame, = burn(tmp_path, [LATIN], width=1080, height=1920)
    predicted = line_width_px(LATIN, font_size=FONT_SIZE, frame_width=1080, frame_height=1920)
    assert predicted == pytest.approx(ink_width(frame), rel=0.08)


def test_libass_wraps_exactly_where_fits_says(tmp_path):
    """A Latin line just under the available width stays one line; one just over wraps at a space."""
    available = available_width_px(WIDTH, HEIGHT)
    prefixes = [" ".join(WORDS[:n]) for n in range(1, len(WORDS) + 1)]
    widths = {p: glyph_ink_width_px(p, font_size=FONT_SIZE, frame_height=HEIGHT) for p in prefixes}
    one_line = max((p for p in prefixes if widths[p] < 0.99 * available), key=len)
    too_long = min((p for p in prefixes if widths[p] > 1.01 * available), key=len)
    assert fits(one_line, font_size=FONT_SIZE, frame_width=WIDTH, frame_height=HEIGHT)[0]
    assert not fits(too_long, font_size=FONT_SIZE, frame_width=WIDTH, frame_height=HEIGHT)[0]

    line_height = em_px(FONT_SIZE, HEIGHT)
    kept, wrapped = burn(tmp_path, [one_line, too_long])
    top, bottom = ink_extent(kept, 1)
    assert bottom - top < 1.5 * line_height
    left, right = ink_extent(kept, 0)
    margin = WIDTH - available
    assert left >= margin / 2 - 1 and right <= WIDTH - margin / 2 + 1
    top, bottom = ink_extent(wrapped, 1)
    assert bottom - top > 1.5 * line_height


def test_a_cjk_line_that_does_not_fit_is_broken_between_characters(tmp_path):
    long = "你到底是谁我们认识吗为什么要这样对我" * 2 + "你说啊快说"
    assert not fits(long, font_size=FONT_SIZE, frame_width=WIDTH, frame_height=HEIGHT)[0]
    frame, = burn(tmp_path, [long])
    top, bottom = ink_extent(frame, 1)
    assert bottom - top > 1.5 * em_px(FONT_SIZE, HEIGHT)


def test_long_lines_do_not_fit_and_short_ones_do():
    frame = {"font_size": FONT_SIZE, "frame_width": WIDTH, "frame_height": HEIGHT}
    for short in ("I know what you did.", "你到底是谁？"):
        ok, width, available = fits(short, **frame)
        assert ok and 0 < width < available, short
    for long in (" ".join(WORDS), "你到底是谁我们认识吗为什么要这样对我" * 2 + "你说啊快说"):
        assert len(long) >= 40
        ok, width, available = fits(long, **frame)
        assert not ok and width > available, long


def test_outline_widens_the_drawn_line_but_not_the_wrap_test():
    frame = {"font_size": FONT_SIZE, "frame_width": WIDTH, "frame_height": HEIGHT}
    plain = line_width_px(LATIN, **frame)
    assert line_width_px(LATIN, **frame, outline=1.8) == pytest.approx(plain + 2 * 1.8 * WIDTH / 384)
    assert fits(LATIN, **frame)[1] == pytest.approx(plain)
    assert line_width_px("", **frame, outline=1.8) == 0.0
    assert line_width_px(f"{LATIN}\nshort", **frame) == pytest.approx(plain)  # a second line: the widest counts


def test_the_size_follows_the_frame_height_and_the_margins_its_width():
    assert em_px(24, HEIGHT) == pytest.approx(2 * em_px(12, HEIGHT))
    assert em_px(12, 1920) == pytest.approx(1.5 * em_px(12, HEIGHT))
    assert available_width_px(WIDTH, HEIGHT) == pytest.approx((384 - 20) * WIDTH / 384)
    assert available_width_px(WIDTH, HEIGHT, margin_l=30, margin_r=30) == pytest.approx((384 - 60) * WIDTH / 384)
