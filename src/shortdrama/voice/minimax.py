"""MiniMax speech (T2A v2, strong in Mandarin): `POST {base_url}/t2a_v2` with the key as a Bearer token.

    {"model": "speech-02-hd", "text": ..., "stream": false,
     "voice_setting": {"voice_id", "speed" (0.5-2), "vol": 1, "pitch": 0, "emotion"?},
     "audio_setting": {"sample_rate": 32000, "format": "wav", "channel": 1}}
    -> {"data": {"audio": "<hex>", "status": 2}, "extra_info": {"audio_length", "usage_characters", ...},
        "base_resp": {"status_code": 0, "status_msg": "success"}}

Like MiniMax's video API it answers most errors with HTTP 200 and a nonzero `base_resp.status_code`:
1002 rate limit (retried), 1004/2049 a bad key, 1008 an empty balance, 1026 sensitive text, 2013
invalid parameters; 1000/1001/1013 (unknown error, timeout, internal error) are retried (a speech
request creates nothing on the server). The audio comes hex-encoded inside the JSON; it is decoded and
checked (whole, audible WAV) before anyone caches it. `emotion` is MiniMax's own parameter (happy, sad,
angry, fearful, disgusted, surprised, neutral).
"""

from __future__ import annotations

import binascii
from typing import Any, Callable, Literal

import httpx

from ..errors import ProviderError
from ..http import RetryPolicy, api_key, auth_headers, request
from ..video.vendors.minimax import answer_json, base_resp_code

RATE_LIMIT = 1002
_RETRIED = {1000, 1001, RATE_LIMIT, 1013}
_MESSAGES = {1004: "MiniMax refused the key", 2049: "MiniMax refused the key",
             1008: "the MiniMax account's balance is used up: top it up and rerun",
             1026: "MiniMax flagged the line's text as sensitive: change the line",
             2013: "MiniMax refused the parameters"}
EMOTIONS = ("happy", "sad", "angry", "fearful", "disgusted", "surprised", "neutral")
SAMPLE_RATE = 32000


def speak(base_url: str, key_env: str | None, voice_id: str, text: str, model: str, speed: float,
          policy: RetryPolicy, emotion: str | None = None, sleep: Callable[[float], None] | None = None) -> bytes:
    """One line as WAV bytes (checked: whole, audible audio)."""
    from .speech_api import decode_wav

    key = api_key(key_env, "minimax")
    voice: dict[str, Any] = {"voice_id": voice_id, "speed": min(2.0, max(0.5, speed)), "vol": 1, "pitch": 0}
    if emotion in EMOTIONS:
        voice["emotion"] = emotion
    body = {"model": model, "text": text, "stream": False, "voice_setting": voice,
            "audio_setting": {"sample_rate": SAMPLE_RATE, "format": "wav", "channel": 1}}
    what = f"minimax speech ({model})"
    with httpx.Client() as client:
        try:
            response = request(client, "POST", f"{base_url.rstrip('/')}/t2a_v2", policy=policy, what=what,
                               json=body, headers=auth_headers(key), judge=_judge, **({"sleep": sleep} if sleep else {}))
        except ProviderError as error:
            raise ProviderError(_explained(error, what)) from None
    reply = answer_json(response.text)
    audio = (reply.get("data") or {}).get("audio") if isinstance(reply.get("data"), dict) else None
    if not isinstance(audio, str) or not audio:
        raise ProviderError(f"{what}: no audio in the answer ({response.text[:120]!r})")
    try:
        wav = binascii.unhexlify(audio)
    except (binascii.Error, ValueError):
        raise ProviderError(f"{what}: the audio is not hex ({audio[:40]!r})") from None
    decode_wav(wav, what)
    return wav


def _judge(response: httpx.Response) -> Literal["retry", "final"] | None:
    if response.status_code != 200:
        return None
    code = base_resp_code(answer_json(response.text))
    if code in _RETRIED:
        return "retry"
    return "final" if code else None


def _explained(error: ProviderError, what: str) -> str:
    reply = answer_json(getattr(error, "body", "") or "")
    code = base_resp_code(reply)
    if code is None:
        return str(error)
    message = str((reply.get("base_resp") or {}).get("status_msg") or "")
    return f"{what}: {_MESSAGES.get(code, 'MiniMax code')} (code {code}: {message})"
