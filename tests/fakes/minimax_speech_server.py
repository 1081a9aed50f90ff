"""A fake MiniMax T2A v2 on 127.0.0.1: `POST /v1/t2a_v2` (Bearer key) answers JSON with the WAV hex-encoded
in data.audio and base_resp; errors inside HTTP 200 as MiniMax sends them. One-shot `faults`: codes as
strings ("1002" rate limit, "1008" no balance, "1026" sensitive), or "nohex" (audio that is not hex)."""

from __future__ import annotations

import json
import threading
from typing import Any

from .http_base import FakeHandler, LocalFake, send_json
from .speech_server import tone_wav


class FakeMiniMaxSpeech(LocalFake):
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.faults: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._listen()

    def handle(self, h: FakeHandler, method: str) -> None:
        body = json.loads(h.rfile.read(int(h.headers.get("Content-Length", 0) or 0)) or b"{}")
        if h.headers.get("Authorization") != f"Bearer {self.api_key}":
            return send_json(h, 200, {"base_resp": {"status_code": 1004, "status_msg": "authorized error"}})
        if method != "POST" or h.path != "/v1/t2a_v2":
            return send_json(h, 404, {"base_resp": {"status_code": 404, "status_msg": "not found"}})
        with self.lock:
            self.bodies.append(body)
            fault = self.faults.pop(0) if self.faults else None
        if fault and fault.isdigit():
            return send_json(h, 200, {"base_resp": {"status_code": int(fault), "status_msg": f"error {fault}"}})
        speed = float(body["voice_setting"]["speed"])
        audio = "zz-not-hex" if fault == "nohex" else tone_wav(max(0.3, 0.15 * len(body["text"])) / speed).hex()
        send_json(h, 200, {"data": {"audio": audio, "status": 2}, "trace_id": "t1",
                           "extra_info": {"audio_format": "wav", "usage_characters": len(body["text"])},
                           "base_resp": {"status_code": 0, "status_msg": "success"}})
