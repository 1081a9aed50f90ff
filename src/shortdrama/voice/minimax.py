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

Rapid voice cloning (https://platform.minimax.io/docs/api-reference/voice-cloning-uploadcloneaudio.md and
.../voice-cloning-clone.md): the sample is uploaded, `POST {base_url}/files/upload` (multipart: purpose
"voice_clone", file: mp3/m4a/wav, 10 s to 5 min, at most 20 MB) -> {"file": {"file_id": <int64>, ...},
"base_resp"}, then cloned, `POST {base_url}/voice_clone` {"file_id", "voice_id"} -> {"input_sensitive",
"base_resp"}. The voice id is ours (8-256 characters, a letter first, letters, digits, - and _, not
ending in - or _), made from the sample's digest, and every T2A request of the character names it.
MiniMax bills a clone at its first use in speech and deletes one unused for 7 days. Clone errors
(https://platform.minimax.io/docs/api-reference/errorcode.md): 1043/1044 similarity checks, 2037 the
sample's length, 2038 cloning disabled for the account, 2042 a voice id the account may not use,
20132 invalid samples or voice id; 2039, a voice id MiniMax already has, is that same sample cloned
before (the id is its digest): it is used again, never cloned twice.
"""

from __future__ import annotations

import binascii
import logging
import re
from pathlib import Path
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
             2013: "MiniMax refused the parameters",
             1043: "the sample failed MiniMax's check that its speech matches (ASR similarity): record it again",
             1044: "the sample failed MiniMax's clone prompt similarity check",
             2037: "MiniMax clones from 10 s to 5 min of audio: trim or re-record the sample",
             2038: "voice cloning is disabled for this MiniMax account (it needs the account's identity verified)",
             2042: "the MiniMax account may not use this voice id",
             20132: "MiniMax refused the sample or the voice id (a clone unused for 7 days is deleted)"}
DUPLICATE_VOICE = 2039
CLONE_FORMATS = {".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".wav": "audio/wav"}
CLONE_SECONDS = (10.0, 300.0)
CLONE_MAX_BYTES = 20 * 1024 * 1024
VOICE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{6,254}[A-Za-z0-9]")
log = logging.getLogger(__name__)
EMOTIONS = ("happy", "sad", "angry", "fearful", "disgusted", "surprised", "neutral")
SAMPLE_RATE = 32000


def speak(base_url: str, key_env: str | None, voice_id: str, text: str, model: str, speed: float,
          policy: RetryPolicy, emotion: str | None = None, sleep: Callable[[float], None] | None = None,
          pitch: int = 0) -> bytes:
    """One line as WAV bytes (checked: whole, audible audio). `pitch`: semitones, -12..12 (voice_setting.pitch)."""
    from .speech_api import decode_wav

    key = api_key(key_env, "minimax")
    voice: dict[str, Any] = {"voice_id": voice_id, "speed": min(2.0, max(0.5, speed)), "vol": 1,
                             "pitch": max(-12, min(12, int(pitch)))}
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


def clone_voice(base_url: str, key_env: str | None, name: str, samples: list[Path], policy: RetryPolicy,
                sleep: Callable[[float], None] | None = None) -> str:
    """Rapid voice cloning from one sample: the voice id (ours, made from `name`) the T2A requests name."""
    what = "minimax voice cloning"
    if len(samples) != 1:
        raise ProviderError(f"{what}: one sample per voice, not {len(samples)}")
    sample = Path(samples[0])
    content_type = _clone_sample(sample, what)
    key = api_key(key_env, "minimax")
    voice_id = clone_id(name)
    root, waits = base_url.rstrip("/"), ({"sleep": sleep} if sleep else {})
    with httpx.Client() as client:
        try:
            uploaded = request(client, "POST", f"{root}/files/upload", policy=policy, what=f"{what}: upload",
                               data={"purpose": "voice_clone"}, files=[("file", (sample.name, sample.read_bytes(),
                                                                                 content_type))],
                               headers=auth_headers(key), judge=_judge, **waits)
        except ProviderError as error:
            raise ProviderError(_explained(error, f"{what}: upload")) from None
        file_id = (answer_json(uploaded.text).get("file") or {}).get("file_id")
        if isinstance(file_id, bool) or not isinstance(file_id, (int, str)) or file_id in ("", 0):
            raise ProviderError(f"{what}: upload: no file_id in the answer ({uploaded.text[:120]!r})")
        try:
            cloned = request(client, "POST", f"{root}/voice_clone", policy=policy, what=what,
                             json={"file_id": file_id, "voice_id": voice_id}, headers=auth_headers(key), judge=_judge,
                             **waits)
        except ProviderError as error:
            if base_resp_code(answer_json(getattr(error, "body", "") or "")) == DUPLICATE_VOICE:
                log.info("%s: MiniMax already has voice %s (this sample, cloned before): using it", what, voice_id)
                return voice_id
            raise ProviderError(_explained(error, what)) from None
    flagged = answer_json(cloned.text).get("input_sensitive")
    if flagged is True or (isinstance(flagged, dict) and flagged.get("type")):
        raise ProviderError(f"{what}: MiniMax flagged the sample {sample.name} as sensitive ({flagged})")
    return voice_id


def clone_id(name: str) -> str:
    """A valid MiniMax voice id made from `name` (the same name, the same id)."""
    text = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_")
    text = (text if text[:1].isalpha() else f"v{text}")[:256].rstrip("-_")
    text = text if len(text) >= 8 else f"{text}-voice01"
    if not VOICE_ID.fullmatch(text):
        raise ProviderError(f"minimax voice cloning: cannot make a voice id of {name!r}")
    return text


def _clone_sample(sample: Path, what: str) -> str:
    """The sample's content type, once it is one MiniMax clones from (checked here: nothing sent otherwise)."""
    from ..audio.wav import decode_audio
    from ..errors import MediaError

    content_type = CLONE_FORMATS.get(sample.suffix.lower())
    if content_type is None:
        raise ProviderError(f"{what}: MiniMax clones from mp3, m4a or wav, not {sample.name}")
    if sample.stat().st_size > CLONE_MAX_BYTES:
        raise ProviderError(f"{what}: {sample.name} is over MiniMax's 20 MB")
    try:
        samples, rate = decode_audio(sample)
    except MediaError as error:
        raise ProviderError(f"{what}: {sample.name}: {error}") from None
    seconds = samples.size / rate if rate else 0.0
    if not CLONE_SECONDS[0] <= seconds <= CLONE_SECONDS[1]:
        raise ProviderError(f"{what}: {sample.name} is {seconds:.1f} s long; MiniMax clones from 10 s to 5 min")
    return content_type


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
