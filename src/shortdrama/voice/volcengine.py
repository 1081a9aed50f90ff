"""Volcengine (ByteDance Doubao) speech synthesis, strong in Mandarin: the one-shot HTTP interface (V1).

Documented at https://www.volcengine.com/docs/6561/1257584 ("HTTP 一次性合成/非流式接口-V1"; Volcengine
now lists its V3 streaming interfaces first and marks this one "not recommended", but documents and
serves it, and it is the one that answers a whole line in one JSON reply):

    POST {base_url}/tts            Authorization: Bearer;<token>   (a semicolon, not a space)
    {"app": {"appid", "token": <any non-empty string: the docs call it a fake token>, "cluster": "volcano_tts"},
     "user": {"uid"},
     "audio": {"voice_type", "encoding": "wav", "rate": 24000, "speed_ratio" (0.8-2),
               "emotion", "enable_emotion": true   (multi-emotion voices only)},
     "request": {"reqid" (unique per request), "text" (at most 1024 bytes of UTF-8), "operation": "query"}}
    -> {"reqid", "code": 3000, "message": "Success", "sequence": -1, "data": "<base64 audio>",
        "addition": {"duration": "1960"}}

The token (api_key_env) travels only in the header; the app id (app_id_env) is the account's, not a
secret, and goes in the body. `model` is the cluster. Codes other than 3000 are errors: 3003 (too many
concurrent requests), 3005 (server busy), 3030 (timeout), 3031/3032/3040 (backend errors) are retried;
3001 (invalid request), 3010 (text too long), 3011 (no speakable text), 3050 (no such voice_type) are
one line. A reqid may be used once (3006 answers one seen before), so each attempt gets a new one.
Authentication failures come as HTTP 401 ("load grant: requested grant not found"), a voice the
account has not ordered as "access denied" (even free voices are ordered, at ¥0, in the console).
The audio comes base64-encoded in the JSON; it is decoded and checked (whole, audible WAV) before
anyone caches it. `emotion` is Volcengine's own parameter and only its multi-emotion voices
(`*_emo_*` voice types, https://www.volcengine.com/docs/6561/1257544) take it; others are sent none.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from typing import Any, Callable, Literal

import httpx

from ..errors import ProviderError
from ..http import RetryPolicy, api_key, request

SUCCESS = 3000
CONCURRENCY = 3003
_RETRIED = {CONCURRENCY, 3005, 3030, 3031, 3032, 3040}
_MESSAGES = {3001: "Volcengine refused the request as invalid",
             3006: "Volcengine had already seen this request id",
             3010: "the line is too long for one Volcengine request (1024 bytes of UTF-8): shorten or split it",
             3011: "Volcengine found no speakable text in the line (empty, punctuation only, or not in the "
                   "voice's language): change the line"}
EMOTION_VOICES = "_emo_"  # the multi-emotion voices' ids: zh_female_gaolengyujie_emo_v2_mars_bigtts, ...
MAX_TEXT_BYTES = 1024
SAMPLE_RATE = 24000
BODY_TOKEN = "access_token"  # the body's app.token is not checked (docs: "fake token"); the real one is in the header
UID = "shortdrama"


def speak(base_url: str, key_env: str | None, app_id_env: str | None, voice_type: str, text: str, cluster: str,
          speed: float, policy: RetryPolicy, emotion: str | None = None,
          sleep: Callable[[float], None] | None = None) -> bytes:
    """One line as WAV bytes (checked: whole, audible audio)."""
    from .speech_api import decode_wav

    what = f"volcengine speech ({cluster})"
    size = len(text.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        raise ProviderError(f"{what}: the line is {size} bytes of UTF-8 and Volcengine takes at most "
                            f"{MAX_TEXT_BYTES} per request: shorten or split it ({text[:20]!r}...)")
    app_id = _app_id(app_id_env)
    key = api_key(key_env, "volcengine")
    audio: dict[str, Any] = {"voice_type": voice_type, "encoding": "wav", "rate": SAMPLE_RATE,
                             "speed_ratio": round(min(2.0, max(0.8, speed)), 2)}
    if emotion and EMOTION_VOICES in voice_type:
        audio.update(emotion=emotion, enable_emotion=True)
    body = {"app": {"appid": app_id, "token": BODY_TOKEN, "cluster": cluster}, "user": {"uid": UID},
            "audio": audio, "request": {"reqid": "", "text": text, "operation": "query"}}
    headers = {"Authorization": f"Bearer;{key}"} if key else {}
    with _FreshRequestIds() as client:
        try:
            response = request(client, "POST", f"{base_url.rstrip('/')}/tts", policy=policy, what=what, json=body,
                               headers=headers, judge=_judge, **({"sleep": sleep} if sleep else {}))
        except ProviderError as error:
            raise ProviderError(_explained(error, what, voice_type)) from None
    reply = _reply(response.text)
    data = reply.get("data")
    if reply.get("code") != SUCCESS or not isinstance(data, str) or not data:
        raise ProviderError(f"{what}: no audio in the answer ({response.text[:120]!r})")
    try:
        wav = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProviderError(f"{what}: the audio is not base64 ({data[:40]!r})") from None
    decode_wav(wav, what)
    return wav


class _FreshRequestIds(httpx.Client):
    """Every attempt its own reqid: Volcengine answers 3006 to a reqid it has seen, failed or not."""

    def request(self, method: str, url: Any, *, json: Any = None, **kwargs: Any) -> httpx.Response:  # noqa: A002
        if isinstance(json, dict) and isinstance(json.get("request"), dict):
            json = {**json, "request": {**json["request"], "reqid": str(uuid.uuid4())}}
        return super().request(method, url, json=json, **kwargs)


def _app_id(env_name: str | None) -> str:
    value = os.environ.get(env_name, "").strip() if env_name else ""
    if not value:
        raise ProviderError("volcengine: set voice.app_id_env to the environment variable holding your app id"
                            if not env_name else f"volcengine: set the environment variable {env_name} to your app id")
    return value


def _reply(text: str) -> dict[str, Any]:
    try:
        reply = json.loads(text or "{}")
    except ValueError:
        return {}
    return reply if isinstance(reply, dict) else {}


def _code(reply: dict[str, Any]) -> int | None:
    code = reply.get("code")
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _used_up(message: str) -> bool:
    """Volcengine's quota refusal: "quota exceeded for types: concurrency" waits out, a used-up trial
    or package ("..._lifetime") does not."""
    return "quota exceeded" in message and "concurrency" not in message


def _judge(response: httpx.Response) -> Literal["retry", "final"] | None:
    reply = _reply(response.text)
    code = _code(reply)
    if code is None or code == SUCCESS:
        return None  # the HTTP status decides: 429/5xx retried, 401 and other 4xx final
    if code in _RETRIED and not _used_up(str(reply.get("message") or "").lower()):
        return "retry"
    return "final"


def _explained(error: ProviderError, what: str, voice_type: str) -> str:
    status = getattr(error, "status", None)
    reply = _reply(getattr(error, "body", "") or "")
    code = _code(reply)
    message = " ".join(str(reply.get("message") or "").split())[:160]
    lowered = message.lower()
    if "access denied" in lowered:
        return (f"{what}: the account has no grant for voice {voice_type}: order it in the Volcengine console "
                f"(free voices at ¥0) (code {code}: {message})")
    if status in (401, 403) or "grant not found" in lowered or "authenticate" in lowered:
        return f"{what}: Volcengine refused the token and app id (HTTP {status}, code {code}: {message})"
    if _used_up(lowered):
        return f"{what}: the Volcengine quota is used up (a trial or package): open the paid service ({message})"
    if code is None:
        return str(error)
    if code == 3050:
        return f"{what}: Volcengine has no voice_type {voice_type}: check the preset's catalogue or the cast entry"
    return f"{what}: {_MESSAGES.get(code, 'Volcengine code')} (code {code}: {message})"
