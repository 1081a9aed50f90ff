"""What goes over the finished picture: colour grade, vignette, name tags and the caption band.

Text is drawn at the output resolution, after the supersampled picture is reduced, so
glyphs stay crisp and are not darkened by the vignette.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..fonts import font_path
from .colour import RGB

GRADES: dict[str, tuple[float, float, float]] = {
    "night": (0.86, 0.9, 1.08),
    "evening": (1.06, 0.95, 0.88),
    "morning": (1.04, 1.0, 0.95),
    "day": (1.0, 1.0, 1.0),
}


@dataclass(frozen=True)
class NameTag:
    name: str
    colour: RGB  # the character's identifying clothing colour, as a swatch on the label
    cx: float  # output pixels
    crown_y: float


@lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path()), max(6, size))


def grade(image: Image.Image, time: str) -> Image.Image:
    """Tint by time of day and darken the edges so the eye settles on the centre."""
    pixels = np.asarray(image, dtype=np.float32)
    h, w = pixels.shape[:2]
    ys = np.linspace(-1.0, 1.0, h, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, w, dtype=np.float32)[None, :]
    radius = np.sqrt(xs**2 * 0.9 + (ys * 0.92) ** 2)
    vignette = 1.0 - 0.42 * np.clip(radius - 0.35, 0, None) ** 1.6
    pixels = pixels * np.array(GRADES[time], np.float32)[None, None, :] * vignette[..., None]
    # A gentle S-curve gives the flat shapes some contrast.
    t = np.clip(pixels / 255.0, 0, 1)
    t = t + 0.12 * (t - 0.5) * (1 - np.abs(2 * t - 1))
    return Image.fromarray((np.clip(t, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _tokens(text: str) -> list[str]:
    """Words for Latin text, single characters for CJK, which wraps between any two glyphs."""
    return re.findall(r"\s+|[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+|.", text)


def wrap(text: str, face: ImageFont.FreeTypeFont, max_width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for token in _tokens(" ".join(text.split())):
        candidate = current + token
        if face.getlength(candidate.strip()) <= max_width or not current.strip():
            if face.getlength(candidate.strip()) > max_width and not token.isspace() and not _is_wide(token[0]):
                # A single word wider than the line: break it by characters rather than overflow.
                for char in token:
                    if face.getlength((current + char).strip()) > max_width and current.strip():
                        lines.append(current.strip())
                        current = ""
                    current += char
                continue
            current = candidate
        else:
            # CJK punctuation must not start a line; pull it back onto the previous one.
            if token in "，。、！？；：」』）》,.!?;:" and current.strip():
                current += token
                continue
            lines.append(current.strip())
            current = "" if token.isspace() else token
    if current.strip():
        lines.append(current.strip())
    return lines


def caption_band(image: Image.Image, caption: str) -> None:
    w, h = image.size
    face = font(round(w / 21))
    lines = wrap(caption, face, w * 0.86)
    if not lines:
        return
    max_lines = 4
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(1, len(lines[-1]) - 1)] + "…"
    ascent, descent = face.getmetrics()
    line_h = (ascent + descent) * 1.18
    pad = line_h * 0.45
    band_h = line_h * len(lines) + 2 * pad
    top = min(h * 0.755, h * 0.97 - band_h)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    # Feathered edges: nested bands, each inner one replacing the outer's opacity with a higher one.
    feather = int(pad)
    for i in range(feather):
        alpha = int(150 * (i + 1) / (feather + 1))
        draw.rectangle([0, top + i, w, top + band_h - i], fill=(8, 8, 14, alpha))
    draw.rectangle([0, top + feather, w, top + band_h - feather], fill=(8, 8, 14, 150))
    for i, line in enumerate(lines):
        y = top + pad + i * line_h
        x = (w - face.getlength(line)) / 2
        draw.text((x, y), line, font=face, fill=(250, 246, 236, 255), stroke_width=max(1, w // 480), stroke_fill=(0, 0, 0, 200))
    image.paste(Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB"))


def name_tags(image: Image.Image, tags: list[NameTag]) -> None:
    w, h = image.size
    face = font(round(w / 32))
    ascent, descent = face.getmetrics()
    text_h = ascent + descent
    pad_x, pad_y = text_h * 0.55, text_h * 0.22
    swatch = text_h * 0.5
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    placed: list[tuple[float, float, float, float]] = []
    for tag in sorted(tags, key=lambda t: t.cx):
        if not tag.name.strip():
            continue
        label_w = face.getlength(tag.name) + 2 * pad_x + swatch + pad_x * 0.5
        label_h = text_h + 2 * pad_y
        x0 = min(max(tag.cx - label_w / 2, w * 0.015), w * 0.985 - label_w)
        y0 = max(h * 0.012, tag.crown_y - label_h - h * 0.014)
        for box in placed:  # stack labels that would collide instead of printing names over names
            if x0 < box[2] and box[0] < x0 + label_w and y0 < box[3] and box[1] < y0 + label_h:
                y0 = box[1] - label_h - h * 0.006 if box[1] - label_h - h * 0.006 > h * 0.01 else box[3] + h * 0.006
        box = (x0, y0, x0 + label_w, y0 + label_h)
        placed.append(box)
        draw.rounded_rectangle(box, radius=label_h / 2,
            fill=(16, 16, 24, 178), outline=(255, 255, 255, 90), width=max(1, w // 540))
        sx, sy = x0 + pad_x, y0 + label_h / 2
        draw.ellipse([sx, sy - swatch / 2, sx + swatch, sy + swatch / 2], fill=(*tag.colour, 255), outline=(255, 255, 255, 200))
        draw.text((sx + swatch + pad_x * 0.5, y0 + pad_y), tag.name, font=face, fill=(255, 255, 255, 255))
    image.paste(Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB"))
