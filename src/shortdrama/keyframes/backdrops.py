"""The set behind the characters: palette, walls and floor or sky and ground, light.

Everything here depends only on the setting and the place text, never on the scene's
seed, action or camera, so every scene at one location shares one recognisable set.
"""

from __future__ import annotations

import math
import re

import numpy as np
from PIL import Image, ImageDraw

from . import props
from .colour import RGB, mix, rng_for, shade, soft_blur, stable_choice, stable_unit, with_alpha
from .canvas import Palette, Stage, add_glow, vertical_gradient

TIMES = ("night", "morning", "evening", "day")
TIME_WORDS = {
    "night": r"night|midnight|夜|晚上|今晚|凌晨|đêm|khuya",
    "morning": r"morning|dawn|sunrise|早晨|清晨|早上|上午|晨|黎明|日出|sáng|bình minh|rạng đông",
    "evening": r"evening|dusk|sunset|twilight|黄昏|傍晚|夕阳|日落|hoàng hôn|chạng vạng|buổi tối|chiều tà",
}
SKIES: dict[str, tuple[RGB, RGB, RGB]] = {  # top, horizon, light
    "day": ((62, 122, 206), (178, 214, 240), (255, 246, 222)),
    "morning": ((112, 150, 210), (250, 212, 172), (255, 222, 170)),
    "evening": ((52, 48, 116), (250, 142, 78), (255, 170, 92)),
    "night": ((8, 12, 34), (34, 48, 94), (255, 198, 122)),
}
WALLS: list[RGB] = [(226, 212, 188), (182, 196, 170), (164, 182, 202), (204, 194, 184), (216, 172, 142),
                    (172, 202, 196), (198, 172, 182), (160, 120, 88)]
ACCENTS: list[RGB] = [(150, 40, 48), (28, 110, 120), (196, 150, 48), (40, 56, 110), (52, 108, 64), (110, 52, 100)]
RAIN = r"rain|storm|雨|mưa|bão"
# How much of the daylight reaches the set: the lamp carries the rest at night.
AMBIENT = {"day": 1.0, "morning": 0.94, "evening": 0.78, "night": 0.5}


def time_of_day(place: str) -> str:
    lowered = place.lower()
    for time, pattern in TIME_WORDS.items():
        if re.search(pattern, lowered):
            return time
    return "day"


def scene_palette(setting: str, place: str) -> Palette:
    time = time_of_day(place)
    sky_top, sky_horizon, light = SKIES[time]
    key = re.sub(r"\W+", " ", place.lower()).strip()
    wall = stable_choice(WALLS, key, "wall")
    if re.search(r"hospital|clinic|ward|医院|病房|诊所|bệnh viện|phòng bệnh|phòng khám", key):
        wall = (206, 222, 212)
    accent = stable_choice(ACCENTS, key, "accent")
    accent2 = stable_choice([c for c in ACCENTS if c != accent], key, "accent2")
    floor = stable_choice([(132, 92, 62), (160, 120, 84), (104, 78, 62), (178, 170, 160)], key, "floor")
    trim = mix(wall, (250, 246, 238), 0.55)
    return Palette(time, sky_top, sky_horizon, light, wall, floor, trim, accent, accent2, AMBIENT[time])


def paint_sky(stage: Stage, box: tuple[int, int, int, int], with_city: bool) -> None:
    """Sky, sun or moon, clouds and, seen through a window, a distant city: shared by windows and exteriors."""
    x0, y0, x1, y1 = box
    pal = stage.palette
    stage.image.paste(vertical_gradient(x1 - x0, y1 - y0, pal.sky_top, pal.sky_horizon, 0.8), (x0, y0))
    w, h = x1 - x0, y1 - y0
    rng = rng_for(stage.place, "sky", box)
    if pal.time == "night":
        for _ in range(int(w * h / 4000) + 6):
            sx, sy = x0 + rng.random() * w, y0 + rng.random() * h * 0.7
            r = 0.6 + rng.random() * 1.4 * stage.w / 1000
            stage.draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(236, 236, 255, int(120 + rng.random() * 120)))
        mx, my, mr = x0 + w * 0.72, y0 + h * 0.2, max(4.0, min(w, h) * 0.09)
        add_glow(stage.image, (mx, my), mr * 4, (120, 140, 200), 0.5)
        crescent = Image.new("L", (int(2 * mr) + 2, int(2 * mr) + 2), 0)
        moon_draw = ImageDraw.Draw(crescent)
        moon_draw.ellipse([0, 0, 2 * mr, 2 * mr], fill=255)
        moon_draw.ellipse([mr * 0.45, -mr * 0.1, mr * 2.25, mr * 1.7], fill=0)
        stage.image.paste((246, 240, 214), (int(mx - mr), int(my - mr)), crescent)
    else:
        sun_y = {"day": 0.18, "morning": 0.62, "evening": 0.72}[pal.time]
        sx, sy, sr = x0 + w * (0.25 if pal.time == "morning" else 0.7), y0 + h * sun_y, max(4.0, min(w, h) * 0.07)
        add_glow(stage.image, (sx, sy), sr * 7, pal.light, 0.7)
        stage.draw.ellipse([sx - sr, sy - sr, sx + sr, sy + sr], fill=mix(pal.light, (255, 255, 255), 0.5))
        cloud = Image.new("RGBA", (w, h), (0, 0, 0, 0))
        cloud_draw = ImageDraw.Draw(cloud)
        tint = mix((255, 255, 255), pal.light, 0.35 if pal.time != "day" else 0.05)
        for _ in range(3):
            cx, cy, cw = rng.random() * w, h * (0.12 + rng.random() * 0.4), w * (0.2 + rng.random() * 0.25)
            for _ in range(5):
                px, py = cx + (rng.random() - 0.5) * cw, cy + (rng.random() - 0.5) * cw * 0.15
                pr = cw * (0.12 + rng.random() * 0.12)
                cloud_draw.ellipse([px - pr, py - pr * 0.6, px + pr, py + pr * 0.6], fill=(*tint, 150))
        cloud = soft_blur(cloud, max(1.0, w * 0.012))
        stage.image.paste(cloud, (x0, y0), cloud)
    if with_city:
        paint_skyline(stage, (x0, y0, x1, y1), base_y=y1, max_height=h * 0.45, lit=pal.time in ("night", "evening"))


def paint_skyline(stage: Stage, box: tuple[int, int, int, int], base_y: float, max_height: float, lit: bool) -> None:
    x0, _, x1, _ = box
    pal = stage.palette
    rng = rng_for(stage.place, "skyline", box)
    far = mix(pal.sky_horizon, pal.sky_top, 0.45)
    near = shade(mix(pal.sky_top, (40, 44, 60), 0.6), 0.8)
    for layer, (depth, colour) in enumerate(((0.35, far), (0.0, near))):
        colour = mix(colour, (20, 22, 34), 0.25 * layer)
        x = x0 - rng.random() * 20
        while x < x1:
            bw = (x1 - x0) * (0.06 + rng.random() * 0.1)
            bh = max_height * (0.35 + rng.random() * 0.65) * (0.75 if layer == 0 else 1.0) + depth * max_height * 0.6
            top = base_y - bh
            stage.draw.rectangle([x, top, x + bw, base_y], fill=colour)
            if layer == 1:
                window = (255, 214, 140) if lit else mix(colour, pal.sky_horizon, 0.35)
                step = max(3.0, bw / 5)
                for wy in np.arange(top + step * 0.6, base_y - step * 0.5, step * 1.3):
                    for wx in np.arange(x + step * 0.5, x + bw - step * 0.6, step):
                        if rng.random() < (0.55 if lit else 0.8):
                            stage.draw.rectangle([wx, wy, wx + step * 0.45, wy + step * 0.6], fill=window)
            x += bw + (x1 - x0) * 0.01 * rng.random()


def paint_rain(image: Image.Image, place: str, box: tuple[int, int, int, int], density: float) -> None:
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    rng = rng_for(place, "rain", box)
    x0, y0, x1, y1 = box
    length = image.height * 0.035
    for _ in range(int((x1 - x0) * (y1 - y0) / 2500 * density)):
        x, y = x0 + rng.random() * (x1 - x0), y0 + rng.random() * (y1 - y0)
        draw.line([x, y, x - length * 0.18, y + length],
            fill=(210, 220, 240, int(60 + rng.random() * 80)), width=max(1, image.width // 500))
    image.paste(overlay, (0, 0), overlay)


def _interior(stage: Stage) -> None:
    pal, w, h, horizon = stage.palette, stage.w, stage.h, stage.horizon
    wall_top = shade(stage.lit(pal.wall), 0.8)
    stage.image.paste(vertical_gradient(w, int(horizon), wall_top, stage.lit(pal.wall), 0.7), (0, 0))
    stage.draw.rectangle([0, 0, w, h * 0.045], fill=shade(wall_top, 0.8))
    stage.draw.rectangle([0, h * 0.045, w, h * 0.055], fill=stage.lit(pal.trim))
    floor_far, floor_near = stage.lit(shade(pal.floor, 0.85)), stage.lit(shade(pal.floor, 1.08))
    stage.image.paste(vertical_gradient(w, h - int(horizon), floor_far, floor_near), (0, int(horizon)))
    seam = shade(floor_far, 0.78)
    vp_x, vp_y = w * (0.35 + 0.3 * stable_unit(stage.place, "vp")), horizon - h * 0.3
    for i in range(-6, 17):
        bx = w * i / 10
        hx = vp_x + (bx - vp_x) * (horizon - vp_y) / (h - vp_y)
        stage.draw.line([hx, horizon, bx, h], fill=seam, width=max(1, w // 400))
    for k in range(1, 8):
        y = horizon + (h - horizon) * (k / 8) ** 1.7
        stage.draw.line([0, y, w, y], fill=seam, width=max(1, w // 500))
    stage.draw.rectangle([0, horizon - h * 0.016, w, horizon], fill=stage.lit(shade(pal.trim, 0.92)))

    win_x0, win_x1 = (w * 0.07, w * 0.45) if stage.window_left else (w * 0.55, w * 0.93)
    win = (int(win_x0), int(h * 0.14), int(win_x1), int(h * 0.42))
    paint_sky(stage, win, with_city=True)
    if re.search(RAIN, stage.place):
        paint_rain(stage.image, stage.place, win, 3.0)
    frame = stage.lit(pal.trim)
    fw = max(2, w // 90)
    stage.draw.rectangle(win, outline=frame, width=fw)
    stage.draw.line([(win[0] + win[2]) / 2, win[1], (win[0] + win[2]) / 2, win[3]], fill=frame, width=fw)
    stage.draw.line([win[0], (win[1] + win[3]) / 2, win[2], (win[1] + win[3]) / 2], fill=frame, width=fw)
    stage.draw.rectangle([win[0] - fw * 2, win[3], win[2] + fw * 2, win[3] + fw * 2], fill=shade(frame, 0.9))
    curtain = stage.lit(pal.accent)
    for side, x in ((0, win[0]), (1, win[2])):
        cw = (win[2] - win[0]) * 0.2
        cx0 = x - cw * 0.7 if side == 0 else x - cw * 0.3
        stage.draw.rectangle([cx0, h * 0.11, cx0 + cw, h * 0.48], fill=curtain)
        for f in range(1, 4):
            fx = cx0 + cw * f / 4
            stage.draw.line([fx, h * 0.11, fx, h * 0.48], fill=shade(curtain, 0.75), width=max(1, w // 300))
    stage.draw.rectangle([win[0] - (win[2] - win[0]) * 0.2, h * 0.105, win[2] + (win[2] - win[0]) * 0.2, h * 0.115],
        fill=(70, 60, 52))
    if pal.time in ("day", "morning"):
        beam = Image.new("RGBA", stage.image.size, (0, 0, 0, 0))
        shift = w * 0.35 * (1 if stage.window_left else -1)
        ImageDraw.Draw(beam).polygon([(win[0], win[3]), (win[2], win[3]), (win[2] + shift, h * 0.98), (win[0] + shift, h * 0.98)],
            fill=with_alpha(pal.light, 0.16))
        beam = soft_blur(beam, w * 0.02)
        stage.image.paste(beam, (0, 0), beam)
    props.dress_interior(stage)


def _exterior(stage: Stage) -> None:
    pal, w, h, horizon = stage.palette, stage.w, stage.h, stage.horizon
    paint_sky(stage, (0, 0, w, int(horizon)), with_city=False)
    paint_skyline(stage, (0, 0, w, int(horizon)), base_y=horizon, max_height=h * 0.3, lit=pal.time in ("night", "evening"))
    props.dress_exterior(stage)
    if re.search(RAIN, stage.place):
        paint_rain(stage.image, stage.place, (0, 0, w, h), 2.0)
    if re.search(r"snow|雪|tuyết", stage.place):
        rng = rng_for(stage.place, "snow")
        for _ in range(int(w * h / 3000)):
            x, y, r = rng.random() * w, rng.random() * h, (0.5 + rng.random()) * w / 400
            stage.draw.ellipse([x - r, y - r, x + r, y + r], fill=(250, 250, 255, 200))


def draw_backdrop(width: int, height: int, setting: str, place: str) -> Image.Image:
    """The set at canvas size; `setting` is already normalised to INT or EXT."""
    palette = scene_palette(setting, place)
    image = Image.new("RGB", (width, height))
    stage = Stage(
        image=image,
        draw=ImageDraw.Draw(image, "RGBA"),
        palette=palette,
        place=place.lower(),
        horizon=height * (0.6 if setting == "INT" else 0.56),
        window_left=stable_unit(place.lower(), "window") < 0.5,
        rng=rng_for(place.lower(), "props"),
    )
    (_interior if setting == "INT" else _exterior)(stage)
    if setting == "INT":
        lamp_x = width * (0.5 + (0.12 if not stage.window_left else -0.12))
        lamp_y = height * 0.12
        stage.draw.line([lamp_x, 0, lamp_x, lamp_y], fill=(40, 36, 34), width=max(1, width // 400))
        shade_w = width * 0.07
        top_y, bottom_y = lamp_y - height * 0.02, lamp_y + height * 0.02
        lamp_shade = [(lamp_x - shade_w * 0.45, top_y), (lamp_x + shade_w * 0.45, top_y),
                      (lamp_x + shade_w, bottom_y), (lamp_x - shade_w, bottom_y)]
        stage.draw.polygon(lamp_shade, fill=shade(palette.accent2, 0.8))
        strength = {"night": 0.75, "evening": 0.55, "morning": 0.25, "day": 0.2}[palette.time]
        add_glow(image, (lamp_x, lamp_y + height * 0.03), width * 0.9, palette.light, strength)
        # The lamp's pool of light on the floor where the actors stand.
        add_glow(image, (width * 0.5, height * 0.76), width * 0.7, palette.light, strength * 0.45)
    add_glow(image, (width * 0.5, height * 0.45), width * 1.1, palette.light, 0.12 * math.sqrt(palette.ambient))
    return image
