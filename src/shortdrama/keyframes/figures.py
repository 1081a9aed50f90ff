"""Stylised character figures: head, hair, clothes, arms and legs from an Appearance.

All measurements are fractions of the figure's full height `u` (crown to soles), so
the same code draws a tiny full-body figure in a wide shot and a head-and-shoulders
close-up whose legs run far below the frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from .appearance import Appearance
from .colour import RGB, mix, shade, soft_blur

# Room above the crown for a raised arm or a bun, and beside the body for a stretched arm.
REACH_ABOVE = 0.16
HALF_REACH = 0.46
HALF_WIDTH_AT_REST = 0.19  # what layout uses to keep a figure with lowered arms inside the frame
HEAD_CENTRE = 0.082


@dataclass(frozen=True)
class Pose:
    left_arm: tuple[float, float]  # (shoulder, elbow) degrees; 0 hangs straight down, positive swings outwards
    right_arm: tuple[float, float]
    gaze: float  # -1 looks towards frame left, 1 towards frame right
    mood: str  # neutral | happy | sad | angry | surprised
    holding: str = ""  # "phone" puts a handset in the gesturing hand


@dataclass(frozen=True)
class Placement:
    cx: float  # canvas x of the body's centre line
    top: float  # canvas y of the crown
    u: float  # full figure height in canvas pixels


class _Brush:
    """Draws each shape on the colour layer and, when opaque, on the coverage mask.

    Pillow only blends translucent fills into RGB images, so the figure is painted on an
    RGB layer and its silhouette is tracked separately; blush or lens glare then blend.
    """

    def __init__(self, size: tuple[int, int]):
        self.colour = Image.new("RGB", size, (0, 0, 0))
        self.mask = Image.new("L", size, 0)
        self._rgb = ImageDraw.Draw(self.colour, "RGBA")
        self._cover = ImageDraw.Draw(self.mask)

    def __getattr__(self, shape: str):
        def paint(*args, **kwargs):
            getattr(self._rgb, shape)(*args, **kwargs)
            colours = [kwargs.get(key) for key in ("fill", "outline") if kwargs.get(key) is not None]
            if all(len(c) == 3 or c[3] == 255 for c in colours):
                cover = {key: 255 for key in ("fill", "outline") if kwargs.get(key) is not None}
                getattr(self._cover, shape)(*args, **{**kwargs, **cover})

        return paint

    def paste(self, colour: RGB, origin: tuple[int, int], shape_mask: Image.Image) -> None:
        self.colour.paste(colour, (*origin, origin[0] + shape_mask.width, origin[1] + shape_mask.height), shape_mask)
        self.mask.paste(255, (*origin, origin[0] + shape_mask.width, origin[1] + shape_mask.height), shape_mask)


def _shoulder_half(app: Appearance) -> float:
    half = {"slim": 0.108, "average": 0.12, "broad": 0.136}[app.build]
    return half * (0.88 if app.feminine else 1.0)


class _FigurePainter:
    def __init__(self, brush: _Brush, origin: tuple[float, float], app: Appearance, pose: Pose, place: Placement):
        self.draw = brush
        self.app, self.pose = app, pose
        self.ox, self.oy = origin
        self.cx, self.top, self.u = place.cx, place.top, place.u
        self.sw = _shoulder_half(app)
        self.waist = self.sw * (0.66 if app.feminine else 0.8)
        self.hip = self.sw * (0.86 if app.feminine else 0.82)
        self.head_w = 0.122 if app.feminine else 0.13
        self.head_h = 0.152
        self.hands: list[tuple[float, float]] = []

    def xy(self, fx: float, fy: float) -> tuple[float, float]:
        return (self.cx + fx * self.u - self.ox, self.top + fy * self.u - self.oy)

    def box(self, fx0: float, fy0: float, fx1: float, fy1: float) -> list[float]:
        (x0, y0), (x1, y1) = self.xy(fx0, fy0), self.xy(fx1, fy1)
        return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]

    def circle(self, fx: float, fy: float, r: float, fill) -> None:
        self.draw.ellipse(self.box(fx - r, fy - r, fx + r, fy + r), fill=fill)

    def px(self, fraction: float) -> int:
        return max(1, int(round(fraction * self.u)))

    def poly(self, points: list[tuple[float, float]], fill) -> None:
        self.draw.polygon([self.xy(x, y) for x, y in points], fill=fill)

    def paint(self) -> None:
        self.back_hair()
        self.legs()
        self.neck()
        self.torso()
        self.lower_garment()
        self.arms()
        self.head()
        self.front_hair()
        self.accessories()

    # --- body -------------------------------------------------------------------------
    def legs(self) -> None:
        app = self.app
        bare = app.garment in ("dress", "skirt", "qipao")
        colour = shade(app.skin, 0.9) if bare else app.bottom
        width = 0.05 if bare else 0.07
        shoe = (38, 30, 32) if not app.feminine else shade(app.accent, 0.7)
        for side in (-1, 1):
            x = side * 0.043
            self.draw.rounded_rectangle(self.box(x - width / 2, 0.46, x + width / 2, 0.975), self.px(width / 2), fill=colour)
            if not bare:
                self.draw.line([self.xy(x + side * 0.012, 0.56), self.xy(x + side * 0.012, 0.95)],
                    fill=shade(colour, 0.8), width=self.px(0.004))
            self.draw.ellipse(self.box(x - 0.04 + side * 0.01, 0.955, x + 0.04 + side * 0.01, 0.998), fill=shoe)

    def lower_garment(self) -> None:
        app = self.app
        hem = {"dress": (0.74, 1.55), "qipao": (0.88, 1.08), "skirt": (0.68, 1.45), "robe": (0.95, 1.6), "coat": (0.7, 1.3)}
        if app.garment not in hem:
            return
        hem_y, flare = hem[app.garment]
        colour = app.bottom if app.garment == "skirt" else app.top
        half_hem = self.hip * flare
        half = [(self.waist, 0.395), (self.hip * 1.02, 0.48), (half_hem, hem_y)]
        self.poly(half + [(-x, y) for x, y in reversed(half)], colour)
        fold = shade(colour, 0.8)
        for fx in (-0.45, 0.0, 0.45):
            self.draw.line([self.xy(fx * self.hip, 0.52), self.xy(fx * half_hem * 1.05, hem_y - 0.005)],
                fill=fold, width=self.px(0.004))
        if app.garment == "qipao":
            self.draw.line([self.xy(self.hip * 0.9, 0.66), self.xy(half_hem * 0.98, hem_y)],
                fill=shade(colour, 0.55), width=self.px(0.006))
        if app.garment in ("coat", "robe"):
            belt = app.accent if app.garment == "robe" else shade(colour, 0.7)
            self.draw.rectangle(self.box(-self.waist, 0.375, self.waist, 0.41), fill=belt)

    def neck(self) -> None:
        self.draw.rounded_rectangle(self.box(-0.024, 0.12, 0.024, 0.19), self.px(0.01), fill=shade(self.app.skin, 0.86))

    def torso(self) -> None:
        app, sw = self.app, self.sw
        long_top = app.garment in ("suit", "uniform", "casual")
        bottom = 0.52 if long_top else 0.41
        bottom_half = self.hip if long_top else self.waist
        outline = [(-0.034, 0.172), (-(sw - 0.015), 0.19), (-sw, 0.22), (-sw * 0.95, 0.28), (-self.waist, 0.395),
                   (-bottom_half, bottom)]
        self.poly(outline + [(-x, y) for x, y in reversed(outline)], app.top)
        dark = shade(app.top, 0.7)
        if app.garment in ("suit", "uniform"):
            self.poly([(-0.03, 0.176), (0.03, 0.176), (0, 0.29)], (240, 240, 236))
            for side in (-1, 1):
                self.poly([(side * 0.03, 0.176), (side * 0.058, 0.195), (side * 0.014, 0.34), (side * 0.003, 0.29)], dark)
            self.draw.line([self.xy(0, 0.29), self.xy(0, bottom)], fill=dark, width=self.px(0.004))
            for i in range(2 if app.garment == "suit" else 4):
                self.circle(0.012, 0.35 + i * 0.045, 0.006, shade(app.top, 0.5))
            if app.garment == "uniform":
                self.draw.rectangle(self.box(-self.waist, 0.45, self.waist, 0.475), fill=(40, 32, 28))
        elif app.garment == "qipao":
            self.draw.rounded_rectangle(self.box(-0.027, 0.15, 0.027, 0.185), self.px(0.006), fill=app.top)
            self.draw.line([self.xy(-0.012, 0.186), self.xy(0.05, 0.235)], fill=app.accent, width=self.px(0.006))
        elif app.garment == "robe":
            self.poly([(-0.035, 0.175), (0.035, 0.175), (0.0, 0.3)], (236, 232, 220))
            self.draw.line([self.xy(-0.035, 0.175), self.xy(0.02, 0.32)], fill=dark, width=self.px(0.008))
        else:
            self.draw.chord(self.box(-0.036, 0.148, 0.036, 0.212), 0, 180, fill=shade(app.skin, 0.86))
            self.draw.arc(self.box(-0.038, 0.148, 0.038, 0.215), 0, 180, fill=dark, width=self.px(0.006))
        if "tie" in app.accessories:
            half = [(0.01, 0.186), (0.006, 0.2), (0.016, 0.33), (0, 0.35)]
            self.poly(half + [(-x, y) for x, y in reversed(half[:-1])], app.accent)

    def arms(self) -> None:
        app, pose = self.app, self.pose
        sleeve = 0.074 if app.garment == "robe" else 0.056
        for side, (shoulder_deg, elbow_deg) in ((-1, pose.left_arm), (1, pose.right_arm)):
            sx, sy = side * (self.sw - 0.024), 0.218
            a = math.radians(shoulder_deg)
            ex, ey = sx + side * 0.158 * math.sin(a), sy + 0.158 * math.cos(a)
            b = math.radians(shoulder_deg + elbow_deg)
            hx, hy = ex + side * 0.145 * math.sin(b), ey + 0.145 * math.cos(b)
            # A darker rim below the shoulder keeps an arm readable where it crosses the same-coloured torso.
            rim_start = (sx + (ex - sx) * 0.35, sy + (ey - sy) * 0.35)
            rim = shade(app.top, 0.62)
            self.draw.line([self.xy(*rim_start), self.xy(ex, ey), self.xy(hx, hy)],
                fill=rim, width=self.px(sleeve + 0.008), joint="curve")
            self.circle(ex, ey, sleeve / 2 + 0.004, rim)
            self.draw.line([self.xy(sx, sy), self.xy(ex, ey), self.xy(hx, hy)],
                fill=app.top, width=self.px(sleeve), joint="curve")
            for jx, jy in ((sx, sy), (ex, ey)):
                self.circle(jx, jy, sleeve / 2, app.top)
            wrist = (ex + (hx - ex) * 0.82, ey + (hy - ey) * 0.82)
            self.draw.line([self.xy(ex + (hx - ex) * 0.74, ey + (hy - ey) * 0.74), self.xy(*wrist)],
                fill=shade(app.top, 0.75), width=self.px(sleeve))
            self.circle(hx, hy, 0.026, app.skin)
            self.hands.append((hx, hy))
        if pose.holding == "phone":
            hx, hy = min(self.hands, key=lambda h: h[1])
            self.draw.rounded_rectangle(self.box(hx - 0.014, hy - 0.04, hx + 0.014, hy + 0.012), self.px(0.006),
                fill=(28, 28, 34))

    # --- head -------------------------------------------------------------------------
    def head_box(self, grow: float = 0.0) -> list[float]:
        hw, hh = self.head_w / 2 + grow, self.head_h / 2 + grow
        return self.box(-hw, HEAD_CENTRE - hh, hw, HEAD_CENTRE + hh)

    def head(self) -> None:
        app, pose = self.app, self.pose
        for side in (-1, 1):
            ex = side * self.head_w / 2
            self.draw.ellipse(self.box(ex - 0.012, 0.07, ex + 0.012, 0.108), fill=shade(app.skin, 0.93))
        self.draw.ellipse(self.head_box(), fill=app.skin)
        g = pose.gaze * 0.006
        eye_w, eye_h = (0.019, 0.025) if app.feminine else (0.016, 0.02)
        brow_lift = {"angry": (-0.009, 0.0), "sad": (0.008, -0.004), "surprised": (0.006, 0.006)}.get(pose.mood, (0.0, 0.0))
        brow = shade(app.hair, 0.8) if sum(app.hair) < 500 else (110, 100, 96)
        for side in (-1, 1):
            ex = side * 0.029 + g
            self.draw.ellipse(self.box(ex - eye_w / 2, 0.092 - eye_h / 2, ex + eye_w / 2, 0.092 + eye_h / 2), fill=(40, 30, 34))
            self.draw.ellipse(self.box(ex - 0.004, 0.085, ex + 0.002, 0.0912), fill=(255, 255, 255))
            inner, outer = side * 0.014, side * 0.046
            self.draw.line([self.xy(inner, 0.07 - brow_lift[0]), self.xy(outer, 0.068 - brow_lift[1])],
                fill=brow, width=self.px(0.0065))
            if app.feminine:
                self.draw.line([self.xy(ex + side * eye_w * 0.35, 0.082), self.xy(ex + side * eye_w * 0.85, 0.078)],
                    fill=(40, 30, 34), width=self.px(0.003))
            blush = (232, 110, 110, 60 if app.feminine else 22)
            self.draw.ellipse(self.box(side * 0.042 - 0.013, 0.112, side * 0.042 + 0.013, 0.123), fill=blush)
        self.draw.ellipse(self.box(-0.006, 0.111, 0.006, 0.117), fill=(*shade(app.skin, 0.7), 110))
        self.mouth()
        if pose.mood == "sad":
            for side in (-1, 1):
                tx = side * 0.03 + g
                self.draw.ellipse(self.box(tx - 0.004, 0.104, tx + 0.004, 0.122), fill=(160, 210, 245, 210))

    def mouth(self) -> None:
        lips = (176, 64, 76) if self.app.feminine else shade(self.app.skin, 0.6)
        mood, w = self.pose.mood, self.px(0.004)
        if mood == "happy":
            self.draw.chord(self.box(-0.019, 0.12, 0.019, 0.146), 0, 180, fill=(150, 48, 60))
            self.draw.chord(self.box(-0.016, 0.122, 0.016, 0.131), 0, 180, fill=(250, 248, 244))
        elif mood == "surprised":
            self.draw.ellipse(self.box(-0.008, 0.127, 0.008, 0.145), fill=(120, 40, 50))
        elif mood == "sad":
            self.draw.arc(self.box(-0.015, 0.132, 0.015, 0.15), 200, 340, fill=lips, width=w)
        elif mood == "angry":
            self.draw.line([self.xy(-0.015, 0.136), self.xy(0.015, 0.134)], fill=lips, width=w)
            self.draw.line([self.xy(-0.004, 0.074), self.xy(-0.002, 0.082)], fill=shade(self.app.skin, 0.75), width=w)
        else:
            self.draw.arc(self.box(-0.014, 0.121, 0.014, 0.137), 20, 160, fill=lips, width=w)

    def back_hair(self) -> None:
        app = self.app
        back = shade(app.hair, 0.82)
        if app.hair_length == "long":
            self.draw.rounded_rectangle(self.box(-0.078, 0.01, 0.078, 0.33), self.px(0.06), fill=back)
            self.draw.ellipse(self.head_box(0.012), fill=back)
        elif app.hair_length == "medium":
            self.draw.rounded_rectangle(self.box(-0.076, 0.01, 0.076, 0.17), self.px(0.05), fill=back)
            self.draw.ellipse(self.head_box(0.01), fill=back)
        if app.hair_length != "bald" and app.hair_style == "bun":
            self.circle(0.0, -0.002, 0.036, app.hair)
        if app.hair_length != "bald" and app.hair_style == "ponytail":
            self.draw.ellipse(self.box(0.03, 0.03, 0.092, 0.25), fill=back)

    def front_hair(self) -> None:
        app = self.app
        if app.hair_length == "bald":
            if app.elderly:
                for side in (-1, 1):
                    ex = side * self.head_w / 2
                    self.draw.ellipse(self.box(ex - 0.012, 0.045, ex + 0.012, 0.09), fill=app.hair)
            return
        # The hair is the head grown a little, less a face-shaped window: that gives a curved
        # hairline with temples, and a swept fringe on the side of a stable parting.
        grow = 0.008
        x0, y0, x1, y1 = (int(v) for v in self.head_box(grow + 0.002))
        size = (max(1, x1 - x0 + 2), max(1, y1 - y0 + 2))

        def local(box: list[float]) -> list[float]:
            return [box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0]

        grown = Image.new("L", size, 0)
        ImageDraw.Draw(grown).ellipse(local(self.head_box(grow)), fill=255)
        keep = Image.new("L", size, 255)
        cut = ImageDraw.Draw(keep)
        half = self.head_w / 2
        window_top = 0.046 if app.feminine else 0.038
        cut.ellipse(local(self.box(-half + 0.005, window_top, half - 0.005, 0.2)), fill=0)
        part = 1 if app.top[0] % 2 else -1  # which side the parting falls: stable per character
        if app.feminine:
            cut.chord(local(self.box(-half - 0.01 + part * 0.02, 0.0, half + 0.005 + part * 0.02, 0.09)), 180, 360, fill=255)
            cut.ellipse(local(self.box(part * 0.01 - 0.05, 0.018, part * 0.01 + 0.035, 0.066)), fill=255)
        else:
            cut.ellipse(local(self.box(part * 0.012 - 0.045, 0.012, part * 0.012 + 0.04, 0.05)), fill=255)
            cut.rectangle(local(self.box(-1.0, 0.102, 1.0, 0.3)), fill=0)
        self.draw.paste(app.hair, (x0, y0), ImageChops.multiply(grown, keep))
        if app.hair_length in ("long", "medium"):
            bottom = 0.25 if app.hair_length == "long" else 0.15
            for side in (-1, 1):
                x = side * (half - 0.004)
                self.draw.rounded_rectangle(self.box(x - 0.017, 0.05, x + 0.015, bottom), self.px(0.016), fill=app.hair)
        if app.hair_style == "curly":
            for i in range(8):
                angle = math.radians(185 + i * 24.3)
                x, y = math.cos(angle) * 0.07, HEAD_CENTRE + math.sin(angle) * 0.082
                self.circle(x, y, 0.02, app.hair)
        shine = mix(app.hair, (255, 255, 255), 0.28)
        self.draw.arc(self.head_box(-0.01), 218, 250, fill=shine, width=self.px(0.006))

    def accessories(self) -> None:
        app = self.app
        if app.glasses:
            frame = (36, 36, 44)
            for side in (-1, 1):
                ex = side * 0.029
                self.draw.rounded_rectangle(self.box(ex - 0.02, 0.079, ex + 0.02, 0.105), self.px(0.007),
                    fill=(255, 255, 255, 36))
                self.draw.rounded_rectangle(self.box(ex - 0.02, 0.079, ex + 0.02, 0.105), self.px(0.007),
                    outline=frame, width=self.px(0.0035))
            self.draw.line([self.xy(-0.009, 0.088), self.xy(0.009, 0.088)], fill=frame, width=self.px(0.0035))
        if "beard" in app.accessories:
            self.draw.chord(self.box(-0.052, 0.075, 0.052, 0.162), 25, 155, fill=app.hair)
            self.draw.arc(self.box(-0.014, 0.121, 0.014, 0.137), 20, 160, fill=shade(app.skin, 0.55), width=self.px(0.004))
        if "earrings" in app.accessories:
            for side in (-1, 1):
                ex = side * self.head_w / 2
                self.circle(ex, 0.116, 0.007, app.accent)
        if "necklace" in app.accessories:
            self.draw.arc(self.box(-0.045, 0.135, 0.045, 0.225), 20, 160, fill=app.accent, width=self.px(0.005))
        if "scarf" in app.accessories:
            self.draw.rounded_rectangle(self.box(-0.05, 0.16, 0.05, 0.2), self.px(0.015), fill=app.accent)
            self.draw.rounded_rectangle(self.box(0.012, 0.175, 0.042, 0.32), self.px(0.01), fill=shade(app.accent, 0.85))
        if "hairpin" in app.accessories and app.hair_length != "bald":
            self.circle(0.045, 0.022, 0.011, app.accent)
        if "hat" in app.accessories:
            self.draw.ellipse(self.box(-0.092, 0.014, 0.092, 0.036), fill=shade(app.accent, 0.8))
            self.draw.chord(self.box(-0.064, -0.032, 0.064, 0.07), 180, 360, fill=app.accent)
            self.draw.rectangle(self.box(-0.064, 0.012, 0.064, 0.022), fill=shade(app.accent, 0.6))
        if "cap" in app.accessories:
            self.draw.chord(self.box(-0.074, -0.006, 0.074, 0.1), 180, 360, fill=app.accent)
            self.draw.chord(self.box(-0.078, 0.03, 0.078, 0.066), 0, 180, fill=shade(app.accent, 0.75))


def draw_figure(canvas: Image.Image, app: Appearance, pose: Pose, place: Placement, ambient: float = 1.0) -> None:
    """Paint one figure onto `canvas` (RGB), lit from the left, with a soft shadow that lifts it off the set.

    `ambient` is the set's daylight level; figures dim less than the set so faces still read at night.
    """
    u = place.u
    x0 = max(0, int(place.cx - HALF_REACH * u))
    x1 = min(canvas.width, int(place.cx + HALF_REACH * u) + 1)
    y0 = max(0, int(place.top - REACH_ABOVE * u))
    y1 = min(canvas.height, int(place.top + 1.02 * u) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    brush = _Brush((x1 - x0, y1 - y0))
    _FigurePainter(brush, (x0, y0), app, pose, place).paint()

    pixels = np.asarray(brush.colour, dtype=np.float32)
    xs = (np.arange(x0, x1, dtype=np.float32) - place.cx) / (0.3 * u)
    ys = (np.arange(y0, y1, dtype=np.float32) - place.top) / u
    across = 0.16 * np.clip(xs, -1, 1)[None, :]
    down = 0.12 * np.clip((ys - 0.45) / 0.55, 0, 1)[:, None]
    light = (0.72 + 0.28 * ambient) * 1.06 - across - down
    lit = Image.fromarray(np.clip(pixels * light[..., None], 0, 255).astype(np.uint8), "RGB")

    shadow_alpha = soft_blur(brush.mask, max(1.0, 0.012 * u)).point(lambda a: a * 45 // 100)
    region = canvas.crop((x0, y0, x1, y1))
    offset = max(1, int(0.008 * u))
    shifted = Image.new("L", region.size, 0)
    shifted.paste(shadow_alpha, (offset, offset // 2))
    region.paste((10, 8, 16), (0, 0, *region.size), shifted)
    region.paste(lit, (0, 0), brush.mask)
    canvas.paste(region, (x0, y0))
