"""A fake Replicate API on 127.0.0.1: predictions of image-to-video models as api.replicate.com answers them.

    POST /v1/models/{owner}/{name}/predictions  {"input": {...}}          -> 201 prediction (status "starting")
    POST /v1/predictions {"version": "<64 hex>", "input": {...}}          -> 201 prediction (a pinned version)
    GET  /v1/predictions/{id}          -> starting, processing, then succeeded|failed (Outcome), or canceled
    POST /v1/predictions/{id}/cancel   -> the prediction, status "canceled"
    GET  /cdn/{id}.mp4?expires=...     -> the video (replicate.delivery URLs expire after an hour; the fake sooner)

Requests must carry `Authorization: Bearer <token>` (else 401 in Replicate's problem+json shape). Each
known model has an input schema (the types and enums of its API page); an input that breaks it is a 422
with `invalid_fields`, as Replicate answers. The fake also refuses inputs a model does not have, which
Replicate itself may silently ignore (?): stricter, so a misnamed input in a preset shows up in tests.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any

from .http_base import FakeHandler, send_json
from .vendor_base import FakeJob, VendorFake

URI = "uri"  # a string that must be a data: URI or an http(s) URL
_FILE = re.compile(r"data:image/(png|jpeg|webp);base64,[A-Za-z0-9+/=]+$|https?://")
# name -> (type, required, allowed values or None)
Schema = dict[str, tuple[Any, bool, tuple | None]]
KLING_V21: Schema = {"prompt": (str, True, None), "start_image": (URI, True, None), "duration": (int, False, (5, 10)),
                     "negative_prompt": (str, False, None), "mode": (str, False, ("standard", "pro"))}
SEEDANCE_LITE: Schema = {"prompt": (str, True, None), "image": (URI, False, None), "duration": (int, False, (5, 10)),
                         "resolution": (str, False, ("480p", "720p", "1080p")), "seed": (int, False, None),
                         "aspect_ratio": (str, False, ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "9:21")),
                         "fps": (int, False, (24,)), "camera_fixed": (bool, False, None)}
MODELS: dict[str, Schema] = {"kwaivgi/kling-v2.1": KLING_V21, "bytedance/seedance-1-lite": SEEDANCE_LITE}
VERSION = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
# A community model pinned by version: billed by hardware time, reports metrics.predict_time.
VERSIONS: dict[str, tuple[str, Schema]] = {VERSION: ("someone/wan-i2v-community", {
    "prompt": (str, True, None), "image": (URI, True, None), "seed": (int, False, None),
    "num_frames": (int, False, None)})}


def problem(status: int, detail: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "status": status, **extra}


class FakeReplicate(VendorFake):
    def __init__(self, *, token: str, **options: Any):
        super().__init__(**options)
        self.token = token

    def route(self, method: str, path: str, query: dict) -> tuple[str, Any] | None:
        found = re.fullmatch(r"/v1/models/([^/]+)/([^/]+)/predictions", path)
        if method == "POST" and found:
            model = f"{found[1]}/{found[2]}"
            return "submit", lambda h, body, q: self._create(h, body, model, MODELS.get(model))
        if method == "POST" and path == "/v1/predictions":
            return "submit", self._create_version
        found = re.fullmatch(r"/v1/predictions/([A-Za-z0-9-]+)(/cancel)?", path)
        if found and method == "GET" and not found[2]:
            return "poll", lambda h, body, q: self._get(h, found[1])
        if found and method == "POST" and found[2]:
            return "cancel", lambda h, body, q: self._cancel(h, found[1])
        return None

    def authorized(self, headers: Any) -> bool:
        return headers.get("Authorization", "") == f"Bearer {self.token}"

    def unauthorized(self, h: FakeHandler) -> None:
        send_json(h, 401, problem(401, "You did not pass a valid authentication token", title="Unauthenticated"))

    def not_found(self, h: FakeHandler, method: str, path: str) -> None:
        send_json(h, 404, problem(404, "The requested resource could not be found."))

    # --- routes ---

    def _create_version(self, h: FakeHandler, body: dict, query: dict) -> None:
        version = str(body.get("version", "")).rpartition(":")[2]
        if version not in VERSIONS:
            return send_json(h, 422, problem(422, f"Invalid version or not permitted: {version[:70]}",
                                             title="Invalid version"))
        model, schema = VERSIONS[version]
        self._create(h, body, model, schema)

    def _create(self, h: FakeHandler, body: dict, model: str, schema: Schema | None) -> None:
        if schema is None:
            return self.not_found(h, "POST", model)
        values = body.get("input")
        if not isinstance(values, dict):
            return send_json(h, 422, problem(422, "- (root): input is required",
                                             invalid_fields=[{"type": "required", "field": "input"}]))
        invalid = _invalid_fields(values, schema)
        if invalid:
            detail = "\n".join(f"- input.{f['field']}: {f['description']}" for f in invalid)
            return send_json(h, 422, problem(422, detail, title="Input validation failed", invalid_fields=invalid))
        duration = values.get("duration", 5)
        if "num_frames" in schema:
            duration = values.get("num_frames", 81) / 16
        job = self.create_job(model, float(duration), body)
        send_json(h, 201, self._prediction(job, "starting"))

    def _get(self, h: FakeHandler, prediction_id: str) -> None:
        with self.lock:
            job = self.find_job(prediction_id)
            if job is None:
                return self.not_found(h, "GET", prediction_id)
            phase = self.advance(job)
        status = {"pending": "starting" if job.polls <= 1 else "processing", "succeeded": "succeeded",
                  "failed": "failed", "cancelled": "canceled"}[phase]
        send_json(h, 200, self._prediction(job, status))

    def _cancel(self, h: FakeHandler, prediction_id: str) -> None:
        with self.lock:
            job = self.find_job(prediction_id)
            if job is None:
                return self.not_found(h, "POST", prediction_id)
            self.cancel(job)
        send_json(h, 200, self._prediction(job, "canceled"))

    # --- helpers ---

    def _prediction(self, job: FakeJob, status: str) -> dict[str, Any]:
        base = self.base_url
        done = status in ("succeeded", "failed", "canceled")
        prediction: dict[str, Any] = {
            "id": job.id, "model": job.model, "version": job.body.get("version", "hidden"),
            "input": job.body.get("input"), "logs": "", "output": None, "data_removed": False, "error": None,
            "status": status, "created_at": _iso(job.created), "started_at": _iso(job.created) if job.polls else None,
            "completed_at": _iso(time.time()) if done else None, "metrics": {},
            "urls": {"get": f"{base}/v1/predictions/{job.id}", "cancel": f"{base}/v1/predictions/{job.id}/cancel",
                     "web": f"https://replicate.com/p/{job.id}"},
        }
        if status == "succeeded":
            prediction["output"] = self.video_url(job)
            prediction["metrics"] = {"predict_time": job.outcome.units if job.outcome.units is not None else 41.7}
        if status == "failed":
            prediction["error"] = job.outcome.error.get("error", "Prediction failed for an unknown reason")
        return prediction


def _invalid_fields(values: dict[str, Any], schema: Schema) -> list[dict[str, str]]:
    invalid = []
    for name, (kind, required, allowed) in schema.items():
        if required and name not in values:
            invalid.append({"type": "required", "field": name, "description": f"{name} is required"})
    for name, value in values.items():
        if name not in schema:
            invalid.append({"type": "additional_property_not_allowed", "field": name,
                            "description": f"Additional property {name} is not allowed"})
            continue
        kind, _, allowed = schema[name]
        if kind == URI:
            ok = isinstance(value, str) and _FILE.match(value)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            expected = "uri" if kind == URI else kind.__name__
            invalid.append({"type": "invalid_type", "field": name,
                            "description": f"Invalid type. Expected: {expected}"})
        elif allowed is not None and value not in allowed:
            invalid.append({"type": "enum", "field": name, "description":
                            f"{name} must be one of the following: {', '.join(map(str, allowed))}"})
    return invalid


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat().replace("+00:00", "Z")
