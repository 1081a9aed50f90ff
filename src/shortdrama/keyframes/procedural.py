"""The offline keyframe generator: a drawn storyboard frame per scene, no model weights.

The picture is painted at twice the output size and reduced, which anti-aliases every
shape; text goes on afterwards at the output size. Nothing reads the clock or a global
random state, so one request always yields the same PNG bytes.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from ..errors import ProviderError
from ..media import atomic_output
from .appearance import Appearance, character_appearance
from .backdrops import draw_backdrop, scene_palette
from .colour import soft_blur
from .base import CAMERAS, KeyframeRequest
from .figures import Placement, draw_figure
from .overlays import NameTag, caption_band, grade, name_tags
from .staging import SHOTS, fit_cast, pose_cast

__all__ = ["Appearance", "ProceduralKeyframes", "character_appearance", "normalise_camera", "normalise_setting"]

SUPERSAMPLE = 2
MAX_SIDE = 4096
CAMERA_ALIASES = {"closeup": "close-up", "close": "close-up", "zoomin": "zoom-in", "zoomout": "zoom-out", "mid": "medium"}


def normalise_camera(camera: str) -> str:
    key = "-".join(str(camera).strip().lower().replace("_", " ").replace("-", " ").split())
    key = CAMERA_ALIASES.get(key.replace("-", ""), key)
    if key not in CAMERAS:
        raise ProviderError(f"unknown camera direction {camera!r}; expected one of {', '.join(CAMERAS)}")
    return key


def normalise_setting(setting: str) -> str:
    key = str(setting).strip().upper().rstrip(".")
    if key in ("INT", "INTERIOR", "内", "内景") or key.startswith(("INT/", "INT.", "I/E")):
        return "INT"
    if key in ("EXT", "EXTERIOR", "外", "外景") or key.startswith(("EXT/", "EXT.")):
        return "EXT"
    raise ProviderError(f"unknown scene setting {setting!r}; expected INT or EXT")


def _validate(request: KeyframeRequest) -> tuple[str, str]:
    for label, value in (("width", request.width), ("height", request.height)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ProviderError(f"keyframe {label} must be a positive integer, got {value!r}")
        if value > MAX_SIDE:
            raise ProviderError(f"keyframe {label} {value} exceeds the {MAX_SIDE}px limit")
    return normalise_camera(request.camera), normalise_setting(request.setting)


def _contact_shadows(canvas: Image.Image, placements: list[Placement]) -> None:
    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    visible = False
    for place in placements:
        feet = place.top + place.u * 0.99
        if feet < canvas.height:
            visible = True
            draw.ellipse([place.cx - 0.17 * place.u, feet - 0.025 * place.u, place.cx + 0.19 * place.u, feet + 0.02 * place.u],
                fill=(12, 10, 18, 120))
    if visible:
        overlay = soft_blur(overlay, canvas.width * 0.006)
        canvas.paste(overlay, (0, 0), overlay)


class ProceduralKeyframes:
    """ImageGenerator that paints a stylised storyboard frame with Pillow and numpy."""

    def __init__(self, show_caption: bool = True, show_name_tags: bool = True):
        self.show_caption = show_caption
        self.show_name_tags = show_name_tags

    def generate(self, request: KeyframeRequest, out_path: Path) -> None:
        image = self.render(request)
        with atomic_output(out_path, suffix=".png") as tmp:
            image.save(tmp, format="PNG", optimize=False)

    def render(self, request: KeyframeRequest) -> Image.Image:
        camera, setting = _validate(request)
        width, height = request.width * SUPERSAMPLE, request.height * SUPERSAMPLE
        shot = SHOTS[camera]
        palette = scene_palette(setting, request.place)

        canvas = draw_backdrop(width, height, setting, request.place)
        if shot.backdrop_zoom != 1.0 or shot.backdrop_blur:
            # The camera is closer to the same set: magnify it around the actors' eye line, and
            # throw it out of focus; both happen at half size since the result is soft anyway.
            crop_w, crop_h = width / shot.backdrop_zoom, height / shot.backdrop_zoom
            cx, cy = width / 2, height * 0.42
            box = (cx - crop_w / 2, max(0.0, cy - crop_h / 2), cx + crop_w / 2, max(0.0, cy - crop_h / 2) + crop_h)
            half = (width // 2, height // 2)
            canvas = canvas.resize(half, Image.BICUBIC, box=box)
            if shot.backdrop_blur:
                canvas = soft_blur(canvas, shot.backdrop_blur * half[0])
            canvas = canvas.resize((width, height), Image.BICUBIC)

        looks = list(request.characters)
        appearances = [character_appearance(look) for look in looks]
        placements = fit_cast(camera, appearances, width, height)
        poses = pose_cast(request.action, request.seed, looks, placements)
        _contact_shadows(canvas, placements)
        for rank in reversed(range(len(placements))):
            draw_figure(canvas, appearances[rank], poses[rank], placements[rank], palette.ambient)

        image = grade(canvas.reduce(SUPERSAMPLE), palette.time)
        if self.show_name_tags and placements:
            tags = []
            for look, app, place in zip(looks, appearances, placements):
                crown = place.top - (0.035 * place.u if app.hair_style == "bun" or "hat" in app.accessories else 0.0)
                tags.append(NameTag(look.name, app.top, place.cx / SUPERSAMPLE, crown / SUPERSAMPLE))
            name_tags(image, tags)
        if self.show_caption and request.caption.strip():
            caption_band(image, request.caption)
        return image
