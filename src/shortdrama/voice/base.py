"""What a voice is, and how a cast member gets one.

A `VoiceSpec` is plain data so it can live in a script or a lock file; a `Voice` turns
text plus a spec into samples. Casting is deterministic so a rebuild never recasts anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import ProviderError

PITCH_RANGE = (0, 99)
# espeak-ng refuses to go slower than 80 wpm and its plain synthesiser tops out at 450.
RATE_RANGE = (80, 450)


@dataclass(frozen=True)
class VoiceSpec:
    language: str  # espeak-ng voice code, e.g. "en-us", "cmn", "vi"
    variant: str  # espeak-ng variant name, e.g. "m3", "f2"
    pitch: int  # 0-99, 50 is the variant's natural pitch
    rate: int  # words per minute
    emotion: str = ""  # the line's hints from the script (voice.emotion maps them per provider)
    delivery: str = ""
    semitones: int = 0  # the cast entry's pitch (series.cast.<id>.voice.<provider>.pitch), -12..12

    def __post_init__(self) -> None:
        if not PITCH_RANGE[0] <= self.pitch <= PITCH_RANGE[1]:
            raise ProviderError(f"voice pitch {self.pitch} is outside {PITCH_RANGE[0]}-{PITCH_RANGE[1]}")
        if not RATE_RANGE[0] <= self.rate <= RATE_RANGE[1]:
            raise ProviderError(f"voice rate {self.rate} wpm is outside {RATE_RANGE[0]}-{RATE_RANGE[1]}")
        if not self.language or not self.variant:
            raise ProviderError("a voice needs both a language and a variant")


class Voice(Protocol):
    sample_rate: int

    def synthesize(self, text: str, spec: VoiceSpec) -> np.ndarray:
        """Speak `text`; float32 mono in [-1, 1] at `self.sample_rate`, silence trimmed."""
        ...


# Series languages are BCP-47-ish; espeak-ng names Mandarin "cmn" and needs "en-us" for
# the American accent most short dramas expect.
SERIES_LANGUAGE_TO_ESPEAK = {
    "en": "en-us",
    "en-us": "en-us",
    "en-gb": "en",
    "zh": "cmn",
    "zh-cn": "cmn",
    "zh-hans": "cmn",
    "cmn": "cmn",
    "vi": "vi",  # espeak-ng's northern (Hanoi) Vietnamese, six tones, from its vi_dict
    "vi-vn": "vi",
}

# Ordered so neighbours in the list differ most: a two-person scene gets very unlike voices.
FEMALE_VARIANTS = ("f2", "f4", "f1", "f5", "f3")
MALE_VARIANTS = ("m3", "m1", "m7", "m2", "m6", "m4")
ANY_VARIANTS = ("m3", "f2", "m1", "f4", "m7", "f1", "m2", "f5", "m6", "f3", "m4")

# Pitch and pace offsets cycle with a period coprime to every pool size, so the
# (variant, pitch) pair only repeats after dozens of characters.
_PITCH_STEPS = (50, 36, 64, 43, 57, 30, 70)
_RATE_OFFSETS = (0, 8, -6, 4, -10, 12, -3)


def espeak_language(language: str) -> str:
    """The espeak-ng voice code for a series language code."""
    key = language.strip().lower().replace("_", "-")
    try:
        return SERIES_LANGUAGE_TO_ESPEAK[key]
    except KeyError:
        known = ", ".join(sorted(SERIES_LANGUAGE_TO_ESPEAK))
        raise ProviderError(f"no offline voice for language {language!r} (known: {known})") from None


def voice_for_character(
    index: int,
    gender: str | None,
    language: str,
    base_rate: int = 165,
    pitch: int | None = None,
    variant: str | None = None,
) -> VoiceSpec:
    """The voice of the `index`-th cast member; the same inputs always give the same voice."""
    if index < 0:
        raise ProviderError(f"character index must be non-negative, got {index}")
    pools = {"female": FEMALE_VARIANTS, "male": MALE_VARIANTS, None: ANY_VARIANTS}
    normalized_gender = gender.strip().lower() if gender else None
    if normalized_gender not in pools:
        raise ProviderError(f"unknown gender {gender!r} (use 'female', 'male' or leave it empty)")
    pool = pools[normalized_gender]
    chosen_variant = variant or pool[index % len(pool)]
    chosen_pitch = pitch if pitch is not None else _PITCH_STEPS[index % len(_PITCH_STEPS)]
    rate = base_rate + _RATE_OFFSETS[index % len(_RATE_OFFSETS)]
    rate = min(max(rate, RATE_RANGE[0]), RATE_RANGE[1])
    return VoiceSpec(language=espeak_language(language), variant=chosen_variant, pitch=chosen_pitch, rate=rate)


def with_hints(spec: VoiceSpec, emotion: str | None, delivery: str | None, offline: bool) -> VoiceSpec:
    """The speaker's voice for one line with the script's hints: carried as words to a hosted voice;
    for eSpeak NG (which takes no emotion) as pace and pitch."""
    from dataclasses import replace

    from .emotion import pace, pitch_offset

    if not emotion and not delivery:
        return spec
    if not offline:
        return replace(spec, emotion=emotion or "", delivery=delivery or "")
    return replace(spec, pitch=min(PITCH_RANGE[1], max(PITCH_RANGE[0], spec.pitch + pitch_offset(emotion))),
                   rate=min(RATE_RANGE[1], max(RATE_RANGE[0], round(spec.rate * pace(emotion)))))


def pitch_shift(samples: np.ndarray, semitones: int, sample_rate: int) -> np.ndarray:
    """`samples` `semitones` higher (lower when negative), as long as before (FFmpeg asetrate + atempo)."""
    import tempfile
    from pathlib import Path

    from ..audio.wav import read_wav, write_wav
    from ..media import run_ffmpeg

    if not semitones or samples.size == 0:
        return samples
    factor = 2 ** (semitones / 12)
    with tempfile.TemporaryDirectory(prefix="pitch-") as folder:
        source, target = Path(folder) / "in.wav", Path(folder) / "out.wav"
        write_wav(source, samples, sample_rate)
        run_ffmpeg(["-i", source, "-filter:a", f"asetrate={sample_rate * factor:.3f},aresample={sample_rate},"
                    f"atempo={1 / factor:.6f}", "-ac", "1", "-ar", str(sample_rate), target])
        shifted, _rate = read_wav(target)
    shifted = shifted.reshape(-1).astype(np.float32)
    # atempo's last window may come back short: the line keeps its exact length (its cues were laid on it).
    out = np.zeros(samples.size, dtype=np.float32)
    out[: min(out.size, shifted.size)] = shifted[: out.size]
    return out


@dataclass
class PitchedVoice:
    """A voice with no pitch of its own (eSpeak NG variants, Piper speakers) shifted by the spec's semitones."""

    inner: Voice

    @property
    def sample_rate(self) -> int:
        return self.inner.sample_rate

    def synthesize(self, text: str, spec: VoiceSpec) -> np.ndarray:
        from dataclasses import replace

        samples = self.inner.synthesize(text, replace(spec, semitones=0))
        return pitch_shift(samples, spec.semitones, self.inner.sample_rate)

