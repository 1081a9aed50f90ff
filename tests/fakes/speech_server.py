"""A fake OpenAI-compatible speech server on 127.0.0.1: `POST /v1/audio/speech` answers WAV (24 kHz,
16-bit mono, a tone as long as the text), with OpenAI's error shapes, and misbehaves on cue.

    with FakeSpeech(api_key="sk-x") as speech:
        speech.base_url            # "http://127.0.0.1:<port>/v1"
        speech.faults.append("429")  # one-shot faults, in order: 429 (Retry-After: 0), 500, html, json200,
                                   # truncated, silence, slow
        speech.bodies              # every request body that reached the route
"""

from __future__ import annotations

import io
import json
import threading
import time
import wave
from typing import Any

import numpy as np

from .http_base import FakeHandler, LocalFake, send_json

RATE = 24000


def tone_wav(seconds: float, amplitude: float = 0.3, frequency: float = 220.0) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    samples = (amplitude * np.sin(2 * np.pi * frequency * t) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


class FakeSpeech(LocalFake):
    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.faults: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.authorized: list[bool] = []
        # Voices speak at their own pace, as real ones do: voice id -> seconds per second of the default pace.
        self.voice_pace: dict[str, float] = {}
        self.lock = threading.Lock()
        self._listen()

    def handle(self, h: FakeHandler, method: str) -> None:
        body = json.loads(h.rfile.read(int(h.headers.get("Content-Length", 0) or 0)) or b"{}")
        if method != "POST" or h.path != "/v1/audio/speech":
            return send_json(h, 404, {"error": {"message": "Not found", "type": "invalid_request_error"}})
        ok = self.api_key is None or h.headers.get("Authorization") == f"Bearer {self.api_key}"
        with self.lock:
            self.authorized.append(ok)
            if not ok:
                return send_json(h, 401, {"error": {"message": "Incorrect API key provided",
                                                    "type": "invalid_request_error", "code": "invalid_api_key"}})
            self.bodies.append(body)
            fault = self.faults.pop(0) if self.faults else None
        if not body.get("input") or not body.get("voice"):
            return send_json(h, 400, {"error": {"message": "Missing input or voice", "type": "invalid_request_error"}})
        if fault == "429":
            return send_json(h, 429, {"error": {"message": "Rate limit reached", "type": "requests",
                                                "code": "rate_limit_exceeded"}}, {"Retry-After": "0"})
        if fault == "500":
            return send_json(h, 500, {"error": {"message": "The server had an error", "type": "server_error"}})
        if fault == "slow":
            time.sleep(1.0)
        seconds = max(0.3, 0.06 * len(body["input"])) / float(body.get("speed", 1.0))
        seconds *= self.voice_pace.get(body["voice"], 1.0) if isinstance(body["voice"], str) else 1.0
        audio = {"html": b"<html><body>502 Bad Gateway</body></html>", "json200": b'{"status": "ok"}',
                 "silence": tone_wav(seconds, amplitude=0.0)}.get(fault, tone_wav(seconds))
        if fault == "truncated":
            audio = audio[: len(audio) // 2]
        h.send_response(200)
        h.send_header("Content-Type", "application/json" if fault == "json200" else "audio/wav")
        h.send_header("Content-Length", str(len(audio)))
        h.end_headers()
        h.wfile.write(audio)
