"""Keyword-driven set dressing: the furniture that tells a kitchen from a hospital ward.

Each painter draws simple flat shapes against the back wall (interiors) or on the
ground (exteriors), standing on the stage's horizon line so figures read in front of it.
"""

from __future__ import annotations

import re
from typing import Callable

from .colour import RGB, mix, shade
from .canvas import Stage, add_glow, vertical_gradient

WOOD: RGB = (124, 84, 54)
METAL: RGB = (150, 154, 160)
LEAF: RGB = (58, 118, 64)
BOOK_SPINES: list[RGB] = [(160, 50, 50), (40, 80, 140), (60, 110, 70), (200, 170, 90), (90, 60, 110)]


def _free_span(stage: Stage) -> tuple[float, float]:
    """The half of the back wall the window leaves free."""
    return (stage.w * 0.52, stage.w * 0.98) if stage.window_left else (stage.w * 0.02, stage.w * 0.48)


def door(stage: Stage) -> None:
    x0, x1 = _free_span(stage)
    dx = x0 + (x1 - x0) * 0.55 if stage.window_left else x0 + (x1 - x0) * 0.1
    dw, top, bottom = stage.w * 0.2, stage.h * 0.27, stage.horizon
    wood = stage.lit(shade(WOOD, 1.1))
    stage.draw.rectangle([dx - stage.w * 0.012, top - stage.w * 0.012, dx + dw + stage.w * 0.012, bottom],
        fill=stage.lit(stage.palette.trim))
    stage.draw.rectangle([dx, top, dx + dw, bottom], fill=wood)
    for py0, py1 in ((0.06, 0.42), (0.52, 0.92)):
        y0, y1 = top + (bottom - top) * py0, top + (bottom - top) * py1
        stage.draw.rectangle([dx + dw * 0.14, y0, dx + dw * 0.86, y1], outline=shade(wood, 0.75), width=max(1, stage.w // 250))
    knob_x = dx + (dw * 0.12 if stage.window_left else dw * 0.88)
    r = stage.w * 0.01
    stage.draw.ellipse([knob_x - r, (top + bottom) / 2 - r, knob_x + r, (top + bottom) / 2 + r], fill=(212, 176, 90))


def picture(stage: Stage, cx: float, cy: float, width: float) -> None:
    height = width * 0.72
    box = [cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2]
    pal = stage.palette
    stage.draw.rectangle(box, fill=stage.lit((60, 46, 36)))
    inner = [box[0] + width * 0.06, box[1] + width * 0.06, box[2] - width * 0.06, box[3] - width * 0.06]
    stage.draw.rectangle(inner, fill=stage.lit(mix(pal.accent2, (240, 230, 210), 0.7)))
    ix0, iy0, ix1, iy1 = inner
    stage.draw.polygon([(ix0, iy1), ((ix0 + ix1) * 0.45, iy0 + (iy1 - iy0) * 0.3), (ix1, iy1)], fill=stage.lit(pal.accent2))
    stage.draw.polygon([(ix0 + (ix1 - ix0) * 0.4, iy1), ((ix0 + ix1) * 0.7, iy0 + (iy1 - iy0) * 0.5), (ix1, iy1)],
        fill=stage.lit(shade(pal.accent2, 0.7)))
    r = (iy1 - iy0) * 0.12
    sx, sy = ix0 + (ix1 - ix0) * 0.25, iy0 + (iy1 - iy0) * 0.3
    stage.draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=stage.lit(pal.accent))


def plant(stage: Stage, cx: float, base: float, size: float) -> None:
    pot = stage.lit((168, 96, 70))
    rim_y = base - size * 0.5
    stage.draw.polygon([(cx - size * 0.3, rim_y), (cx + size * 0.3, rim_y), (cx + size * 0.22, base), (cx - size * 0.22, base)],
                       fill=pot)
    rng = stage.rng
    for _ in range(9):
        lx, ly = cx + (rng.random() - 0.5) * size * 0.9, base - size * (0.7 + rng.random() * 0.9)
        r = size * (0.2 + rng.random() * 0.15)
        stage.draw.ellipse([lx - r, ly - r * 1.4, lx + r, ly + r * 1.4], fill=stage.lit(shade(LEAF, 0.75 + rng.random() * 0.5)))


def lamp_glow(stage: Stage, x: float, y: float, radius: float) -> None:
    strength = {"night": 0.8, "evening": 0.6}.get(stage.palette.time, 0.3)
    add_glow(stage.image, (x, y), radius, stage.palette.light, strength)


def kitchen(stage: Stage) -> None:
    w, h, hz, pal = stage.w, stage.h, stage.horizon, stage.palette
    tiles = stage.lit(mix(pal.trim, (240, 244, 246), 0.5))
    stage.draw.rectangle([0, h * 0.43, w, hz], fill=tiles)
    for x in range(0, w, max(4, w // 18)):
        stage.draw.line([x, h * 0.43, x, hz], fill=shade(tiles, 0.88), width=1)
    cabinet = stage.lit(mix(pal.accent2, (230, 226, 214), 0.35))
    stage.draw.rectangle([0, hz - h * 0.115, w, hz + h * 0.01], fill=cabinet)
    stage.draw.rectangle([0, hz - h * 0.13, w, hz - h * 0.112], fill=stage.lit((214, 210, 204)))
    for i in range(7):
        x0 = w * i / 7 + w * 0.008
        stage.draw.rectangle([x0, hz - h * 0.1, x0 + w / 7 - w * 0.016, hz - h * 0.004],
            outline=shade(cabinet, 0.8), width=max(1, w // 300))
        stage.draw.rectangle([x0 + w * 0.05, hz - h * 0.085, x0 + w * 0.09, hz - h * 0.08], fill=METAL)
    fx0, fx1 = _free_span(stage)
    stage.draw.rectangle([fx0, h * 0.12, fx1, h * 0.3], fill=cabinet)
    for i in range(3):
        x0 = fx0 + (fx1 - fx0) * i / 3
        stage.draw.rectangle([x0 + w * 0.008, h * 0.125, x0 + (fx1 - fx0) / 3 - w * 0.008, h * 0.295],
            outline=shade(cabinet, 0.8), width=max(1, w // 300))
    sx = (fx0 + fx1) / 2
    stage.draw.rectangle([sx - w * 0.12, hz - h * 0.138, sx + w * 0.12, hz - h * 0.128], fill=(40, 40, 44))
    stage.draw.rounded_rectangle([sx - w * 0.1, hz - h * 0.19, sx + w * 0.0, hz - h * 0.138], radius=w * 0.01,
        fill=stage.lit((170, 60, 50)))
    stage.draw.rectangle([sx - w * 0.11, hz - h * 0.195, sx + w * 0.01, hz - h * 0.185], fill=stage.lit((140, 46, 40)))
    stage.draw.ellipse([sx + w * 0.02, hz - h * 0.16, sx + w * 0.1, hz - h * 0.135], fill=stage.lit(METAL))
    for i in range(3):
        bx = w * (0.1 + 0.05 * i) if not stage.window_left else w * (0.2 + 0.05 * i)
        stage.draw.ellipse([bx, hz - h * 0.16, bx + w * 0.05, hz - h * 0.128],
            fill=stage.lit([(220, 120, 40), (200, 40, 40), (230, 200, 60)][i]))


def office(stage: Stage) -> None:
    w, h, hz = stage.w, stage.h, stage.horizon
    wx0, wx1 = (w * 0.07, w * 0.45) if stage.window_left else (w * 0.55, w * 0.93)
    for y in range(int(h * 0.145), int(h * 0.33), max(3, h // 120)):
        stage.draw.line([wx0, y, wx1, y], fill=(235, 235, 230, 170), width=max(1, h // 400))
    fx0, fx1 = _free_span(stage)
    shelf = stage.lit(shade(WOOD, 0.85))
    bx0, bx1 = fx0 + (fx1 - fx0) * 0.15, fx1 - (fx1 - fx0) * 0.1
    stage.draw.rectangle([bx0, h * 0.13, bx1, hz], fill=shelf)
    rng = stage.rng
    rows = 5
    for r in range(rows):
        y1 = h * 0.13 + (hz - h * 0.13) * (r + 1) / rows - h * 0.008
        y0 = h * 0.13 + (hz - h * 0.13) * r / rows + h * 0.012
        x = bx0 + w * 0.012
        while x < bx1 - w * 0.03:
            bw = w * (0.014 + rng.random() * 0.016)
            spine = BOOK_SPINES[int(rng.random() * len(BOOK_SPINES))]
            book = stage.lit(mix(spine, (255, 255, 255), rng.random() * 0.2))
            stage.draw.rectangle([x, y0 + (y1 - y0) * rng.random() * 0.25, x + bw, y1], fill=book)
            x += bw + w * 0.003
        stage.draw.rectangle([bx0, y1, bx1, y1 + h * 0.008], fill=shade(shelf, 0.7))
    dx0, dx1 = w * 0.18, w * 0.82
    stage.draw.rectangle([dx0, hz - h * 0.02, dx1, hz - h * 0.005], fill=stage.lit((88, 62, 44)))
    stage.draw.rectangle([dx0 + w * 0.02, hz - h * 0.005, dx1 - w * 0.02, hz + h * 0.06], fill=stage.lit((70, 50, 36)))
    mx = w * 0.5
    stage.draw.rectangle([mx - w * 0.1, hz - h * 0.1, mx + w * 0.1, hz - h * 0.035], fill=(30, 30, 36))
    stage.draw.rectangle([mx - w * 0.09, hz - h * 0.095, mx + w * 0.09, hz - h * 0.04], fill=(90, 140, 190))
    stage.draw.rectangle([mx - w * 0.01, hz - h * 0.035, mx + w * 0.01, hz - h * 0.02], fill=(30, 30, 36))
    lamp_glow(stage, mx, hz - h * 0.07, w * 0.25)
    plant(stage, dx1 - w * 0.06, hz - h * 0.02, w * 0.06)


def hospital(stage: Stage) -> None:
    w, h, hz = stage.w, stage.h, stage.horizon
    fx0, fx1 = _free_span(stage)
    cx = (fx0 + fx1) / 2
    frame = stage.lit((180, 186, 194))
    stage.draw.rectangle([cx - w * 0.26, hz - h * 0.16, cx - w * 0.23, hz + h * 0.03], fill=frame)
    stage.draw.rectangle([cx - w * 0.25, hz - h * 0.07, cx + w * 0.25, hz - h * 0.03], fill=frame)
    stage.draw.rounded_rectangle([cx - w * 0.24, hz - h * 0.1, cx + w * 0.24, hz - h * 0.06], radius=w * 0.02,
        fill=stage.lit((244, 246, 248)))
    stage.draw.rounded_rectangle([cx - w * 0.22, hz - h * 0.125, cx - w * 0.1, hz - h * 0.095], radius=w * 0.02,
        fill=stage.lit((250, 250, 252)))
    stage.draw.rounded_rectangle([cx - w * 0.08, hz - h * 0.105, cx + w * 0.24, hz - h * 0.06], radius=w * 0.015,
        fill=stage.lit((150, 190, 214)))
    ix = cx + w * 0.2 if stage.window_left else cx - w * 0.3
    stage.draw.line([ix, h * 0.28, ix, hz + h * 0.02], fill=stage.lit(METAL), width=max(1, w // 200))
    stage.draw.rounded_rectangle([ix - w * 0.025, h * 0.29, ix + w * 0.025, h * 0.35], radius=w * 0.01, fill=(220, 236, 244, 220))
    mon = [cx - w * 0.08, h * 0.18, cx + w * 0.08, h * 0.27]
    stage.draw.rectangle(mon, fill=(28, 32, 36))
    beat = {6: -h * 0.025, 7: h * 0.012}  # one heartbeat spike on a flat trace
    pts = [(mon[0] + (mon[2] - mon[0]) * t / 12, (mon[1] + mon[3]) / 2 + beat.get(t, 0)) for t in range(1, 12)]
    stage.draw.line(pts, fill=(90, 230, 120), width=max(1, w // 300))
    lamp_glow(stage, (mon[0] + mon[2]) / 2, (mon[1] + mon[3]) / 2, w * 0.15)


def restaurant(stage: Stage) -> None:
    w, h, hz, pal = stage.w, stage.h, stage.horizon, stage.palette
    chinese = re.search(r"[\u4e00-\u9fff]|chinese|teahouse|dim sum", stage.place) is not None
    for i, tx in enumerate((w * 0.2, w * 0.8)):
        stage.draw.rectangle([tx - w * 0.045, hz - h * 0.13, tx + w * 0.045, hz - h * 0.02],
            fill=stage.lit(shade(pal.accent, 0.8)))
        stage.draw.rectangle([tx - w * 0.16, hz - h * 0.06, tx + w * 0.16, hz + h * 0.01], fill=stage.lit((244, 240, 232)))
        stage.draw.rectangle([tx - w * 0.16, hz - h * 0.065, tx + w * 0.16, hz - h * 0.055], fill=stage.lit((252, 250, 246)))
        for gx in (tx - w * 0.06, tx + w * 0.05):
            stage.draw.rectangle([gx, hz - h * 0.085, gx + w * 0.018, hz - h * 0.065], fill=(220, 230, 240, 200))
        stage.draw.ellipse([tx - w * 0.012, hz - h * 0.09, tx + w * 0.012, hz - h * 0.065], fill=(255, 226, 150))
        lamp_glow(stage, tx, hz - h * 0.08, w * 0.08)
    for i, lx in enumerate((w * 0.28, w * 0.72)):
        ly = h * (0.2 + 0.03 * i)
        stage.draw.line([lx, 0, lx, ly], fill=(40, 30, 26), width=max(1, w // 400))
        if chinese:
            stage.draw.ellipse([lx - w * 0.05, ly, lx + w * 0.05, ly + h * 0.06], fill=(200, 30, 36))
            stage.draw.rectangle([lx - w * 0.03, ly - h * 0.004, lx + w * 0.03, ly + h * 0.004], fill=(214, 170, 60))
            stage.draw.line([lx, ly + h * 0.06, lx, ly + h * 0.085], fill=(214, 170, 60), width=max(1, w // 200))
        else:
            stage.draw.chord([lx - w * 0.05, ly - h * 0.02, lx + w * 0.05, ly + h * 0.03], 180, 360, fill=shade(pal.accent2, 0.7))
        lamp_glow(stage, lx, ly + h * 0.03, w * 0.25)


def bedroom(stage: Stage) -> None:
    w, h, hz, pal = stage.w, stage.h, stage.horizon, stage.palette
    fx0, fx1 = _free_span(stage)
    cx = (fx0 + fx1) / 2
    stage.draw.rounded_rectangle([cx - w * 0.22, hz - h * 0.2, cx + w * 0.22, hz], radius=w * 0.04,
        fill=stage.lit(shade(pal.accent, 0.85)))
    stage.draw.rectangle([cx - w * 0.24, hz - h * 0.085, cx + w * 0.24, hz + h * 0.04], fill=stage.lit(pal.accent2))
    stage.draw.rectangle([cx - w * 0.24, hz - h * 0.085, cx + w * 0.24, hz - h * 0.07],
        fill=stage.lit(mix(pal.accent2, (255, 255, 255), 0.5)))
    for px in (cx - w * 0.11, cx + w * 0.11):
        stage.draw.rounded_rectangle([px - w * 0.09, hz - h * 0.12, px + w * 0.09, hz - h * 0.08], radius=w * 0.02,
            fill=stage.lit((246, 244, 238)))
    nx = fx0 + w * 0.02 if stage.window_left else fx1 - w * 0.02
    nx = min(max(nx, w * 0.08), w * 0.92)
    stage.draw.rectangle([nx - w * 0.06, hz - h * 0.08, nx + w * 0.06, hz], fill=stage.lit(shade(WOOD, 1.1)))
    lamp_top, lamp_bottom = hz - h * 0.13, hz - h * 0.105
    stage.draw.polygon([(nx - w * 0.04, lamp_top), (nx + w * 0.04, lamp_top), (nx + w * 0.05, lamp_bottom), (nx - w * 0.05, lamp_bottom)],
                       fill=(246, 226, 180))
    stage.draw.rectangle([nx - w * 0.005, hz - h * 0.105, nx + w * 0.005, hz - h * 0.08], fill=(60, 50, 44))
    lamp_glow(stage, nx, hz - h * 0.115, w * 0.3)
    picture(stage, cx, h * 0.26, w * 0.26)


def living_room(stage: Stage) -> None:
    w, h, hz, pal = stage.w, stage.h, stage.horizon, stage.palette
    rug = stage.lit(mix(pal.accent2, pal.floor, 0.3))
    stage.draw.polygon([(w * 0.22, hz + h * 0.04), (w * 0.78, hz + h * 0.04), (w * 1.0, hz + h * 0.2), (w * 0.0, hz + h * 0.2)],
        fill=rug)
    sofa = stage.lit(pal.accent)
    sx0, sx1 = w * 0.12, w * 0.88
    stage.draw.rounded_rectangle([sx0, hz - h * 0.13, sx1, hz - h * 0.02], radius=w * 0.03, fill=shade(sofa, 0.85))
    stage.draw.rounded_rectangle([sx0 - w * 0.03, hz - h * 0.08, sx0 + w * 0.07, hz + h * 0.01], radius=w * 0.025, fill=sofa)
    stage.draw.rounded_rectangle([sx1 - w * 0.07, hz - h * 0.08, sx1 + w * 0.03, hz + h * 0.01], radius=w * 0.025, fill=sofa)
    stage.draw.rounded_rectangle([sx0 + w * 0.05, hz - h * 0.05, sx1 - w * 0.05, hz + h * 0.01], radius=w * 0.02, fill=sofa)
    for i, px in enumerate((sx0 + w * 0.14, sx1 - w * 0.14)):
        stage.draw.rounded_rectangle([px - w * 0.06, hz - h * 0.11, px + w * 0.06, hz - h * 0.055], radius=w * 0.02,
            fill=stage.lit(mix(pal.accent2, (240, 230, 200), 0.3 * i)))
    picture(stage, w * 0.5, h * 0.3 if not stage.window_left else h * 0.3, w * 0.2)
    plant(stage, w * 0.94 if stage.window_left else w * 0.06, hz + h * 0.015, w * 0.08)


def default_interior(stage: Stage) -> None:
    w, h, hz = stage.w, stage.h, stage.horizon
    door(stage)
    fx0, fx1 = _free_span(stage)
    cx = w * 0.5
    stage.draw.rectangle([cx - w * 0.13, hz - h * 0.09, cx + w * 0.13, hz], fill=stage.lit(shade(WOOD, 0.95)))
    stage.draw.rectangle([cx - w * 0.14, hz - h * 0.095, cx + w * 0.14, hz - h * 0.085], fill=stage.lit(shade(WOOD, 0.7)))
    stage.draw.ellipse([cx - w * 0.05, hz - h * 0.13, cx + w * 0.01, hz - h * 0.095], fill=stage.lit(stage.palette.accent2))
    plant(stage, w * 0.06 if not stage.window_left else w * 0.94, hz + h * 0.015, w * 0.08)


INTERIORS: list[tuple[str, Callable[[Stage], None]]] = [
    (r"kitchen|厨房|bếp", kitchen),
    (r"office|company|meeting|conference|study|办公|公司|会议|书房|văn phòng|công ty|phòng họp", office),
    (r"hospital|clinic|ward|医院|病房|诊所|bệnh viện|phòng bệnh|phòng khám", hospital),
    (r"restaurant|cafe|café|coffee|bar|teahouse|餐厅|饭店|酒楼|咖啡|茶楼|酒吧|食堂|nhà hàng|quán|cà phê", restaurant),
    (r"bedroom|dorm|卧室|房间|宿舍|卧房|phòng ngủ|ký túc", bedroom),
    (r"living room|lounge|hall|lobby|parlou?r|apartment|home|客厅|大厅|大堂|厅|家|phòng khách|sảnh|căn hộ|nhà", living_room),
]


def dress_interior(stage: Stage) -> None:
    painter = next((paint for pattern, paint in INTERIORS if re.search(pattern, stage.place)), default_interior)
    painter(stage)


# --- exteriors ------------------------------------------------------------------------

def tree(stage: Stage, x: float, base: float, size: float) -> None:
    trunk = stage.lit((86, 62, 44))
    stage.draw.rectangle([x - size * 0.06, base - size * 0.7, x + size * 0.06, base], fill=trunk)
    green = LEAF if stage.palette.time != "night" else (30, 56, 44)
    for i, (dx, dy, r) in enumerate(((0, -1.0, 0.42), (-0.28, -0.8, 0.3), (0.28, -0.82, 0.32), (0.05, -1.25, 0.3))):
        ex, ey, er = x + dx * size, base + dy * size, r * size
        stage.draw.ellipse([ex - er, ey - er, ex + er, ey + er], fill=stage.lit(shade(green, 0.85 + 0.1 * i)))


def street_lamp(stage: Stage, x: float, base: float, height: float) -> None:
    pole = (46, 48, 54)
    stage.draw.rectangle([x - height * 0.015, base - height, x + height * 0.015, base], fill=pole)
    stage.draw.rectangle([x - height * 0.015, base - height, x + height * 0.15, base - height * 0.97], fill=pole)
    head = (x + height * 0.14, base - height * 0.95)
    stage.draw.ellipse([head[0] - height * 0.05, head[1] - height * 0.02, head[0] + height * 0.05, head[1] + height * 0.03],
        fill=(255, 236, 190))
    if stage.palette.time in ("night", "evening"):
        lamp_glow(stage, head[0], head[1], height * 0.7)


def _ground(stage: Stage, far: RGB, near: RGB) -> None:
    top = int(stage.horizon)
    stage.image.paste(vertical_gradient(stage.w, stage.h - top, stage.lit(far), stage.lit(near)), (0, top))


def street(stage: Stage) -> None:
    w, h, hz = stage.w, stage.h, stage.horizon
    _ground(stage, (150, 150, 150), (70, 70, 76))
    stage.draw.rectangle([0, hz, w, hz + h * 0.05], fill=stage.lit((176, 172, 166)))
    stage.draw.rectangle([0, hz + h * 0.05, w, hz + h * 0.058], fill=stage.lit((120, 118, 116)))
    vp = (w * 0.5, hz - h * 0.1)
    for k in range(6):
        t0, t1 = 0.15 + k * 0.15, 0.22 + k * 0.15
        y0, y1 = hz + h * 0.058 + (h - hz) * t0 ** 1.5, hz + h * 0.058 + (h - hz) * t1 ** 1.5
        half0, half1 = w * 0.004 * (1 + t0 * 6), w * 0.004 * (1 + t1 * 6)
        stage.draw.polygon([(vp[0] - half0, y0), (vp[0] + half0, y0), (vp[0] + half1, y1), (vp[0] - half1, y1)],
            fill=stage.lit((226, 210, 120)))
    for i, x in enumerate((w * 0.08, w * 0.62)):
        tree(stage, x + w * 0.18, hz + h * 0.02, h * 0.12)
        street_lamp(stage, x, hz + h * 0.03, h * 0.22)


def park(stage: Stage) -> None:
    w, h, hz = stage.w, stage.h, stage.horizon
    _ground(stage, (120, 160, 90), (64, 110, 56))
    stage.draw.polygon([(w * 0.46, hz), (w * 0.54, hz), (w * 0.85, h), (w * 0.15, h)], fill=stage.lit((196, 178, 140)))
    for x, s in ((w * 0.1, 0.16), (w * 0.88, 0.2), (w * 0.7, 0.1), (w * 0.3, 0.09)):
        tree(stage, x, hz + h * 0.01, h * s)
    bx = w * 0.7
    stage.draw.rectangle([bx, hz + h * 0.035, bx + w * 0.2, hz + h * 0.045], fill=stage.lit(WOOD))
    stage.draw.rectangle([bx, hz + h * 0.015, bx + w * 0.2, hz + h * 0.025], fill=stage.lit(WOOD))
    for lx in (bx + w * 0.02, bx + w * 0.17):
        stage.draw.rectangle([lx, hz + h * 0.045, lx + w * 0.01, hz + h * 0.065], fill=(50, 50, 50))
    street_lamp(stage, w * 0.22, hz + h * 0.05, h * 0.2)


def waterside(stage: Stage) -> None:
    w, h, hz, pal = stage.w, stage.h, stage.horizon, stage.palette
    water_bottom = hz + h * 0.14
    water = vertical_gradient(w, int(water_bottom - hz), stage.lit(shade(pal.sky_horizon, 0.8)), stage.lit(shade(pal.sky_top, 0.7)))
    stage.image.paste(water, (0, int(hz)))
    rng = stage.rng
    for _ in range(40):
        x, y = rng.random() * w, hz + rng.random() * (water_bottom - hz)
        stage.draw.line([x, y, x + w * (0.02 + rng.random() * 0.05), y],
            fill=(*mix(pal.light, (255, 255, 255), 0.4), 140), width=max(1, h // 600))
    sand = vertical_gradient(w, int(h - water_bottom) + 1, stage.lit((214, 196, 160)), stage.lit((180, 160, 126)))
    stage.image.paste(sand, (0, int(water_bottom)))
    if re.search(r"river|bridge|河|江|桥|promenade", stage.place):
        for x in range(0, w + 1, max(4, w // 12)):
            stage.draw.rectangle([x, water_bottom - h * 0.05, x + w * 0.008, water_bottom], fill=(60, 60, 66))
        stage.draw.rectangle([0, water_bottom - h * 0.052, w, water_bottom - h * 0.044], fill=(60, 60, 66))


def _paving(stage: Stage, columns: int, rows: int) -> None:
    """Joints of slabs receding to a vanishing point above the horizon."""
    w, h, hz = stage.w, stage.h, stage.horizon
    seam = stage.lit((100, 94, 88))
    vp = (w * 0.5, hz - h * 0.2)
    for i in range(-columns, 2 * columns):
        bx = w * i / columns
        stage.draw.line([vp[0] + (bx - vp[0]) * (hz - vp[1]) / (h - vp[1]), hz, bx, h], fill=seam, width=max(1, w // 500))
    for k in range(1, rows):
        y = hz + (h - hz) * (k / rows) ** 1.7
        stage.draw.line([0, y, w, y], fill=seam, width=max(1, w // 500))


def rooftop(stage: Stage) -> None:
    w, h, hz = stage.w, stage.h, stage.horizon
    _ground(stage, (150, 146, 140), (96, 94, 92))
    _paving(stage, 4, 5)
    rail = (70, 72, 78)
    stage.draw.rectangle([0, hz - h * 0.06, w, hz - h * 0.052], fill=rail)
    for x in range(0, w + 1, max(4, w // 16)):
        stage.draw.rectangle([x, hz - h * 0.06, x + w * 0.006, hz], fill=rail)
    stage.draw.rectangle([w * 0.78, hz - h * 0.16, w * 0.96, hz + h * 0.02], fill=stage.lit((130, 120, 110)))
    stage.draw.ellipse([w * 0.78, hz - h * 0.175, w * 0.96, hz - h * 0.145], fill=stage.lit((150, 140, 130)))


def plaza(stage: Stage) -> None:
    w, h, hz = stage.w, stage.h, stage.horizon
    _ground(stage, (176, 168, 156), (120, 112, 104))
    _paving(stage, 10, 9)
    for x, s in ((w * 0.12, 0.13), (w * 0.86, 0.15)):
        tree(stage, x, hz + h * 0.01, h * s)
    street_lamp(stage, w * 0.3, hz + h * 0.02, h * 0.2)


EXTERIORS: list[tuple[str, Callable[[Stage], None]]] = [
    (r"street|road|alley|crossing|intersection|avenue|街|路|巷|马路|十字|phố|đường|hẻm|ngã tư", street),
    (r"park|garden|forest|field|yard|courtyard|公园|花园|森林|田|院|vườn|công viên|rừng|sân(?! thượng)", park),
    (r"beach|sea|ocean|river|lake|harbou?r|pier|bridge|海|河|江|湖|码头|桥|biển|sông|hồ|bến|cầu", waterside),
    (r"roof|terrace|balcony|天台|楼顶|屋顶|阳台|sân thượng|ban công|mái nhà", rooftop),
]


def dress_exterior(stage: Stage) -> None:
    painter = next((paint for pattern, paint in EXTERIORS if re.search(pattern, stage.place)), plaza)
    painter(stage)
