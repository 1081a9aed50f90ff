"""A fake Volcengine speech synthesis (HTTP one-shot V1) on 127.0.0.1: `POST /api/v1/tts` with the token as
`Authorization: Bearer;<token>` (a semicolon) and the app id in the body, answered with JSON
{"reqid", "code": 3000, "message": "Success", "sequence": -1, "data": <base64 WAV>, "addition": {"duration"}}.

As Volcengine documents (https://www.volcengine.com/docs/6561/1257584): a wrong token is HTTP 401 with
"authenticate request: load grant: requested grant not found"; a reqid seen before is 3006; a voice_type
the account lacks is 3050; text over 1024 bytes is 3010; an empty text 3011; an app id that is not the
account's is 3001. Which HTTP status carries a business code is not documented: each scripted fault
names it ("3005@500": code 3005 in HTTP 500), HTTP 200 when it does not.

    with FakeVolcengineSpeech(token="vt", app_id="4242") as volc:
        volc.base_url           # "http://127.0.0.1:<port>/api/v1"
        volc.faults.append("3003")   # one-shot, in order: a code ("3003", "3005@500", "3050", "3030"...),
                                     # "429" (HTTP 429, Retry-After: 0), "html500", "nobase64", "truncated",
                                     # "notaudio", "lifetime" (3001 "quota exceeded for types: ..._lifetime")
        volc.bodies             # every request body that passed authentication
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from .http_base import FakeHandler, LocalFake, send_json
from .speech_server import tone_wav

VOICES = frozenset({"zh_female_gaolengyujie_emo_v2_mars_bigtts", "zh_male_aojiaobazong_emo_v2_mars_bigtts",
                    "zh_female_cancan_mars_bigtts", "zh_male_wennuanahu_moon_bigtts"})
MESSAGES = {3001: "invalid request", 3003: "quota exceeded for types: concurrency", 3005: "server busy",
            3006: "request already finished", 3010: "text too long", 3011: "illegal input text!",
            3030: "request timeout", 3031: "processing error", 3050: "Fail to feed text, reason Init Engine "
                                                                      "Instance failed"}


class FakeVolcengineSpeech(LocalFake):
    path_prefix = "/api/v1"

    def __init__(self, token: str, app_id: str = "4242424242", voices: frozenset[str] = VOICES) -> None:
        self.token, self.app_id, self.voices = token, app_id, voices
        self.faults: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self._listen()

    def handle(self, h: FakeHandler, method: str) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length", 0) or 0))
        if method != "POST" or h.path != "/api/v1/tts":
            return send_json(h, 404, {"code": 3001, "message": "not found"})
        if h.headers.get("Authorization") != f"Bearer;{self.token}":
            return send_json(h, 401, {"reqid": "", "code": 3001, "sequence": 0,
                                      "message": "authenticate request: load grant: requested grant not found"})
        body = json.loads(raw or b"{}")
        request = body.get("request", {})
        reqid = str(request.get("reqid", ""))
        with self.lock:
            self.bodies.append(body)
            self.headers.append(dict(h.headers))
            fault = self.faults.pop(0) if self.faults else None
            repeated = reqid in self.seen
            self.seen.add(reqid)
        if fault == "429":
            return send_json(h, 429, {"code": 3003, "message": "too many requests"}, {"Retry-After": "0"})
        if fault == "html500":
            return _send_bytes(h, 500, b"<html>upstream error</html>", "text/html")
        if fault == "lifetime":
            return _code(h, reqid, 3001, 200, "quota exceeded for types: volc.tts.default_lifetime")
        if fault and fault.split("@")[0].isdigit():
            code, _, status = fault.partition("@")
            return _code(h, reqid, int(code), int(status or 200))
        text = str(request.get("text", ""))
        if repeated or not reqid:
            return _code(h, reqid, 3006 if repeated else 3001, 200)
        if body.get("app", {}).get("appid") != self.app_id or request.get("operation") != "query":
            return _code(h, reqid, 3001, 200)
        if len(text.encode("utf-8")) > 1024:
            return _code(h, reqid, 3010, 200)
        if not text.strip():
            return _code(h, reqid, 3011, 200)
        audio = body.get("audio", {})
        if audio.get("voice_type") not in self.voices:
            return _code(h, reqid, 3050, 200)
        seconds = max(0.3, 0.15 * len(text)) / float(audio.get("speed_ratio", 1.0))
        wav = tone_wav(seconds)
        data = base64.b64encode(wav).decode()
        if fault == "nobase64":
            data = "%%%not-base64%%%"
        elif fault == "truncated":
            data = base64.b64encode(wav[:len(wav) // 2]).decode()
        elif fault == "notaudio":
            data = base64.b64encode(b'{"error": "no audio here, just text"}').decode()
        send_json(h, 200, {"reqid": reqid, "code": 3000, "operation": "query", "message": "Success", "sequence": -1,
                           "data": data, "addition": {"duration": str(round(seconds * 1000))}})


def _code(h: FakeHandler, reqid: str, code: int, status: int, message: str | None = None) -> None:
    send_json(h, status, {"reqid": reqid, "code": code, "operation": "query", "sequence": 0,
                          "message": message or MESSAGES.get(code, f"error {code}")})


def _send_bytes(h: FakeHandler, status: int, payload: bytes, content_type: str) -> None:
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    h.send_header("Content-Length", str(len(payload)))
    h.end_headers()
    h.wfile.write(payload)
