"""A fake MiniMax T2A v2 on 127.0.0.1: `POST /v1/t2a_v2` (Bearer key) answers JSON with the WAV hex-encoded
in data.audio and base_resp; errors inside HTTP 200 as MiniMax sends them. One-shot `faults`: codes as
strings ("1002" rate limit, "1008" no balance, "1026" sensitive), or "nohex" (audio that is not hex).

Rapid voice cloning as MiniMax documents it: `POST /v1/files/upload` (multipart: purpose=voice_clone,
file) answers {"file": {"file_id": <int64>, ...}, "base_resp"}; `POST /v1/voice_clone` {file_id, voice_id}
answers {"input_sensitive": {"type": 0}, "base_resp"}: an unknown file_id is 20132, a malformed voice_id
2013, one already cloned 2039; `clone_faults` are one-shot codes for the clone route ("2037", "1043",
"2038", "1002"). A T2A request naming a voice id of ours ("shortdrama...") that was not cloned is 20132.
`uploads` and `clones` record what reached those routes."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from .http_base import FakeHandler, LocalFake, send_json
from .speech_server import tone_wav


class FakeMiniMaxSpeech(LocalFake):
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.faults: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.clone_faults: list[str] = []
        self.uploads: list[dict[str, Any]] = []
        self.clones: list[dict[str, Any]] = []
        self.voices: set[str] = set()
        self.lock = threading.Lock()
        self._listen()

    def handle(self, h: FakeHandler, method: str) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length", 0) or 0))
        if h.headers.get("Authorization") != f"Bearer {self.api_key}":
            return send_json(h, 200, {"base_resp": {"status_code": 1004, "status_msg": "authorized error"}})
        if method == "POST" and h.path == "/v1/files/upload":
            return self._upload(h, raw)
        if method == "POST" and h.path == "/v1/voice_clone":
            return self._clone(h, json.loads(raw or b"{}"))
        if method != "POST" or h.path != "/v1/t2a_v2":
            return send_json(h, 404, {"base_resp": {"status_code": 404, "status_msg": "not found"}})
        body = json.loads(raw or b"{}")
        voice_id = str(body.get("voice_setting", {}).get("voice_id", ""))
        if voice_id.startswith("shortdrama") and voice_id not in self.voices:
            return _fail(h, 20132, "invalid samples or voice_id")
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

    def _upload(self, h: FakeHandler, raw: bytes) -> None:
        purpose = re.search(rb'name="purpose"\r\n\r\n([^\r]*)\r\n', raw)
        file = re.search(rb'name="file"; filename="([^"]+)"\r\nContent-Type: ([^\r]+)', raw)
        if not h.headers.get("Content-Type", "").startswith("multipart/form-data") or not purpose or not file:
            return _fail(h, 2013, "invalid params, missing purpose or file")
        with self.lock:
            file_id = 349857213568001 + len(self.uploads)  # MiniMax's file ids are int64
            self.uploads.append({"purpose": purpose[1].decode(), "filename": file[1].decode(),
                                 "content_type": file[2].decode(), "bytes": len(raw), "file_id": file_id})
        send_json(h, 200, {"file": {"file_id": file_id, "bytes": len(raw), "created_at": 1700469398,
                                    "filename": file[1].decode(), "purpose": purpose[1].decode()},
                           "base_resp": {"status_code": 0, "status_msg": "success"}})

    def _clone(self, h: FakeHandler, body: dict[str, Any]) -> None:
        voice_id = str(body.get("voice_id", ""))
        with self.lock:
            self.clones.append(body)
            fault = self.clone_faults.pop(0) if self.clone_faults else None
            known = [u for u in self.uploads if u["file_id"] == body.get("file_id") and u["purpose"] == "voice_clone"]
            if fault:
                return _fail(h, int(fault), f"error {fault}")
            if not known:
                return _fail(h, 20132, "invalid samples or voice_id")
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{6,254}[A-Za-z0-9]", voice_id):
                return _fail(h, 2013, "invalid params, voice_id")
            if voice_id in self.voices:
                return _fail(h, 2039, "voice clone voice id duplicate")
            self.voices.add(voice_id)
        send_json(h, 200, {"input_sensitive": {"type": 0}, "demo_audio": "",
                           "base_resp": {"status_code": 0, "status_msg": "success"}})


def _fail(h: FakeHandler, code: int, message: str) -> None:
    send_json(h, 200, {"base_resp": {"status_code": code, "status_msg": message}})
