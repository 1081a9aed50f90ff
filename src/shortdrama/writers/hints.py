"""A dialogue line's emotion and delivery hints as the writers write them (schemas.DialogueLine).

The script schema takes any emotion word (a hand edit may want one that only an instructable voice
follows, "smug"), but the writers write only the words `voice.emotion` knows (`EMOTIONS`: its seven
basic emotions and their synonyms), so a written hint does something on every voice: MiniMax's
emotion, ElevenLabs' settings, eSpeak's and `tts-1`'s pace. A delivery is a short English direction
("barely a whisper") for the voices that take instructions; it is never shown or spoken.

The LLM writer asks for both (the strict schema enumerates `EMOTIONS`, the prompt lists them for the
other modes) and reads replies without them as before. A hint it cannot use (a word outside
`EMOTIONS`, a delivery too long or not plain text) is left out with a logged note rather than sent
back for a repair: a hint is optional and only colours a voice, so it is not worth a paid round trip,
let alone an episode that fails once the repair rounds are spent.
"""

from __future__ import annotations

import logging
from typing import Any

from ..schemas import DialogueLine, text_problem
from ..voice.emotion import BASIC, SYNONYMS, basic

log = logging.getLogger(__name__)

EMOTIONS: tuple[str, ...] = (*BASIC, *SYNONYMS)
HINTS = ("emotion", "delivery")
# Words a model writes for "no hint" instead of null.
_NOTHING = frozenset({"", "none", "null", "n/a", "na", "-"})


def _max_length(field: str) -> int:
    return next(m.max_length for m in DialogueLine.model_fields[field].metadata if hasattr(m, "max_length"))


DELIVERY_MAX_LENGTH = _max_length("delivery")


def emotion_problem(value: Any) -> str | None:
    """Why a written emotion is not one the writers may write, or None."""
    if not isinstance(value, str) or basic(value) is None:
        return f"emotion {_quoted(value)} is not one the voices know"
    return None


def delivery_problem(value: Any) -> str | None:
    """Why a written delivery is not usable, or None."""
    if not isinstance(value, str):
        return f"delivery {_quoted(value)} is not text"
    if len(value) > DELIVERY_MAX_LENGTH:
        return f"delivery {_quoted(value)} is longer than {DELIVERY_MAX_LENGTH} characters"
    if problem := text_problem(value):
        return f"delivery {_quoted(value)} {problem}"
    return None


def usable_hints(item: Any, label: str) -> Any:
    """A scene of a reply with every dialogue line's hints usable: an emotion lower-cased and kept when
    `voice.emotion` knows it, a delivery with its spaces collapsed and kept when it is plain text of at
    most DELIVERY_MAX_LENGTH characters; anything else (and "none", "") is left out, with a note logged
    for the unusable ones. Anything that is not a scene with a list of line objects is returned as it is
    (validation names what is wrong with it)."""
    lines = item.get("dialogue") if isinstance(item, dict) else None
    if not isinstance(lines, list):
        return item
    cleaned, notes = [], []
    for number, line in enumerate(lines, start=1):
        if not isinstance(line, dict):
            cleaned.append(line)
            continue
        line = dict(line)
        for hint, normal, problem in (("emotion", _word, emotion_problem), ("delivery", _direction, delivery_problem)):
            value = normal(line.get(hint))
            if isinstance(value, str) and value.lower() in _NOTHING:
                value = None
            if value is not None and (why := problem(value)):
                notes.append(f"line {number}: {why}")
                value = None
            if value is None:
                line.pop(hint, None)
            else:
                line[hint] = value
        cleaned.append(line)
    if notes:
        log.warning("%s: %s; left out (a voice hint is optional, not worth a repair round; the words the voices "
                    "know: writers/hints.py EMOTIONS)", label, "; ".join(notes))
    return {**item, "dialogue": cleaned}


def _word(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _direction(value: Any) -> Any:
    return " ".join(value.split()) if isinstance(value, str) else value


def _quoted(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
