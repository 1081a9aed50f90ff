"""Hosted voices: each character cast once to one of the provider's voices, and each dialogue line one
provider call (cached, priced, held under the budget, in the ledger as `speech_line`).

A line is its own request (text, voice id, speed, model), so changing one character's voice asks again
only for that character's lines: every other line of the scenes that rerun is answered by the cache.
The scene's track and cue timings are then laid out exactly as for the offline voice
(audio.dialogue.render_scene_dialogue); its speed-up of lines that do not fit becomes the API's speed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import AppConfig, VoiceConfig
    from ..config.models import CharacterConfig
    from ..cost.call import Runtime
    from .base import VoiceSpec

# The speaking rate a hosted voice's speed 1.0 stands for in VoiceSpec (words per minute): the scene
# layout speeds a line up by raising its rate, which becomes the API's `speed`.
BASE_RATE = 165
SAMPLE_RATE = 48000


def cast_hosted_voice(voice: "VoiceConfig", cfg: "AppConfig", character_id: str) -> dict[str, Any]:
    """The character's voice with the configured provider: the one its cast entry names
    (`series.cast.<id>.voice.<provider>.id`), else the next of its gender in the provider's catalogue,
    in cast order. Returns {"voice", "speed"}, which go into every request of the character's lines."""
    character: CharacterConfig = cfg.series.cast[character_id]
    named = character.voice.get(voice.provider)
    speed = round(voice.speed * (named.speed if named is not None and named.speed else 1.0), 3)
    if named is not None and named.id:
        return {"voice": named.id, "speed": speed}
    gender = character.gender or "any"
    pool = voice.catalogue.get(gender) or voice.catalogue.get("any") or []
    if not pool:
        raise ConfigError(f"voice={voice.provider}: {character.name} has no voice named "
                          f"(series.cast.{character_id}.voice.{voice.provider}.id) and the preset has no "
                          f"{gender} voices in its catalogue to cast from")
    same = [cid for cid, c in cfg.series.cast.items() if (c.gender or "any") == gender
            and not (c.voice.get(voice.provider) and c.voice[voice.provider].id)]
    return {"voice": pool[same.index(character_id) % len(pool)], "speed": speed}


@dataclass
class HostedLineVoice:
    """The `Voice` render_scene_dialogue speaks with: one cached provider call per line."""

    voice: "VoiceConfig"
    runtime: "Runtime"
    episode: int
    scene: int
    sample_rate: int = SAMPLE_RATE

    def synthesize(self, text: str, spec: "VoiceSpec") -> np.ndarray:
        from ..audio.wav import resample
        from ..cost import pricing as price
        from ..cost.call import Billing, Call, provider_call
        from ..http import RetryPolicy
        from .speech_api import SpeechRequest, decode_wav, synthesize

        speed = round(min(4.0, max(0.25, spec.rate / BASE_RATE)), 3)
        asked = {"text": text, "voice": spec.variant, "speed": speed}
        call = Call(rule="speak_dialogue", step="speech_line", version=1, request=asked, episode=self.episode,
                    scene=self.scene)

        def estimate(voice: "VoiceConfig") -> float:
            return price.speech_cost(voice.pricing, len(text))

        def produce(voice: "VoiceConfig", outputs: dict[str, Path]) -> Billing:
            policy = RetryPolicy(max_attempts=voice.max_attempts, max_total_s=voice.max_total_s,
                                 request_timeout_s=voice.timeout_s)
            audio = synthesize(voice.base_url or "", voice.api_key_env,
                               SpeechRequest(text=text, voice=spec.variant, model=voice.model, speed=speed), policy)
            outputs["wav"].write_bytes(audio)
            return Billing(cost_usd=price.speech_cost(voice.pricing, len(text)), model=voice.model)

        with tempfile.TemporaryDirectory(prefix="line-") as folder:
            wav = Path(folder) / "line.wav"
            provider_call(self.runtime, call, self.voice, estimate, produce, {"wav": wav},
                          validate=lambda files: decode_wav(files["wav"].read_bytes(), f"speech ({self.voice.model})"))
            samples, rate = decode_wav(wav.read_bytes(), f"speech ({self.voice.model})")
        return resample(samples, rate, self.sample_rate)
