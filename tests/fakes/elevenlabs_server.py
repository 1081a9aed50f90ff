"""A fake ElevenLabs on 127.0.0.1: `POST /v1/text-to-speech/{voice_id}?output_format=pcm_24000` answers raw
16-bit PCM (a tone as long as the text), `POST /v1/voices/add` (multipart: name, files) answers a new
voice id; the key in `xi-api-key`; errors as `{"detail": {"status", "message"}}`. One-shot faults in
`faults`: "429", "500", "json200", "empty".

    with FakeElevenLabs(api_key="xi") as eleven:
        eleven.base_url, eleven.speech (bodies, with "voice_id" and "output_format"), eleven.clones
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import numpy as np

from .http_base import FakeHandler, LocalFake, send_json


class FakeElevenLabs(LocalFake):
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.faults: list[str] = []
        self.speech: list[dict[str, Any]] = []
        self.clones: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._listen()

    def handle(self, h: FakeHandler, method: str) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length", 0) or 0))
        if h.headers.get("xi-api-key") != self.api_key:
            return send_json(h, 401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
        if fault == "429":
            return send_json(h, 429, {"detail": {"status": "too_many_concurrent_requests",
                                                 "message": "Too many concurrent requests"}}, {"Retry-After": "0"})
        if fault == "500":
            return send_json(h, 500, {"detail": {"status": "internal_error", "message": "Internal error"}})
        path, _, query = h.path.partition("?")
        speech = re.fullmatch(r"/v1/text-to-speech/([A-Za-z0-9_-]+)", path)
        if method == "POST" and speech:
            body = json.loads(raw)
            with self.lock:
                self.speech.append({**body, "voice_id": speech[1], "output_format": query})
            if not body.get("text"):
                return send_json(h, 422, {"detail": [{"loc": ["body", "text"], "msg": "field required"}]})
            if fault == "json200":
                return send_json(h, 200, {"status": "ok"})
            seconds = 0.05 * len(body["text"]) / float(body.get("voice_settings", {}).get("speed", 1.0))
            t = np.arange(int(24000 * seconds)) / 24000
            pcm = b"" if fault == "empty" else (0.3 * np.sin(2 * np.pi * 200 * t) * 32767).astype("<i2").tobytes()
            h.send_response(200)
            h.send_header("Content-Type", "application/octet-stream")
            h.send_header("Content-Length", str(len(pcm)))
            h.end_headers()
            h.wfile.write(pcm)
            return
        if method == "POST" and path == "/v1/voices/add":
            content_type = h.headers.get("Content-Type", "")
            names = re.findall(rb'; name="([^"]+)"', raw)
            if not content_type.startswith("multipart/form-data") or b"files" not in names or b"name" not in names:
                return send_json(h, 422, {"detail": [{"loc": ["body", "files"], "msg": "field required"}]})
            with self.lock:
                self.clones.append({"fields": sorted({n.decode() for n in names}), "bytes": len(raw)})
                voice_id = f"cloned{len(self.clones):03d}"
            return send_json(h, 200, {"voice_id": voice_id, "requires_verification": False})
        send_json(h, 404, {"detail": {"status": "not_found", "message": "Not found"}})
