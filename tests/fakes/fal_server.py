"""A fake fal.ai queue on 127.0.0.1, serving Pika image-to-video as fal documents its queue.

    POST {owner}/{app}/{subpath}                 -> 202 {request_id, response_url, status_url, cancel_url,
                                                         queue_position}
    GET  {owner}/{app}/requests/{id}/status      -> {status: IN_QUEUE|IN_PROGRESS|COMPLETED, queue_position?,
                                                     response_url, logs, error?, error_type?}: 202 while queued
                                                     or in progress, 200 once completed (as the real queue)
    GET  {owner}/{app}/requests/{id}             -> {video: {url, content_type, file_name, file_size}, seed}
                                                    or {"detail": ...} with 422/500 when the request failed
    PUT  {owner}/{app}/requests/{id}/cancel      -> 202 {status: CANCELLATION_REQUESTED} | 400 ALREADY_COMPLETED
                                                    (a queued request is removed; one in progress only gets
                                                    a signal, which the fake's Pika app ignores)
    GET  /cdn/{task}.mp4?expires=...&sig=...     -> the video (fal's media URLs are public; the fake's expire)

The status, result and cancel URLs drop the model's subpath ("/v2.2/image-to-video"): a client that
appends it gets 404, as on fal. Every request must carry `Authorization: Key <key>` (Bearer, or a wrong
key: 401 {"detail": ...}). Inputs are checked like the Pika app's schema: prompt and image_url required,
image_url an https URL or an image data URI, resolution 720p|1080p, duration the integer 5 or 10, seed
an integer, no unknown fields; errors are 422 {"detail": [{"loc", "msg", "type"}]}. A failed outcome's
`error` may hold "detail" and "status_code" (what the result URL answers, default 500 "Internal Server
Error") and "error"/"error_type" (what the status reply carries next to COMPLETED).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Any

from .http_base import FakeHandler, send_json
from .vendor_base import FakeJob, VendorFake, video_bytes


MODELS = ("fal-ai/pika/v2.2/image-to-video", "fal-ai/pika/v2.1/image-to-video")
_DATA_URI = re.compile(r"data:image/(png|jpeg|webp);base64,(.+)", re.S)
_FIELDS = {"prompt", "image_url", "negative_prompt", "seed", "resolution", "duration"}


def detail(loc: str, msg: str, kind: str) -> dict[str, Any]:
    return {"detail": [{"loc": ["body", loc], "msg": msg, "type": kind}]}


class FakeFal(VendorFake):
    def __init__(self, *, api_key: str, **options: Any):
        super().__init__(**options)
        self.api_key = api_key
        self._requests: dict[str, str] = {}  # request_id -> job id
        self._finished: dict[str, str] = {}  # job id -> the phase its last status poll reported
        self.cancel_signals: list[str] = []  # requests in progress whose runner was asked to stop

    def route(self, method: str, path: str, query: dict) -> tuple[str, Any] | None:
        parts = path.strip("/").split("/")
        if "requests" not in parts:
            return ("submit", lambda h, body, q: self._submit(h, "/".join(parts), body)) if method == "POST" else None
        at = parts.index("requests")
        if at != 2 or len(parts) < 4:  # status lives under owner/app only: a model subpath here is a 404
            return None
        ident, rest = parts[3], parts[4:]
        if method == "GET" and rest == ["status"]:
            return "status", lambda h, body, q: self._status(h, ident, "/".join(parts[:2]))
        if method == "GET" and rest == []:
            return "result", lambda h, body, q: self._result(h, ident)
        if method == "PUT" and rest == ["cancel"]:
            return "cancel", lambda h, body, q: self._cancel(h, ident)
        return None

    def authorized(self, headers: Any) -> bool:
        return headers.get("Authorization", "") == f"Key {self.api_key}"

    def unauthorized(self, h: FakeHandler) -> None:
        header = h.headers.get("Authorization", "")
        message = "Invalid Key authorization header format" if not header.startswith("Key ") else \
            "No user found for Key ID and Secret"
        send_json(h, 401, {"detail": message})

    def not_found(self, h: FakeHandler, method: str, path: str) -> None:
        send_json(h, 404, {"detail": "Not Found"})

    def request_id(self, job: FakeJob) -> str:
        with self.lock:
            return next(r for r, j in self._requests.items() if j == job.id)

    # --- routes ---

    def _submit(self, h: FakeHandler, model: str, body: dict) -> None:
        if model not in MODELS:
            return send_json(h, 404, {"detail": f"Application '{model.split('/')[1] if '/' in model else model}' "
                                                f"not found for path /{model}"})
        problem = self._check_body(body)
        if problem:
            return send_json(h, 422, problem)
        with self.lock:
            job = self.create_job(model, float(body.get("duration", 5)), body)
            ident = str(uuid.uuid4())
            self._requests[ident] = job.id
        app = "/".join(model.split("/")[:2])
        base = f"{self.base_url}/{app}/requests/{ident}"
        send_json(h, 202, {"request_id": ident, "response_url": base, "status_url": f"{base}/status",
                           "cancel_url": f"{base}/cancel", "queue_position": 0})

    def _status(self, h: FakeHandler, ident: str, app: str) -> None:
        with self.lock:
            job = self._job(ident)
            if job is None:
                return send_json(h, 404, {"detail": f"Request {ident} not found"})
            phase = self.advance(job)
            if phase != "pending":
                self._finished[job.id] = phase
        reply: dict[str, Any] = {"request_id": ident, "response_url": f"{self.base_url}/{app}/requests/{ident}"}
        if phase == "pending":
            if job.polls == 1:
                reply.update(status="IN_QUEUE", queue_position=0)
            else:
                reply.update(status="IN_PROGRESS", logs=[])
            return send_json(h, 202, reply)
        reply.update(status="COMPLETED", logs=None, metrics={"inference_time": 41.3})
        error = job.outcome.error
        if phase == "cancelled":
            reply.update(error="Request was cancelled", error_type="request_cancelled")
        elif phase == "failed" and "error" in error:
            reply.update(error=error["error"], error_type=error.get("error_type", "internal_error"))
        send_json(h, 200, reply)

    def _result(self, h: FakeHandler, ident: str) -> None:
        with self.lock:
            job = self._job(ident)
            if job is None:
                return send_json(h, 404, {"detail": f"Request {ident} not found"})
            phase = self._finished.get(job.id)
        if phase is None:
            return send_json(h, 400, {"detail": "Request is still in progress"})
        if phase in ("failed", "cancelled"):
            error = job.outcome.error
            return send_json(h, error.get("status_code", 500), {"detail": error.get("detail", "Internal Server Error")})
        data = video_bytes(job.outcome.video_duration or job.duration)
        send_json(h, 200, {"video": {"url": self.video_url(job), "content_type": "video/mp4",
                                     "file_name": "output.mp4", "file_size": len(data)},
                           "seed": job.body.get("seed", 0)})

    def _cancel(self, h: FakeHandler, ident: str) -> None:
        with self.lock:
            job = self._job(ident)
            if job is None:
                return send_json(h, 404, {"detail": f"Request {ident} not found"})
            if job.id in self._finished:
                return send_json(h, 400, {"status": "ALREADY_COMPLETED"})
            if job.polls <= 1:  # still IN_QUEUE: removed, it never runs
                self.cancel(job)
            else:
                self.cancel_signals.append(ident)
        send_json(h, 202, {"status": "CANCELLATION_REQUESTED"})

    def _job(self, ident: str) -> FakeJob | None:
        return self.find_job(self._requests.get(ident, ""))

    # --- checks ---

    @staticmethod
    def _check_body(body: dict) -> dict[str, Any] | None:
        extra = sorted(set(body) - _FIELDS)
        if extra:
            return detail(extra[0], "Extra inputs are not permitted", "extra_forbidden")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return detail("prompt", "Field required", "missing")
        image = body.get("image_url")
        if not isinstance(image, str) or not image:
            return detail("image_url", "Field required", "missing")
        if image.startswith("data:"):
            match = _DATA_URI.fullmatch(image)
            try:
                if not match or not base64.b64decode(match.group(2), validate=True):
                    raise ValueError
            except (binascii.Error, ValueError):
                return detail("image_url", "Invalid data URI", "value_error")
        elif not image.startswith("https://"):
            return detail("image_url", "URL scheme should be 'https'", "url_scheme")
        if body.get("resolution", "720p") not in ("720p", "1080p"):
            return detail("resolution", "Input should be '720p' or '1080p'", "literal_error")
        duration = body.get("duration", 5)
        if type(duration) is not int or duration not in (5, 10):
            return detail("duration", "Input should be 5 or 10", "literal_error")
        if type(body.get("seed", 0)) is not int:
            return detail("seed", "Input should be a valid integer", "int_type")
        if not isinstance(body.get("negative_prompt", ""), str):
            return detail("negative_prompt", "Input should be a valid string", "string_type")
        return None
