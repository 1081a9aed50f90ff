"""A fake Kling API on 127.0.0.1: image-to-video tasks as Kling's own API documents them.

    POST /v1/videos/image2video       -> {code: 0, message: "SUCCEED", request_id, data: {task_id, task_status, ...}}
    GET  /v1/videos/image2video/{id}  -> id is a task_id or an external_task_id
    GET  /cdn/{task}.mp4?expires=...  -> the video (signed URL; Kling keeps them 30 days, the fake less)

Every request must carry `Authorization: Bearer <JWT>`, HS256-signed with the secret key, claims iss =
access key, nbf <= now < exp; otherwise 401 with Kling's codes (1000-1004). Request bodies are checked
like Kling does: model_name known, duration "5" or "10" as a string, image as raw base64 (a data: URI is
code 1201), no aspect_ratio for image2video, mode std|pro, cfg_scale 0..1, external_task_id unique.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from .http_base import FakeHandler, send_json
from .vendor_base import FakeJob, VendorFake

KNOWN_MODELS = ("kling-v1", "kling-v1-5", "kling-v1-6", "kling-v2-master", "kling-v2-1", "kling-v2-1-master",
                "kling-v2-5-turbo", "kling-v2-6")
SOUND_MODELS = ("kling-v2-6",)  # the models that make a clip with its own sound (`sound: "on"`, pro mode)
PATH = "/v1/videos/image2video"


def kling_error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": str(uuid.uuid4())}


class FakeKling(VendorFake):
    def __init__(self, *, access_key: str, secret_key: str, **options: Any):
        super().__init__(**options)
        self.access_key, self.secret_key = access_key, secret_key
        self._by_external: dict[str, str] = {}
        self.auth_failures: list[int] = []

    def route(self, method: str, path: str, query: dict) -> tuple[str, Any] | None:
        if method == "POST" and path == PATH:
            return "submit", self._submit
        if method == "GET" and path.startswith(PATH + "/"):
            ident = path[len(PATH) + 1:]
            return "poll", lambda h, body, q: self._query(h, ident)
        return None

    def authorized(self, headers: Any) -> bool:
        code = self._auth_code(headers.get("Authorization", ""))
        if code:
            with self.lock:
                self.auth_failures.append(code)
        return code == 0

    def unauthorized(self, h: FakeHandler) -> None:
        code = self.auth_failures[-1] if self.auth_failures else 1000
        send_json(h, 401, kling_error(code, "Authorization failed"))

    def not_found(self, h: FakeHandler, method: str, path: str) -> None:
        send_json(h, 404, kling_error(1202, f"invalid request method or path: {method} {path}"))

    # --- routes ---

    def _submit(self, h: FakeHandler, body: dict, query: dict) -> None:
        problem = self._check_body(body)
        if problem:
            code, status, message = problem
            return send_json(h, status, kling_error(code, message))
        external = body.get("external_task_id")
        with self.lock:
            if external and external in self._by_external:
                return send_json(h, 400, kling_error(1201, f"external_task_id {external} already exists"))
            job = self.create_job(body["model_name"], float(body["duration"]), body, external_id=external)
            if external:
                self._by_external[external] = job.id
        send_json(h, 200, {"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()),
                           "data": self._task(job, "submitted")})

    def _query(self, h: FakeHandler, ident: str) -> None:
        with self.lock:
            job = self.find_job(self._by_external.get(ident, ident))
            if job is None:
                return send_json(h, 404, kling_error(1203, f"task {ident} does not exist"))
            phase = self.advance(job)
        if phase == "pending":
            status = "submitted" if job.polls == 1 else "processing"
            return send_json(h, 200, self._reply(self._task(job, status)))
        if phase in ("failed", "cancelled"):
            task = self._task(job, "failed")
            task["task_status_msg"] = job.outcome.error.get("task_status_msg", "internal error, please retry")
            return send_json(h, 200, self._reply(task))
        task = self._task(job, "succeed")
        task["final_unit_deduction"] = f"{job.outcome.units if job.outcome.units is not None else 1.5:g}"
        task["task_result"] = {"videos": [{"id": f"v-{job.id}", "url": self.video_url(job),
                                           "duration": f"{job.duration:g}"}]}
        send_json(h, 200, self._reply(task))

    # --- helpers ---

    def _reply(self, data: dict) -> dict:
        return {"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data}

    @staticmethod
    def _task(job: FakeJob, status: str) -> dict:
        created = int(job.created * 1000)
        return {"task_id": job.id, "task_status": status, "task_status_msg": "",
                "task_info": {"external_task_id": job.external_id or ""}, "created_at": created,
                "updated_at": int(time.time() * 1000)}

    def _check_body(self, body: dict) -> tuple[int, int, str] | None:
        model = body.get("model_name", "kling-v1")
        if model not in KNOWN_MODELS:
            return 1203, 404, f"model_name {model} is not supported"
        if "aspect_ratio" in body:
            return 1201, 400, "aspect_ratio is not a parameter of image2video"
        if body.get("duration", "5") not in ("5", "10"):
            return 1201, 400, "duration must be the string \"5\" or \"10\""
        if body.get("mode", "std") not in ("std", "pro"):
            return 1201, 400, "mode must be std or pro"
        if body.get("sound", "off") not in ("on", "off"):
            return 1201, 400, "sound must be on or off"
        if body.get("sound") == "on" and (model not in SOUND_MODELS or body.get("mode", "std") != "pro"):
            return 1201, 400, "sound is supported by kling-v2-6 and later in pro mode only"
        scale = body.get("cfg_scale", 0.5)
        if not isinstance(scale, (int, float)) or not 0 <= scale <= 1:
            return 1201, 400, "cfg_scale must be within [0, 1]"
        image = body.get("image")
        if not isinstance(image, str) or not image:
            return 1201, 400, "image is required"
        if image.startswith("data:"):
            return 1201, 400, "image: base64 must not carry a data: prefix"
        try:
            base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError):
            return 1201, 400, "image is not valid base64"
        if len(body.get("prompt", "")) > 2500 or len(body.get("negative_prompt", "")) > 2500:
            return 1201, 400, "prompt longer than 2500 characters"
        if "unsafe" in body.get("prompt", "").lower():
            return 1301, 400, "Failure to pass the risk control system"
        return None

    def _auth_code(self, header: str) -> int:
        if not header.startswith("Bearer "):
            return 1001  # authorization empty
        try:
            head, claims, signature = header[len("Bearer "):].split(".")
            expected = hmac.new(self.secret_key.encode(), f"{head}.{claims}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_unb64(signature), expected):
                return 1002
            header_fields = json.loads(_unb64(head))
            payload = json.loads(_unb64(claims))
        except (ValueError, binascii.Error):
            return 1002  # authorization invalid
        if header_fields.get("alg") != "HS256" or payload.get("iss") != self.access_key:
            return 1002
        now = time.time()
        if payload.get("nbf", now + 1) > now:
            return 1003  # not yet valid
        if payload.get("exp", 0) <= now:
            return 1004  # expired
        return 0


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
