"""A fake Runway API on 127.0.0.1: image-to-video tasks as Runway's own API documents them.

    POST   /v1/image_to_video  -> {"id": "<uuid>"}
    GET    /v1/tasks/{id}      -> {id, status, createdAt, progress?, output?, failure?, failureCode?}
    DELETE /v1/tasks/{id}      -> 204
    GET    /cdn/{task}.mp4?expires=...&sig=...  -> the video (Runway's URLs expire in 24-48 h, the fake's sooner)

Every request must carry `Authorization: Bearer <key>` (else 401) and `X-Runway-Version: 2024-11-06`
(else 400). Create bodies are checked like Runway does: a known model (gen3a_turbo answers as retired),
promptImage an https URL or an image data URI of at most 5 MB, promptText at most 1000 characters,
ratio one the model accepts, duration the integer 5 or 10, seed 0..4294967295; errors are
{"error": "...", "issues": [{"path": [...], "message": "..."}]}. A task's polls answer PENDING, then
THROTTLED, then RUNNING for the outcome's pending polls; a failed outcome's `error` holds Runway's
`failure` and `failureCode`.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import datetime, timezone
from typing import Any

from .http_base import FakeHandler, send_json
from .vendor_base import FakeJob, VendorFake

VERSION = "2024-11-06"
GEN4 = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
MODELS = {"gen4_turbo": GEN4, "gen4.5": GEN4}
RETIRED = {"gen3a_turbo"}
TASK_PATH = "/v1/tasks/"
_DATA_URI = re.compile(r"data:image/(png|jpeg|webp);base64,(.+)", re.S)
_PENDING_WORDS = ("PENDING", "THROTTLED", "RUNNING")


def runway_error(error: str, *issues: tuple[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error}
    if issues:
        body["issues"] = [{"code": "invalid", "path": [path], "message": message} for path, message in issues]
    return body


class FakeRunway(VendorFake):
    def __init__(self, *, api_key: str, **options: Any):
        super().__init__(**options)
        self.api_key = api_key
        self._uuids: dict[str, str] = {}  # Runway's task ids are UUIDs; the job store's are task-0001...

    def route(self, method: str, path: str, query: dict) -> tuple[str, Any] | None:
        if method == "POST" and path == "/v1/image_to_video":
            return "submit", self._versioned(self._submit)
        if path.startswith(TASK_PATH) and "/" not in path[len(TASK_PATH):]:
            ident = path[len(TASK_PATH):]
            if method == "GET":
                return "poll", self._versioned(lambda h, body, q: self._task(h, ident))
            if method == "DELETE":
                return "cancel", self._versioned(lambda h, body, q: self._cancel(h, ident))
        return None

    def authorized(self, headers: Any) -> bool:
        return headers.get("Authorization", "") == f"Bearer {self.api_key}"

    def unauthorized(self, h: FakeHandler) -> None:
        send_json(h, 401, runway_error("Invalid API key. Make sure the key is in the Authorization header as "
                                       "'Bearer <key>'."))

    def not_found(self, h: FakeHandler, method: str, path: str) -> None:
        send_json(h, 404, runway_error(f"Cannot {method} {path}"))

    def task_id(self, job: FakeJob) -> str:
        with self.lock:
            return next(u for u, j in self._uuids.items() if j == job.id)

    # --- routes ---

    def _versioned(self, handler: Any) -> Any:
        def checked(h: FakeHandler, body: dict, query: dict) -> None:
            version = h.headers.get("X-Runway-Version")
            if version != VERSION:
                return send_json(h, 400, runway_error(
                    f"Invalid API version {version!r}: the X-Runway-Version header must be {VERSION}"))
            handler(h, body, query)
        return checked

    def _submit(self, h: FakeHandler, body: dict, query: dict) -> None:
        problem = self._check_body(body)
        if problem:
            return send_json(h, 400, runway_error("Validation of body failed", problem))
        with self.lock:
            job = self.create_job(body["model"], float(body["duration"]), body)
            ident = str(uuid.uuid4())
            self._uuids[ident] = job.id
        send_json(h, 200, {"id": ident})

    def _task(self, h: FakeHandler, ident: str) -> None:
        with self.lock:
            job = self.find_job(self._uuids.get(ident, ""))
            if job is None:
                return send_json(h, 404, runway_error("Task not found"))
            phase = self.advance(job)
        task: dict[str, Any] = {"id": ident, "createdAt": _iso(job.created)}
        if phase == "pending":
            word = _PENDING_WORDS[min(job.polls, len(_PENDING_WORDS)) - 1]
            task["status"] = word
            if word == "RUNNING":
                task["progress"] = 0.5
        elif phase == "cancelled":
            task["status"] = "CANCELLED"
        elif phase == "failed":
            task.update(status="FAILED", failure=job.outcome.error.get("failure", "An unexpected error occurred."),
                        failureCode=job.outcome.error.get("failureCode", "INTERNAL.BAD_OUTPUT.CODE01"))
        else:
            task.update(status="SUCCEEDED", output=[self.video_url(job)])
        send_json(h, 200, task)

    def _cancel(self, h: FakeHandler, ident: str) -> None:
        with self.lock:
            job = self.find_job(self._uuids.get(ident, ""))
            if job is None:
                return send_json(h, 404, runway_error("Task not found"))
            self.cancel(job)
        h.send_response(204)
        h.send_header("Content-Length", "0")
        h.end_headers()

    # --- checks ---

    @staticmethod
    def _check_body(body: dict) -> tuple[str, str] | None:
        model = body.get("model")
        if model in RETIRED or model not in MODELS:
            return "model", f"Invalid enum value. Expected {' | '.join(map(repr, MODELS))}, received {model!r}"
        image = body.get("promptImage")
        if not isinstance(image, str) or not image:
            return "promptImage", "Required"
        if image.startswith("data:"):
            if len(image) > 5 * 1000 * 1000:
                return "promptImage", "Data URIs must be at most 5MB"
            match = _DATA_URI.fullmatch(image)
            try:
                if not match or not base64.b64decode(match.group(2), validate=True):
                    raise ValueError
            except (binascii.Error, ValueError):
                return "promptImage", "Invalid data URI: expected data:image/<png|jpeg|webp>;base64,<data>"
        elif not image.startswith("https://"):
            return "promptImage", "Must be an HTTPS URL or a data URI"
        text = body.get("promptText", "")
        if not isinstance(text, str) or len(text.encode("utf-16-le")) // 2 > 1000:
            return "promptText", "String must contain at most 1000 character(s)"
        if body.get("ratio") not in MODELS[model]:
            return "ratio", f"Invalid enum value. Expected {' | '.join(map(repr, MODELS[model]))}"
        duration = body.get("duration")
        if type(duration) is not int or duration not in (5, 10):
            return "duration", "Expected the number 5 or 10"
        seed = body.get("seed", 0)
        if type(seed) is not int or not 0 <= seed <= 4294967295:
            return "seed", "Number must be an integer within [0, 4294967295]"
        moderation = body.get("contentModeration", {"publicFigureThreshold": "auto"})
        if not isinstance(moderation, dict) or moderation.get("publicFigureThreshold") not in ("auto", "low"):
            return "contentModeration", "publicFigureThreshold must be auto or low"
        extra = set(body) - {"model", "promptImage", "promptText", "ratio", "duration", "seed", "contentModeration"}
        if extra:
            return sorted(extra)[0], "Unrecognized key in object"
        return None


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

