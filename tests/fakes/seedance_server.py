"""A fake Volcengine Ark video-generation API on 127.0.0.1 (Seedance), answering like
https://ark.cn-beijing.volces.com.

    POST   /api/v3/contents/generations/tasks       {model, content: [text, image_url]} -> {"id": ...}
    GET    /api/v3/contents/generations/tasks/{id}  -> queued, running..., then succeeded | failed (Outcome)
    DELETE /api/v3/contents/generations/tasks/{id}  -> {}: a queued task is cancelled, a finished one deleted;
                                                       a running (or cancelled) one: 400 (see NOT_CANCELLABLE)
    GET    /cdn/{id}.mp4?expires=...                -> the video (Ark's TOS URLs last 24 h; the fake's less)

`Authorization: Bearer <key>` or 401 AuthenticationError; errors as {"error": {"code", "message", "param",
"type"}}. The text item is parsed like Ark does: the prompt, then `--name value` commands (with their
short aliases); an unknown command or value is 400 InvalidParameter. An unknown model is 404
InvalidEndpointOrModel.NotFound, a known one the account has not activated (`not_open`) 404 ModelNotOpen.
A succeeded task reports usage.completion_tokens (Outcome.units, else width x height x 24 fps x seconds
/ 1024, Ark's published estimate); Outcome(result="failed", error={"status": "expired"}) answers status
"expired". Durations: 3-12 s accepted (the 1.0 models launched with 5 and 10 (?)).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from .http_base import FakeHandler, send_json
from .vendor_base import FakeJob, VendorFake

PATH = "/api/v3/contents/generations/tasks"
MODELS = {"doubao-seedance-1-0-pro-250528", "doubao-seedance-1-0-lite-i2v-250428",
          "doubao-seedance-1-0-pro-fast-251015"}
NEEDS_IMAGE = {"doubao-seedance-1-0-lite-i2v-250428"}
ALIASES = {"rt": "ratio", "rs": "resolution", "dur": "duration", "cf": "camerafixed", "wm": "watermark",
           "fps": "framespersecond"}
CHOICES = {"ratio": {"16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"}, "resolution": {"480p", "720p", "1080p"},
           "camerafixed": {"true", "false"}, "watermark": {"true", "false"}, "framespersecond": {"24"}}
PIXELS = {"480p": 480 * 864, "720p": 720 * 1280, "1080p": 1080 * 1920}
# Ark refuses to cancel a running task; its documented shape, but this code and status are a guess (unverified).
NOT_CANCELLABLE = (400, "InvalidAction.TaskNotCancellable")
_IMAGE = re.compile(r"data:image/(png|jpeg|webp);base64,[A-Za-z0-9+/=]+$|https?://\S+$")


def ark_error(code: str, message: str, kind: str = "BadRequest", param: str = "") -> dict[str, Any]:
    return {"error": {"code": code, "message": f"{message} Request id: {uuid.uuid4().hex}", "param": param,
                      "type": kind}}


class FakeArk(VendorFake):
    def __init__(self, *, api_key: str, not_open: tuple[str, ...] = (), **options: Any):
        super().__init__(**options)
        self.api_key = api_key
        self.not_open = set(not_open)
        self.commands: dict[str, dict[str, str]] = {}  # task id -> the commands parsed from its text

    def route(self, method: str, path: str, query: dict) -> tuple[str, Any] | None:
        if method == "POST" and path == PATH:
            return "submit", self._create
        found = re.fullmatch(re.escape(PATH) + r"/([A-Za-z0-9-]+)", path)
        if found and method == "GET":
            return "poll", lambda h, body, q: self._get(h, found[1])
        if found and method == "DELETE":
            return "cancel", lambda h, body, q: self._delete(h, found[1])
        return None

    def authorized(self, headers: Any) -> bool:
        return headers.get("Authorization", "") == f"Bearer {self.api_key}"

    def unauthorized(self, h: FakeHandler) -> None:
        send_json(h, 401, ark_error("AuthenticationError", "The API key in the request is missing or invalid.",
                                    "Unauthorized"))

    def not_found(self, h: FakeHandler, method: str, path: str) -> None:
        send_json(h, 404, ark_error("NotFound", f"The requested path {path} is not found.", "NotFound"))

    # --- routes ---

    def _create(self, h: FakeHandler, body: dict, query: dict) -> None:
        model = body.get("model")
        if model in self.not_open:
            return send_json(h, 404, ark_error("ModelNotOpen", f"Your account has not activated the model {model}. "
                                               "Please activate the model service in the Ark Console.", "NotFound"))
        if model not in MODELS:
            return send_json(h, 404, ark_error("InvalidEndpointOrModel.NotFound", f"The model or endpoint {model} "
                                               "does not exist or you do not have access to it.", "NotFound"))
        parsed = _parse(body.get("content"), model)
        if isinstance(parsed, tuple):
            param, message = parsed
            return send_json(h, 400, ark_error("InvalidParameter", message, param=param))
        job = self.create_job(model, float(parsed.get("duration", "5")), body)
        with self.lock:
            self.commands[job.id] = parsed
        send_json(h, 200, {"id": job.id})

    def _get(self, h: FakeHandler, task_id: str) -> None:
        with self.lock:
            job = self.find_job(task_id)
            if job is None:
                return send_json(h, 404, ark_error("ResourceNotFound", f"The task {task_id} is not found.", "NotFound"))
            phase = self.advance(job)
            commands = self.commands[job.id]
        status = {"pending": "queued" if job.polls <= 1 else "running", "succeeded": "succeeded", "failed": "failed",
                  "cancelled": "cancelled"}[phase]
        if phase == "failed" and job.outcome.error.get("status") == "expired":
            status = "expired"  # Outcome(result="failed", error={"status": "expired"}): left queued too long
        send_json(h, 200, self._task(job, status, commands))

    def _delete(self, h: FakeHandler, task_id: str) -> None:
        with self.lock:
            job = self.find_job(task_id)
            if job is None:
                return send_json(h, 404, ark_error("ResourceNotFound", f"The task {task_id} is not found.", "NotFound"))
            finished = job.outcome.result != "stuck" and job.polls > job.outcome.pending_polls
            if finished:  # the task record goes, its video with it
                del self.jobs[task_id]
            elif job.cancelled or job.polls > 1:  # polled as running (or cancelled already): not cancellable
                status, code = NOT_CANCELLABLE
                word = "cancelled" if job.cancelled else "running"
                return send_json(h, status, ark_error(code, f"The task {task_id} is {word} and cannot be cancelled."))
            else:
                self.cancel(job)
        send_json(h, 200, {})

    # --- helpers ---

    def _task(self, job: FakeJob, status: str, commands: dict[str, str]) -> dict[str, Any]:
        resolution = commands.get("resolution", "720p")
        task: dict[str, Any] = {
            "id": job.id, "model": job.model, "status": status, "seed": int(commands.get("seed", "12345")),
            "resolution": resolution, "ratio": commands.get("ratio", "adaptive"), "duration": int(job.duration),
            "framespersecond": 24, "created_at": int(job.created), "updated_at": int(time.time()),
        }
        if status == "succeeded":
            estimate = PIXELS[resolution] * 24 * job.duration / 1024
            tokens = job.outcome.units if job.outcome.units is not None else estimate
            task["content"] = {"video_url": self.video_url(job)}
            task["usage"] = {"completion_tokens": int(tokens), "total_tokens": int(tokens)}
        if status == "failed":
            task["error"] = job.outcome.error or {"code": "InternalServiceError",
                                                  "message": "The service encountered an unexpected internal error."}
        return task


def _parse(content: Any, model: str) -> dict[str, str] | tuple[str, str]:
    """The commands of a valid content list, or (param, message) of the first problem."""
    if not isinstance(content, list) or not content:
        return "content", "content must be a non-empty list"
    texts = [c for c in content if isinstance(c, dict) and c.get("type") == "text"]
    images = [c for c in content if isinstance(c, dict) and c.get("type") == "image_url"]
    if len(texts) != 1 or len(texts) + len(images) != len(content) or not isinstance(texts[0].get("text"), str):
        return "content", "content takes exactly one text item and image_url items"
    if model in NEEDS_IMAGE and not images:
        return "content", f"{model} needs a first_frame image"
    for image in images:
        url = (image.get("image_url") or {}).get("url") if isinstance(image.get("image_url"), dict) else None
        if not isinstance(url, str) or not _IMAGE.match(url):
            return "image_url", "image_url.url must be an http(s) URL or a base64 data URL"
        if image.get("role", "first_frame") not in ("first_frame", "last_frame"):
            return "role", f"unknown role {image.get('role')}"
    commands: dict[str, str] = {}
    for name, value in re.findall(r"--(\w+)\s+(\S+)", texts[0]["text"]):
        name = ALIASES.get(name, name)
        if name in CHOICES and value not in CHOICES[name]:
            return name, f"the parameter {name} specified in the request is not valid: {value}"
        if name == "duration" and not (value.isdigit() and 3 <= int(value) <= 12):
            return name, f"the parameter duration specified in the request is not valid: {value}"
        if name == "seed" and not (re.fullmatch(r"-?\d+", value) and -1 <= int(value) < 2**32):
            return name, f"the parameter seed specified in the request is not valid: {value}"
        if name not in (*CHOICES, "duration", "seed"):
            return name, f"unknown parameter --{name}"
        commands[name] = value
    return commands
