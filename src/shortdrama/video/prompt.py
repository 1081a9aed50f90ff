"""The text prompt a hosted video model gets for one scene: camera, who is on screen and how they
look, what happens, and where; the keyframe travels beside it as the reference image."""

from __future__ import annotations

from typing import Mapping, Sequence

CAMERA_PHRASES = {
    "close-up": "Close-up shot", "medium": "Medium shot", "wide": "Wide establishing shot",
    "pan": "Slow horizontal pan", "tilt": "Slow vertical tilt", "zoom-in": "Slow push-in",
    "zoom-out": "Slow pull-out", "static": "Locked-off static shot",
}
STYLE = "vertical 9:16 short drama, cinematic lighting, consistent characters, sharp focus"


def video_prompt(camera: str, setting: str, place: str, action: str, characters: Sequence[Mapping[str, str]]) -> str:
    people = "; ".join(f"{c['name']} ({c['look']})" for c in characters)
    shot = CAMERA_PHRASES.get(camera, camera)
    where = f"{'interior' if setting == 'INT' else 'exterior'}, {place}"
    return f"{shot}. {action.rstrip(' .。')}. On screen: {people}. Setting: {where}. Style: {STYLE}."
