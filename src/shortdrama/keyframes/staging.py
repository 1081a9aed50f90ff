"""Blocking: where each character stands for a camera direction, and how the action poses them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .appearance import Appearance
from .base import CharacterLook
from .colour import stable_unit
from .figures import HALF_WIDTH_AT_REST, Placement, Pose


@dataclass(frozen=True)
class Shot:
    """How one camera direction frames the cast; lengths are fractions of the canvas height."""

    figure_height: float  # of the front rank's figure, before fitting the cast to the width
    crown_y: float  # where the front rank's crowns sit
    max_cast: int  # more characters than this are out of shot
    overlap: float  # how far neighbours may overlap (1 = shoulder to shoulder)
    margin: float  # of the canvas width, kept clear at each side
    backdrop_zoom: float  # how much closer the set is than in a wide shot
    backdrop_blur: float  # of the canvas width: shallow focus separates faces from the set
    ignore_height: bool  # a close framing normalises the subject's height
    centre_first: bool = False  # the most important character on the centre line, the rest flanking


SHOTS: dict[str, Shot] = {
    "close-up": Shot(1.95, 0.2, 1, 1.0, 0.0, 1.5, 0.007, True, True),
    "medium": Shot(1.5, 0.25, 3, 1.45, 0.03, 1.25, 0.0045, False),
    "zoom-in": Shot(0.62, 0.3, 5, 1.3, 0.04, 1.1, 0.002, False, True),
    "zoom-out": Shot(0.62, 0.3, 5, 1.3, 0.04, 1.1, 0.002, False, True),
    "static": Shot(0.46, 0.3, 6, 1.15, 0.04, 1.0, 0.0, False),
    "wide": Shot(0.38, 0.36, 8, 1.1, 0.05, 1.0, 0.0, False),
    "pan": Shot(0.36, 0.38, 8, 1.0, 0.02, 1.0, 0.0, False),
    "tilt": Shot(0.36, 0.52, 8, 1.1, 0.05, 1.0, 0.0, False),
}

MOODS: dict[str, str] = {
    "happy": r"smil|laugh|grin|happy|joy|celebrat|cheer|笑|开心|高兴|喜|乐",
    "sad": r"\bcr(y|ies|ied)\b|tear|sob|sad|weep|grief|mourn|哭|泪|伤心|难过|悲|哀",
    "angry": r"angr|anger|shout|yell|furious|slap|glare|rage|argu|scream|怒|吼|骂|吵|瞪|打|气|愤",
    "surprised": r"surpris|shock|gasp|stunn|astonish|freez|惊|震|愣|呆",
}

# (right arm, left arm) as (shoulder, elbow) degrees: the gesture a verb implies for its subject.
GESTURES: list[tuple[str, tuple[tuple[float, float], tuple[float, float]]]] = [
    (r"point|accus|指", ((64.0, -6.0), (10.0, 6.0))),
    (r"wave|greet|挥手|招手|打招呼", ((150.0, 25.0), (10.0, 6.0))),
    (r"phone|call|电话|手机", ((118.0, 140.0), (10.0, 6.0))),
    (r"hug|embrac|拥抱|抱住|相拥", ((52.0, 40.0), (24.0, 30.0))),
    (r"cross(es|ed)? (his |her |their )?arms|抱臂|抱着胳膊|双臂交叉", ((12.0, -118.0), (18.0, -112.0))),
    (r"hips|叉腰", ((36.0, -104.0), (36.0, -104.0))),
    (r"slap|hit|strike|扇|打", ((128.0, 30.0), (14.0, 8.0))),
    (r"raise|lift|toast|举|干杯", ((160.0, 4.0), (12.0, 6.0))),
    (r"hold|carr|hand(s|ed)? over|give|letter|document|cup|bag|ring|拿|捧|递|端|提", ((22.0, -68.0), (12.0, 8.0))),
]


def fit_cast(camera: str, appearances: list[Appearance], width: int, height: int) -> list[Placement]:
    """Placements for the visible cast, most important first; callers draw them in reverse."""
    shot = SHOTS[camera]
    cast = appearances[: shot.max_cast]
    if not cast:
        return []
    count = len(cast)
    usable = width * (1 - 2 * shot.margin)
    slot = usable / count
    tallest = max(1.0 if shot.ignore_height else app.height_scale for app in cast)
    fitted = slot * shot.overlap / (2 * HALF_WIDTH_AT_REST * tallest)
    u = min(shot.figure_height * height, fitted) if count > 1 else shot.figure_height * height
    crown = shot.crown_y * height
    if camera == "medium":
        # Keep the hips near the frame's foot however the cast size shrinks the figures.
        crown = min(max(height - 0.5 * u, 0.25 * height), 0.36 * height)

    if shot.centre_first:
        # The video step zooms on the frame's centre, so that is where the subject must stand.
        slots = [width / 2 + slot * ((rank + 1) // 2) * (1 if rank % 2 else -1) for rank in range(count)]
        centre_out = list(range(count))
    else:
        slots = [width * shot.margin + slot * (k + 0.5) for k in range(count)]
        centre_out = sorted(range(count), key=lambda k: (abs(k - (count - 1) / 2), -k))
    placements = []
    for rank, app in enumerate(cast):
        depth = 1.0 if rank == 0 else 0.93
        scale = 1.0 if shot.ignore_height else app.height_scale
        u_i = u * depth * scale
        ground = crown + u * depth + 0.012 * height * min(rank, 1)
        half = HALF_WIDTH_AT_REST * u_i
        cx = slots[centre_out[rank]]
        cx = width / 2 if half * 2 >= width else min(max(cx, half), width - half)
        placements.append(Placement(cx=cx, top=ground - u_i, u=u_i))
    return placements


def _mentions(text: str, look: CharacterLook) -> bool:
    lowered = text.lower()
    return any(token and token.lower() in lowered for token in (look.name, look.slug, look.slug.replace("-", " ")))


def _mood_of(action: str) -> str:
    lowered = action.lower()
    return next((mood for mood, pattern in MOODS.items() if re.search(pattern, lowered)), "neutral")


def pose_cast(action: str, seed: int, looks: list[CharacterLook], placements: list[Placement]) -> list[Pose]:
    """One pose per placed character: the acting subject gets the verb's gesture and mood."""
    mentioned = [i for i, look in enumerate(looks[: len(placements)]) if _mentions(action, look)]
    subject = mentioned[0] if mentioned else 0
    mood = _mood_of(action)
    lowered = action.lower()
    gesture = next((arms for pattern, arms in GESTURES if re.search(pattern, lowered)), None)
    poses = []
    for i, (look, place) in enumerate(zip(looks, placements)):
        # A small continuous sway keyed by the action, so every new beat restages the figures slightly.
        sway = stable_unit(action, look.slug, seed)
        elbow = stable_unit(action, look.slug, seed, "elbow")
        relaxed_right = (5.0 + 10.0 * sway, 4.0 + 16.0 * elbow)
        relaxed_left = (5.0 + 10.0 * (1 - sway), 4.0 + 16.0 * (1 - elbow))
        right, left = (gesture if gesture and i == subject else (relaxed_right, relaxed_left))
        others = [p.cx for j, p in enumerate(placements) if j != i]
        if others:
            target = placements[subject].cx if i != subject else min(others, key=lambda x: abs(x - place.cx))
            gaze = max(-1.0, min(1.0, (target - place.cx) / max(1.0, place.u * 0.3)))
        else:
            gaze = (sway - 0.5) * 0.6
        if gesture and i == subject and gaze < 0:
            right, left = left, right  # gesture with the arm on the side the subject faces
        face_mood = mood if (i == subject or i in mentioned) else "neutral"
        holding = "phone" if i == subject and re.search(GESTURES[2][0], lowered) and gesture == GESTURES[2][1] else ""
        poses.append(Pose(left_arm=left, right_arm=right, gaze=gaze, mood=face_mood, holding=holding))
    return poses
