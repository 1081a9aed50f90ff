"""Hosted voices: each character cast once to one of the provider's voices, and each dialogue line one
provider call (cached, priced, held under the budget, in the ledger as `speech_line`).

A line is its own request (text, voice id, speed, model), so changing one character's voice asks again
only for that character's lines: every other line of the scenes that rerun is answered by the cache.
The scene's track and cue timings are then laid out exactly as for the offline voice
(audio.dialogue.render_scene_dialogue); its speed-up of lines that do not fit becomes the API's speed.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import AppConfig, VoiceConfig
    from ..config.models import CharacterConfig
    from ..cost.call import Call, Runtime
    from .base import VoiceSpec
    from .casting import Record

# Providers that clone a voice from a reference sample, and how a cloned voice is named in a request
# (by the sample's content: a new recording is a new voice).
CLONING = frozenset({"elevenlabs", "minimax_speech"})
CLONE_PREFIX = "clone:"

# The speaking rate a hosted voice's speed 1.0 stands for in VoiceSpec (words per minute): the scene
# layout speeds a line up by raising its rate, which becomes the API's `speed`.
BASE_RATE = 165
SAMPLE_RATE = 48000


def voice_rate(speed: float) -> int:
    """A hosted voice's speed as the VoiceSpec rate (words per minute) the scene layout works with."""
    return min(450, max(80, round(BASE_RATE * speed)))


def cast_hosted_voice(voice: "VoiceConfig", cfg: "AppConfig", character_id: str,
                      checkout: Path | None = None, record: "Record | None" = None) -> dict[str, Any]:
    """The character's voice with the configured provider: the one its cast entry names
    (`series.cast.<id>.voice.<provider>.id`), a clone of its sample, else its casting from the provider's
    catalogue (voice.casting: recorded once, by gender and age). Returns {"voice", "speed"}, which go
    into every request of the character's lines."""
    character: CharacterConfig = cfg.series.cast[character_id]
    named = character.voice.get(voice.provider)
    speed = round(voice.speed * (named.speed if named is not None and named.speed else 1.0), 3)
    if named is not None and named.id:
        return {"voice": named.id, "speed": speed}
    if named is not None and named.sample:
        if voice.provider not in CLONING:
            raise ConfigError(f"voice={voice.provider} cannot clone a voice from a sample "
                              f"(series.cast.{character_id}.voice.{voice.provider}.sample): name a voice id")
        sample = str(Path(named.sample) if Path(named.sample).is_absolute() else (checkout or Path.cwd()) / named.sample)
        return {"voice": f"{CLONE_PREFIX}{validate_sample(sample, character.name)}", "sample": sample, "speed": speed}
    from .casting import cast_voice

    return {"voice": cast_voice(voice, cfg, character_id, record), "speed": speed}


@lru_cache(maxsize=64)
def _checked_sample(path: str, mtime: float, size: int, who: str) -> str:
    from ..audio.wav import decode_audio
    from ..cost.cache import file_digest
    from ..errors import MediaError

    where = f"{who}'s voice sample {path}"
    try:
        samples, rate = decode_audio(path)
    except MediaError as error:
        raise ConfigError(f"{where}: {error}") from None
    seconds = samples.size / rate if rate else 0.0
    problems = []
    if not 3.0 <= seconds <= 300.0:
        problems.append(f"{seconds:.1f} s long (3-300 s)")
    if rate < 16000:
        problems.append(f"{rate} Hz (at least 16000)")
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    if peak < 10 ** (-40 / 20):
        problems.append("silent")
    elif float(np.mean(np.abs(samples) >= 0.999)) > 0.001:
        problems.append("clipped")
    if problems:
        raise ConfigError(f"{where}: {', '.join(problems)}")
    return file_digest(path)[:16]


def validate_sample(path: str, who: str) -> str:
    """A reference sample fit to clone from (length, sample rate, not silent, not clipped): its digest."""
    try:
        stat = Path(path).stat()
    except OSError:
        raise ConfigError(f"{who}'s voice sample {path} does not exist") from None
    return _checked_sample(path, stat.st_mtime, stat.st_size, who)


def line_call(text: str, voice_id: str, rate: int, emotion: str = "", delivery: str = "", episode: int | None = None,
              scene: int | None = None, pitch: int = 0) -> "Call":
    """The provider call of one line: what is asked (text, voice, speed at `rate`, the script's hints, and
    the cast entry's pitch in semitones, each only where set)."""
    from ..cost.call import Call

    speed = round(min(4.0, max(0.25, rate / BASE_RATE)), 3)
    asked = {"text": text, "voice": voice_id, "speed": speed,
             **{hint: value for hint, value in (("emotion", emotion), ("delivery", delivery), ("pitch", pitch))
                if value}}
    return Call(rule="speak_dialogue", step="speech_line", version=1, request=asked, episode=episode, scene=scene)


def unbought_lines(voices: dict[str, dict[str, Any]], dialogue: list[dict[str, Any]], voice: "VoiceConfig",
                   runtime: "Runtime", episode: int | None, scene: int | None) -> list[str]:
    """The texts of a scene's lines the cache does not hold (what `plan` prices): each line is asked at its
    voice's own speed (a line sped up to fit is stretched locally), so its request is known before it runs."""
    from ..cost.call import call_key

    cache = runtime.cache
    missing = []
    for line in dialogue:
        cast = voices.get(line["speaker"])
        if cast is None:
            continue
        call = line_call(line["text"], cast["voice"], voice_rate(cast["speed"]), line.get("emotion") or "",
                         line.get("delivery") or "", episode, scene, cast.get("pitch", 0))
        if cache is None or cache.get(call_key(call, voice)) is None:
            missing.append(line["text"])
    return missing


@dataclass
class HostedLineVoice:
    """The `Voice` render_scene_dialogue speaks with: one cached provider call per line."""

    voice: "VoiceConfig"
    runtime: "Runtime"
    episode: int
    scene: int
    samples: dict[str, str] = field(default_factory=dict)  # "clone:<digest>" -> the sample's path
    # Each voice's own rate (its speed as VoiceSpec words per minute): a line the scene layout asks
    # faster than that is bought once at the voice's own speed and sped up here, never bought again.
    base_rates: dict[str, int] = field(default_factory=dict)
    sample_rate: int = SAMPLE_RATE

    def synthesize(self, text: str, spec: "VoiceSpec") -> np.ndarray:
        from dataclasses import replace

        from ..audio.wav import resample

        base = self.base_rates.get(spec.variant)
        if base is not None and spec.rate > base:
            return time_stretch(self.synthesize(text, replace(spec, rate=base)), spec.rate / base, self.sample_rate)
        from ..cost import pricing as price
        from ..cost.call import Billing, provider_call
        from .speech_api import decode_wav

        call = line_call(text, spec.variant, spec.rate, spec.emotion, spec.delivery, self.episode, self.scene,
                         spec.semitones)
        speed = call.request["speed"]

        def estimate(voice: "VoiceConfig") -> float:
            return price.speech_cost(voice.pricing, len(text))

        def produce(voice: "VoiceConfig", outputs: dict[str, Path]) -> Billing:
            voice_id = self._cloned(spec.variant) if spec.variant.startswith(CLONE_PREFIX) else spec.variant
            outputs["wav"].write_bytes(_speak(voice, voice_id, text, speed, spec.emotion, spec.delivery, spec.semitones))
            return Billing(cost_usd=price.speech_cost(voice.pricing, len(text)), model=voice.model, characters=len(text))

        with tempfile.TemporaryDirectory(prefix="line-") as folder:
            wav = Path(folder) / "line.wav"
            provider_call(self.runtime, call, self.voice, estimate, produce, {"wav": wav},
                          validate=lambda files: decode_wav(files["wav"].read_bytes(), f"speech ({self.voice.model})"))
            samples, rate = decode_wav(wav.read_bytes(), f"speech ({self.voice.model})")
        return resample(samples, rate, self.sample_rate)

    def _cloned(self, variant: str) -> str:
        """The provider's id of the voice cloned from a sample: one cached call per sample, so a
        character is cloned once, however many lines, scenes and builds speak with it."""
        from ..cost.call import Call, provider_call

        sample = Path(self.samples[variant])
        call = Call(rule="speak_dialogue", step="voice_clone", version=1, request={"clone": variant},
                    inputs={"sample": sample}, episode=self.episode, scene=self.scene)

        def produce(voice: "VoiceConfig", outputs: dict[str, Path]) -> None:
            from . import elevenlabs, minimax

            clone_voice = minimax.clone_voice if voice.provider == "minimax_speech" else elevenlabs.clone_voice
            voice_id = clone_voice(voice.base_url or "", voice.api_key_env, f"shortdrama {variant}", [sample],
                                   _policy(voice))
            outputs["voice"].write_text(json.dumps({"voice_id": voice_id}), encoding="utf-8")

        with tempfile.TemporaryDirectory(prefix="clone-") as folder:
            record = Path(folder) / "voice.json"
            provider_call(self.runtime, call, self.voice, lambda voice: voice.pricing.per_call, produce,
                          {"voice": record})
            return json.loads(record.read_text(encoding="utf-8"))["voice_id"]


def time_stretch(samples: np.ndarray, factor: float, sample_rate: int) -> np.ndarray:
    """`samples` spoken `factor` times faster at the same pitch (FFmpeg's atempo)."""
    from ..audio.wav import read_wav, write_wav
    from ..media import run_ffmpeg

    if samples.size == 0 or abs(factor - 1.0) < 1e-3:
        return samples
    with tempfile.TemporaryDirectory(prefix="stretch-") as folder:
        source, target = Path(folder) / "in.wav", Path(folder) / "out.wav"
        write_wav(source, samples, sample_rate)
        run_ffmpeg(["-i", source, "-filter:a", f"atempo={min(2.0, max(0.5, factor)):.4f}", "-ac", "1",
                    "-ar", str(sample_rate), target])
        stretched, _rate = read_wav(target)
    return stretched.reshape(-1).astype(np.float32) if stretched.ndim > 1 else stretched.astype(np.float32)


def _policy(voice: "VoiceConfig") -> Any:
    from ..http import RetryPolicy

    return RetryPolicy(max_attempts=voice.max_attempts, max_total_s=voice.max_total_s, request_timeout_s=voice.timeout_s)


def _speak(voice: "VoiceConfig", voice_id: str, text: str, speed: float, emotion: str = "", delivery: str = "",
           semitones: int = 0) -> bytes:
    """One line from the configured provider, as checked WAV bytes; the script's hints as the provider
    takes them (voice.emotion); the cast entry's pitch as the provider takes it (MiniMax), else shifted here."""
    if semitones and voice.provider != "minimax_speech":
        return _shifted(_speak(voice, voice_id, text, speed, emotion, delivery), semitones, voice.model)
    from . import emotion as hints

    if voice.provider == "elevenlabs":
        from .elevenlabs import speak

        return speak(voice.base_url or "", voice.api_key_env, voice_id, text, voice.model, speed, _policy(voice),
                     settings=hints.elevenlabs_settings(emotion))
    if voice.provider == "minimax_speech":
        from . import minimax

        return minimax.speak(voice.base_url or "", voice.api_key_env, voice_id, text, voice.model, speed,
                             _policy(voice), emotion=hints.basic(emotion), pitch=semitones)
    if voice.provider == "volcengine_speech":
        from . import volcengine

        return volcengine.speak(voice.base_url or "", voice.api_key_env, voice.app_id_env, voice_id, text, voice.model,
                                speed, _policy(voice), emotion=hints.volcengine(emotion))
    from .speech_api import NO_INSTRUCTIONS, SpeechRequest, synthesize

    if voice.model in NO_INSTRUCTIONS:  # tts-1 takes no instructions: the emotion's pace only
        speed = round(min(4.0, max(0.25, speed * hints.pace(emotion))), 3)
    return synthesize(voice.base_url or "", voice.api_key_env,
                      SpeechRequest(text=text, voice=voice_id, model=voice.model, speed=speed,
                                    instructions=hints.instructions(emotion, delivery)), _policy(voice))


def _shifted(wav: bytes, semitones: int, model: str) -> bytes:
    """A provider's answer `semitones` higher or lower, as WAV bytes again."""
    from ..audio.wav import write_wav
    from .base import pitch_shift
    from .speech_api import decode_wav

    samples, rate = decode_wav(wav, f"speech ({model})")
    with tempfile.TemporaryDirectory(prefix="pitched-") as folder:
        out = Path(folder) / "line.wav"
        write_wav(out, pitch_shift(samples, semitones, rate), rate)
        return out.read_bytes()
