"""OpenAI-compatible speech: `POST {base_url}/audio/speech` (OpenAI's TTS, and the many local servers
that speak the same route), answered with the audio file itself.

Request body (OpenAI's API reference, "Create speech"): `model`, `input` (at most 4096 characters),
`voice` (a built-in name such as `alloy`/`coral`/`onyx`, or a custom voice `{"id": ...}`),
`response_format` (`mp3`, `opus`, `aac`, `flac`, `wav`, `pcm`; `wav` here, so no lossy step), `speed`
(0.25-4.0), and `instructions` (how to speak: emotion, delivery; not for `tts-1`/`tts-1-hd`). Errors
come as `{"error": {"message", "type", "code"}}`.

Retries are http.request's (429 with Retry-After, 5xx, timeouts). A speech call is synchronous and
creates nothing on the server: an attempt that failed returned no audio and is asked again. Every answer is decoded and checked before anyone caches it: a body that is
not audio (an HTML error page or JSON with a 200), a truncated WAV, or silence is a ProviderError.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any, Callable

import httpx
import numpy as np

from ..errors import ProviderError
from ..http import RetryPolicy, api_key, auth_headers, request

MAX_INPUT_CHARS = 4096
SPEED_RANGE = (0.25, 4.0)
# Models that take no `instructions` (OpenAI's docs): the hint is then carried by speed alone.
NO_INSTRUCTIONS = ("tts-1", "tts-1-hd")


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    voice: str | dict[str, str]
    model: str = "gpt-4o-mini-tts"
    speed: float = 1.0
    instructions: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # a server's own parameters, sent as given

    def body(self) -> dict[str, Any]:
        text = self.text.strip()
        if not text:
            raise ProviderError("speech: nothing to say (empty text)")
        if len(text) > MAX_INPUT_CHARS:
            raise ProviderError(f"speech: a line of {len(text)} characters; the API takes at most {MAX_INPUT_CHARS}")
        if not SPEED_RANGE[0] <= self.speed <= SPEED_RANGE[1]:
            raise ProviderError(f"speech: speed {self.speed:g} is outside {SPEED_RANGE[0]:g}-{SPEED_RANGE[1]:g}")
        body: dict[str, Any] = {"model": self.model, "input": text, "voice": self.voice, "response_format": "wav",
                                "speed": self.speed, **self.extra}
        if self.instructions and self.model not in NO_INSTRUCTIONS:
            body["instructions"] = self.instructions
        return body


def synthesize(base_url: str, key_env: str | None, speech: SpeechRequest, policy: RetryPolicy,
               client: httpx.Client | None = None, sleep: Callable[[float], None] | None = None) -> bytes:
    """The WAV bytes the server answers for one line, checked to be whole, audible audio."""
    key = api_key(key_env, "speech")  # a missing key is one line, and nothing is sent
    url = base_url.rstrip("/") + "/audio/speech"
    own = client is None
    client = client or httpx.Client()
    try:
        kwargs = {"sleep": sleep} if sleep is not None else {}
        try:
            response = request(client, "POST", url, policy=policy, what=f"speech ({speech.model})",
                               json=speech.body(), headers={**auth_headers(key), "Accept": "audio/wav"}, **kwargs)
        except ProviderError as error:
            raise ProviderError(_explained(error)) from None
    finally:
        if own:
            client.close()
    decode_wav(response.content, f"speech ({speech.model})")
    return response.content


def _explained(error: ProviderError) -> str:
    """The API's own message from an `{"error": {...}}` body, where there is one."""
    body = getattr(error, "body", "") or ""
    try:
        detail = json.loads(body).get("error", {})
    except (ValueError, AttributeError):
        return str(error)
    message = detail.get("message") if isinstance(detail, dict) else None
    status = getattr(error, "status", None)
    return f"speech: HTTP {status}: {message}" if message else str(error)


def decode_wav(data: bytes, what: str, min_seconds: float = 0.05, silence_dbfs: float = -60.0) -> tuple[np.ndarray, int]:
    """Float32 mono samples and the rate of a WAV answer; a ProviderError for anything else."""
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        head = data[:40].decode("utf-8", "replace").replace("\n", " ")
        raise ProviderError(f"{what}: the answer is not WAV audio ({len(data)} bytes: {head!r})")
    declared = _data_chunk_size(data)
    if declared is not None and declared[1] > len(data) - declared[0]:
        raise ProviderError(f"{what}: truncated audio ({len(data) - declared[0]} of {declared[1]} bytes of samples)")
    from ..audio.wav import decode_audio
    from ..errors import MediaError

    try:
        mono, rate = decode_audio(data, "wav")
    except MediaError as error:
        raise ProviderError(f"{what}: undecodable audio ({error})") from None
    if not mono.size:
        raise ProviderError(f"{what}: the audio holds no samples")
    if mono.size / rate < min_seconds:
        raise ProviderError(f"{what}: {mono.size / rate:.3f} s of audio is too short to be speech")
    peak = float(np.abs(mono).max())
    if peak <= 10 ** (silence_dbfs / 20):
        raise ProviderError(f"{what}: the audio is silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS)")
    return mono, rate


def _data_chunk_size(data: bytes) -> tuple[int, int] | None:
    """(offset of the samples, their declared size) of a RIFF/WAVE file's `data` chunk. Streaming servers
    write 0 or 0xFFFFFFFF when they did not know the length: no claim to check then."""
    offset = 12
    while offset + 8 <= len(data):
        name, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        if name == b"data":
            return None if size in (0, 0xFFFFFFFF) else (offset + 8, size)
        offset += 8 + size + (size & 1)
    return None
