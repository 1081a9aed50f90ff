"""ElevenLabs: text to speech with a voice id, and instant voice cloning from a reference sample.

- Speech: `POST {base_url}/text-to-speech/{voice_id}?output_format=pcm_24000` with the key in the
  `xi-api-key` header and `{"text", "model_id", "voice_settings": {"stability", "similarity_boost",
  "speed"}}`; the answer is raw 16-bit little-endian mono PCM at 24 kHz, wrapped here into WAV so it is
  checked (and cached) like every other voice's answer.
- Cloning: `POST {base_url}/voices/add`, multipart form (`name`, one or more `files`), answered with
  `{"voice_id": ...}`. The build makes it a provider call of its own (cached by the sample's content:
  one clone per character, never paid twice; voice.hosted).
- Errors come as `{"detail": {"status", "message"}}` (422: `{"detail": [...]}`).
"""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path
from typing import Any, Callable

import httpx

from ..errors import ProviderError
from ..http import RetryPolicy, api_key, request

PCM_RATE = 24000


def speak(base_url: str, key_env: str | None, voice_id: str, text: str, model: str, speed: float,
          policy: RetryPolicy, settings: dict[str, Any] | None = None,
          sleep: Callable[[float], None] | None = None) -> bytes:
    """One line as WAV bytes (checked: whole, audible audio)."""
    from .speech_api import decode_wav

    key = api_key(key_env, "elevenlabs")
    body = {"text": text, "model_id": model,
            "voice_settings": {"stability": 0.5, "similarity_boost": 0.75, **(settings or {}),
                               "speed": min(1.2, max(0.7, speed))}}
    url = f"{base_url.rstrip('/')}/text-to-speech/{voice_id}"
    response = _send(lambda client: request(
        client, "POST", url, policy=policy, what=f"elevenlabs speech ({model})", params={"output_format": f"pcm_{PCM_RATE}"},
        json=body, headers=_headers(key), **({"sleep": sleep} if sleep else {})))
    pcm = response.content
    if response.headers.get("content-type", "").startswith("application/json") or len(pcm) % 2:
        raise ProviderError(f"elevenlabs speech ({model}): the answer is not 16-bit PCM ({len(pcm)} bytes: "
                            f"{pcm[:60].decode('utf-8', 'replace')!r})")
    wav = _wav(pcm)
    decode_wav(wav, f"elevenlabs speech ({model})")
    return wav


def clone_voice(base_url: str, key_env: str | None, name: str, samples: list[Path], policy: RetryPolicy,
                sleep: Callable[[float], None] | None = None) -> str:
    """Instant voice cloning: the new voice's id."""
    key = api_key(key_env, "elevenlabs")
    files = [("files", (path.name, path.read_bytes(), "audio/wav")) for path in samples]
    response = _send(lambda client: request(
        client, "POST", f"{base_url.rstrip('/')}/voices/add", policy=policy, what="elevenlabs voice cloning",
        resend=False, data={"name": name, "remove_background_noise": "false"}, files=files, headers=_headers(key),
        **({"sleep": sleep} if sleep else {})))
    try:
        voice_id = response.json()["voice_id"]
    except (ValueError, KeyError, TypeError):
        raise ProviderError(f"elevenlabs voice cloning: no voice_id in the answer ({response.text[:120]!r})") from None
    if not isinstance(voice_id, str) or not voice_id:
        raise ProviderError("elevenlabs voice cloning: an empty voice_id")
    return voice_id


def _headers(key: str | None) -> dict[str, str]:
    return {"xi-api-key": key} if key else {}


def _send(send: Callable[[httpx.Client], httpx.Response]) -> httpx.Response:
    with httpx.Client() as client:
        try:
            return send(client)
        except ProviderError as error:
            raise ProviderError(_explained(error)) from None


def _explained(error: ProviderError) -> str:
    """ElevenLabs' own message (`{"detail": {"status", "message"}}`), where the answer has one."""
    try:
        detail = json.loads(getattr(error, "body", "") or "").get("detail")
    except (ValueError, AttributeError):
        return str(error)
    if isinstance(detail, dict) and detail.get("message"):
        return f"elevenlabs: HTTP {getattr(error, 'status', '?')}: {detail.get('status', '')}: {detail['message']}"
    if isinstance(detail, list) and detail:
        return f"elevenlabs: HTTP {getattr(error, 'status', '?')}: {detail[0].get('msg', detail[0])}"
    return str(error)


def _wav(pcm: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(PCM_RATE)
        wav.writeframes(pcm)
    return out.getvalue()
