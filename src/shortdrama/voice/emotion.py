"""A dialogue line's emotion and delivery (script hints) as each voice provider can take them.

The script says it in words (`"emotion": "furious"`, `"delivery": "barely a whisper"`); a provider takes
what it has: OpenAI's instructable models (`gpt-4o-mini-tts`) a sentence of instructions, MiniMax its
own emotion names, Volcengine its own (on its multi-emotion voices), ElevenLabs its voice settings
(lower stability and more style for intense lines), and eSpeak NG and OpenAI's `tts-1` only pace (and
eSpeak pitch). Unknown words are passed on where a provider takes free text and otherwise leave the
voice as it is.
"""

from __future__ import annotations

BASIC = ("happy", "sad", "angry", "fearful", "disgusted", "surprised", "neutral")
SYNONYMS = {
    "furious": "angry", "enraged": "angry", "mad": "angry", "annoyed": "angry", "irritated": "angry",
    "bitter": "angry", "scared": "fearful", "afraid": "fearful", "terrified": "fearful", "anxious": "fearful",
    "nervous": "fearful", "shocked": "surprised", "astonished": "surprised", "stunned": "surprised",
    "joyful": "happy", "glad": "happy", "excited": "happy", "delighted": "happy", "tender": "happy",
    "sorrowful": "sad", "heartbroken": "sad", "grieving": "sad", "hurt": "sad", "tearful": "sad",
    "disgust": "disgusted", "contemptuous": "disgusted", "calm": "neutral", "cold": "neutral", "flat": "neutral",
}
# How much faster (>1) or slower a basic emotion is spoken, and eSpeak's pitch offset for it (0-99 scale).
PACE = {"angry": 1.08, "fearful": 1.1, "surprised": 1.05, "happy": 1.04, "sad": 0.9, "disgusted": 0.97, "neutral": 1.0}
PITCH = {"angry": 6, "fearful": 12, "surprised": 10, "happy": 6, "sad": -8, "disgusted": -4, "neutral": 0}
INTENSE = {"angry", "fearful", "surprised"}
# Volcengine's emotion values (docs/6561/1257544, multi-emotion voices): the basic seven under its names,
# and words of its own that a script may use directly.
VOLCENGINE = {"happy": "happy", "sad": "sad", "angry": "angry", "fearful": "fear", "disgusted": "hate",
              "surprised": "surprised", "neutral": "neutral"}
VOLCENGINE_OWN = {"excited": "excited", "cold": "coldness", "coldness": "coldness", "depressed": "depressed"}


def basic(emotion: str | None) -> str | None:
    """The basic emotion a word names (MiniMax's seven), if it names one."""
    if not emotion:
        return None
    word = emotion.strip().lower()
    return word if word in BASIC else SYNONYMS.get(word)


def pace(emotion: str | None) -> float:
    return PACE.get(basic(emotion) or "neutral", 1.0)


def pitch_offset(emotion: str | None) -> int:
    return PITCH.get(basic(emotion) or "neutral", 0)


def instructions(emotion: str | None, delivery: str | None) -> str:
    """A sentence for instructable speech models."""
    parts = [f"Speak {emotion.strip()}" if emotion else "", delivery.strip() if delivery else ""]
    text = "; ".join(p for p in parts if p)
    return f"{text}." if text else ""


def volcengine(emotion: str | None) -> str | None:
    """Volcengine's emotion value for a word: its own (excited, coldness, depressed), else the basic one's."""
    word = emotion.strip().lower() if emotion else ""
    return VOLCENGINE_OWN.get(word) or VOLCENGINE.get(basic(emotion) or "")


def elevenlabs_settings(emotion: str | None) -> dict[str, float]:
    """ElevenLabs voice settings: an intense line less stable and more styled, a sad one a little less stable."""
    kind = basic(emotion)
    if kind in INTENSE:
        return {"stability": 0.3, "style": 0.6}
    if kind in ("sad", "happy", "disgusted"):
        return {"stability": 0.4, "style": 0.4}
    return {}
