"""A fake MiniMax (Hailuo) video API on 127.0.0.1, answering like https://api.minimax.io.

    POST /v1/video_generation                    -> {task_id, base_resp: {status_code: 0, status_msg: "success"}}
    GET  /v1/query/video_generation?task_id=...  -> Preparing, Queueing, Processing..., then Success (file_id) | Fail
    GET  /v1/files/retrieve?file_id=...          -> {file: {file_id, bytes, filename, purpose, download_url}, base_resp}
    GET  /cdn/{task}.mp4?expires=...             -> the video (MiniMax's URLs last hours; the fake's less)

Like MiniMax, the fake answers its errors with HTTP 200 and a nonzero base_resp.status_code: 1004 for a
missing or wrong `Authorization: Bearer <key>`, 2013 for invalid parameters (an unknown model, a duration
other than 6 or 10, 1080P for 10 s, a first_frame_image that is neither a data URI nor a URL). Tests
inject the others (1002 rate limit, 1008 balance, 1026 sensitive input) as faults with status 200, and a
failed task's base_resp (1027 sensitive output) through Outcome(error={"status_code", "status_msg"}).
The wording for an unknown model is a guess (?): MiniMax documents only the code 2013. So is the answer
to a task_id or file_id it does not know (?): HTTP 200, 2013 "invalid params, task not found" / "... file
not found"; `forget(task_id)` and `expire_files()` make a task or the generated files vanish.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from .http_base import FakeHandler, send_json
from .vendor_base import VendorFake

# model -> {resolution: durations sold}
MODELS: dict[str, dict[str, tuple[int, ...]]] = {
    "MiniMax-Hailuo-02": {"512P": (6, 10), "768P": (6, 10), "1080P": (6,)},
    "MiniMax-Hailuo-2.3": {"768P": (6, 10), "1080P": (6,)},
    "MiniMax-Hailuo-2.3-Fast": {"768P": (6, 10), "1080P": (6,)},
}
NEEDS_IMAGE = {"MiniMax-Hailuo-2.3-Fast"}
FIELDS = {"model", "prompt", "first_frame_image", "duration", "resolution", "prompt_optimizer", "callback_url",
          "fast_pretreatment", "aigc_watermark"}
_IMAGE = re.compile(r"data:image/(png|jpeg|jpg|webp);base64,[A-Za-z0-9+/=]+$|https?://\S+$")


def base_resp(code: int = 0, message: str = "success") -> dict[str, Any]:
    return {"base_resp": {"status_code": code, "status_msg": message}}


class FakeMiniMax(VendorFake):
    def __init__(self, *, api_key: str, **options: Any):
        super().__init__(**options)
        self.api_key = api_key
        self._file_ids = itertools.count(301234567890123)
        self._files: dict[str, str] = {}  # file_id -> task id
        self._expired: set[str] = set()  # file ids MiniMax no longer has

    def route(self, method: str, path: str, query: dict) -> tuple[str, Any] | None:
        if method == "POST" and path == "/v1/video_generation":
            return "submit", self._submit
        if method == "GET" and path == "/v1/query/video_generation":
            return "poll", self._query
        if method == "GET" and path == "/v1/files/retrieve":
            return "retrieve", self._retrieve
        return None

    def authorized(self, headers: Any) -> bool:
        return headers.get("Authorization", "") == f"Bearer {self.api_key}"

    def unauthorized(self, h: FakeHandler) -> None:
        send_json(h, 200, base_resp(1004, "login fail: Please carry the API secret key in the 'Authorization' "
                                          "field of the request header"))

    def not_found(self, h: FakeHandler, method: str, path: str) -> None:
        send_json(h, 404, {"error": "404 page not found"})

    def expire_files(self) -> None:
        with self.lock:
            self._expired.update(self._files)

    # --- routes ---

    def _submit(self, h: FakeHandler, body: dict, query: dict) -> None:
        problem = _check(body)
        if problem:
            return send_json(h, 200, {"task_id": "", **base_resp(2013, f"invalid params, {problem}")})
        job = self.create_job(body["model"], float(body.get("duration", 6)), body)
        send_json(h, 200, {"task_id": job.id, **base_resp()})

    def _query(self, h: FakeHandler, body: dict, query: dict) -> None:
        with self.lock:
            job = self.find_job((query.get("task_id") or [""])[0])
            if job is None:
                missing = base_resp(2013, "invalid params, task not found")
                return send_json(h, 200, {"task_id": "", "status": "", **missing})
            phase = self.advance(job)
            reply: dict[str, Any] = {"task_id": job.id, "file_id": "", **base_resp()}
            if phase == "pending":
                reply["status"] = ("Preparing", "Queueing", "Processing")[min(job.polls, 3) - 1]
            elif phase == "succeeded":
                file_id = next((f for f, t in self._files.items() if t == job.id), None) or str(next(self._file_ids))
                self._files[file_id] = job.id
                reply.update(status="Success", file_id=file_id, video_width=768, video_height=1366)
            else:
                error = job.outcome.error or {"status_code": 1000, "status_msg": "unknown error"}
                reply.update(status="Fail", **base_resp(error["status_code"], error["status_msg"]))
        send_json(h, 200, reply)

    def _retrieve(self, h: FakeHandler, body: dict, query: dict) -> None:
        file_id = (query.get("file_id") or [""])[0]
        with self.lock:
            job = None if file_id in self._expired else self.find_job(self._files.get(file_id, ""))
        if job is None:
            return send_json(h, 200, base_resp(2013, "invalid params, file not found"))
        send_json(h, 200, {"file": {"file_id": int(file_id), "bytes": 1048576, "created_at": int(job.created),
                                    "filename": "output.mp4", "purpose": "video_generation",
                                    "download_url": self.video_url(job)}, **base_resp()})


def _check(body: dict[str, Any]) -> str | None:
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        return f"unknown field {unknown[0]}"
    model = body.get("model")
    if model not in MODELS:
        return f"model {model} is not supported"
    if not isinstance(body.get("prompt", ""), str) or len(body.get("prompt", "")) > 2000:
        return "prompt must be a string of at most 2000 characters"
    image = body.get("first_frame_image")
    if image is None and model in NEEDS_IMAGE:
        return f"first_frame_image is required for {model}"
    if image is not None and not (isinstance(image, str) and _IMAGE.match(image)):
        return "first_frame_image must be a public URL or a base64 data URL"
    resolution, duration = body.get("resolution", "768P"), body.get("duration", 6)
    if resolution not in MODELS[model]:
        return f"resolution {resolution} is not supported by {model}"
    if not isinstance(duration, int) or isinstance(duration, bool) or duration not in MODELS[model][resolution]:
        return f"duration {duration} is not supported at {resolution}"
    if not isinstance(body.get("prompt_optimizer", True), bool):
        return "prompt_optimizer must be a bool"
    return None

