"""What the set painters share: the palette of a place, the canvas being dressed (`Stage`), and the
two light primitives both the backdrop and the props paint with.

backdrops.py lays out the set and hands the `Stage` to props.py, which dresses it; both import from
here, so neither imports the other back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from .colour import RGB, shade


@dataclass(frozen=True)
class Palette:
    time: str
    sky_top: RGB
    sky_horizon: RGB
    light: RGB
    wall: RGB
    floor: RGB
    trim: RGB
    accent: RGB
    accent2: RGB
    ambient: float


@dataclass
class Stage:
    """A canvas being dressed, with what every prop painter needs to fit in."""

    image: Image.Image
    draw: ImageDraw.ImageDraw
    palette: Palette
    place: str  # lower-cased place text, for keyword props
    horizon: float  # canvas y where wall meets floor, or sky meets ground
    window_left: bool
    rng: np.random.Generator

    @property
    def w(self) -> int:
        return self.image.width

    @property
    def h(self) -> int:
        return self.image.height

    def lit(self, colour: RGB) -> RGB:
        return shade(colour, self.palette.ambient)


def vertical_gradient(width: int, height: int, top: RGB, bottom: RGB, curve: float = 1.0) -> Image.Image:
    t = np.linspace(0.0, 1.0, max(1, height), dtype=np.float32) ** curve
    column = np.array(top, np.float32)[None, :] * (1 - t[:, None]) + np.array(bottom, np.float32)[None, :] * t[:, None]
    return Image.fromarray(np.repeat(column[:, None, :], max(1, width), axis=1).astype(np.uint8), "RGB")


def add_glow(image: Image.Image, centre: tuple[float, float], radius: float, colour: RGB, strength: float) -> None:
    """Screen-blend a soft round light onto `image` in place."""
    cx, cy = centre
    x0, x1 = max(0, int(cx - radius)), min(image.width, int(cx + radius) + 1)
    y0, y1 = max(0, int(cy - radius)), min(image.height, int(cy + radius) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    # The falloff is smooth, so it is computed on a coarse grid and stretched.
    step = max(1, int(radius / 48))
    ys, xs = np.mgrid[y0:y1:step, x0:x1:step].astype(np.float32)
    falloff = np.clip(1 - np.hypot(xs - cx, ys - cy) / radius, 0, 1) ** 2 * strength
    glow = Image.fromarray((falloff * 255).astype(np.uint8), "L").resize((x1 - x0, y1 - y0), Image.BILINEAR)
    light = ImageChops.multiply(Image.new("RGB", glow.size, colour), Image.merge("RGB", (glow, glow, glow)))
    image.paste(ImageChops.screen(image.crop((x0, y0, x1, y1)), light), (x0, y0))
