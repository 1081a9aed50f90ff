"""Colour arithmetic, stable hashing and a fast soft blur shared by the keyframe drawing modules.

Python's own hash() is salted per process, so everything that must look the same on
every run (a character's default colours, a location's palette) hashes through blake2b.
"""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image, ImageFilter

RGB = tuple[int, int, int]


def stable_int(*parts: object) -> int:
    text = "\x1f".join(str(part) for part in parts)
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def stable_unit(*parts: object) -> float:
    """A number in [0, 1) fixed by `parts`."""
    return stable_int(*parts) / 2**64


def stable_choice(options, *parts: object):
    return options[stable_int(*parts) % len(options)]


def rng_for(*parts: object) -> np.random.Generator:
    return np.random.default_rng(stable_int(*parts))


def clamp_channel(value: float) -> int:
    return max(0, min(255, int(round(value))))


def shade(colour: RGB, factor: float) -> RGB:
    """Darken (factor < 1) or lighten towards white (factor > 1) keeping the hue."""
    if factor <= 1:
        return tuple(clamp_channel(c * factor) for c in colour)  # type: ignore[return-value]
    return mix(colour, (255, 255, 255), min(1.0, factor - 1))


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(clamp_channel(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def with_alpha(colour: RGB, alpha: float) -> tuple[int, int, int, int]:
    return (*colour, clamp_channel(alpha * 255))


def hue_of(colour: RGB) -> float | None:
    """Hue in degrees, or None for greys, whose hue carries no meaning."""
    r, g, b = (c / 255 for c in colour)
    high, low = max(r, g, b), min(r, g, b)
    if high - low < 0.08:
        return None
    span = high - low
    if high == r:
        hue = ((g - b) / span) % 6
    elif high == g:
        hue = (b - r) / span + 2
    else:
        hue = (r - g) / span + 4
    return hue * 60


def soft_blur(image: Image.Image, radius: float) -> Image.Image:
    """A Gaussian blur computed at reduced size: wide blurs are smooth, so the detail lost costs nothing."""
    factor = max(1, min(8, int(radius / 3)))
    if factor == 1:
        return image.filter(ImageFilter.GaussianBlur(radius))
    small = image.resize((max(1, image.width // factor), max(1, image.height // factor)), Image.BILINEAR, reducing_gap=None)
    small = small.filter(ImageFilter.GaussianBlur(radius / factor))
    return small.resize(image.size, Image.BILINEAR)
