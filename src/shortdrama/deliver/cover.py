"""An episode's cover: a keyframe filled to the platform's cover size, the episode title set in the
bundled font in the upper third (below the platform's top band), outlined so it reads on any picture;
and the description text (title, hook, cliffhanger) to paste beside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import MediaError
from ..media import atomic_output, write_text_atomic


@dataclass(frozen=True)
class TitleBox:
    left: int
    top: int
    right: int
    bottom: int
    lines: tuple[str, ...]
    size: int  # the font size used


def _wrap(text: str, font, width: int) -> list[str]:  # noqa: ANN001 - a PIL FreeTypeFont
    """Lines no wider than `width`: by words where the text has spaces, else by characters (CJK)."""
    units = text.split(" ") if " " in text.strip() else list(text)
    joiner = " " if " " in text.strip() else ""
    lines: list[str] = []
    for unit in units:
        trial = f"{lines[-1]}{joiner}{unit}" if lines else unit
        if lines and font.getlength(trial) <= width:
            lines[-1] = trial
        else:
            lines.append(unit)
    return lines


def draw_cover(keyframe: Path, title: str, width: int, height: int, top_ui: float, out: Path) -> TitleBox:
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    from ..fonts import font_path

    try:
        with Image.open(keyframe) as opened:
            picture = ImageOps.fit(opened.convert("RGB"), (width, height), Image.Resampling.LANCZOS)
    except OSError as error:
        raise MediaError(f"cover: cannot read the keyframe {Path(keyframe).name} ({error})") from None
    draw = ImageDraw.Draw(picture)
    room = int(width * 0.86)
    size = max(12, width // 11)
    while True:  # the largest size whose wrapped title takes at most three lines
        font = ImageFont.truetype(str(font_path()), size)
        lines = _wrap(title, font, room)
        if len(lines) <= 3 and all(font.getlength(line) <= room for line in lines) or size <= 12:
            break
        size = int(size * 0.9)
    stroke = max(2, size // 12)
    step = int(size * 1.25)
    top = int(height * top_ui) + int(height * 0.06)
    box = [width, top, 0, top]
    for index, line in enumerate(lines):
        left = (width - int(font.getlength(line))) // 2
        y = top + index * step
        draw.text((left, y), line, font=font, fill=(255, 255, 255), stroke_width=stroke, stroke_fill=(0, 0, 0))
        l, t, r, b = draw.textbbox((left, y), line, font=font, stroke_width=stroke)
        box = [min(box[0], l), min(box[1], t), max(box[2], r), max(box[3], b)]
    with atomic_output(out) as tmp:
        picture.save(tmp, format="JPEG", quality=92)
    return TitleBox(*box, lines=tuple(lines), size=size)


def description(series_title: str, episode: int, title: str, hook: str, cliffhanger: str) -> str:
    """The text for the platform's description box: the title, the hook that opens the episode and the
    cliffhanger it ends on."""
    return f"{series_title} · {episode}: {title}\n\n{hook}\n\n{cliffhanger}\n"


def write_description(path: Path, text: str) -> None:
    write_text_atomic(path, text)
