"""The seed's video gateway (one API in front of Kling, Runway and Pika): provider `job_api`.

    POST {base_url}/video/generate   {model, prompt, negative_prompt, duration, aspect_ratio, ...} -> {"job_id"}
    GET  {base_url}/video/jobs/{id}  -> {"status": queued|processing|completed|failed, "video_url"?, "error"?}

The gateway honours an `Idempotency-Key` header, so a create request may be sent again after a timeout.
"""

from __future__ import annotations

import math
from typing import Any, Mapping
from urllib.parse import quote

from ...errors import ProviderError
from ...http import ProviderHTTPError
from .base import (JobRequest, JobState, Session, Submitted, bearer_headers, data_uri, one_line, reply_json, text_field,
                   unknown_model)


class GatewayAdapter:
    name = "job_api"
    required_settings: tuple[str, ...] = ()  # sends requests without a key, if a server allows it
    supports_recovery = False
    idempotent_submit = True  # the gateway answers a repeated Idempotency-Key with the same job

    def headers(self, session: Session) -> dict[str, str]:
        return bearer_headers(session)

    def submit(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted:
        entry = session.entry
        what = f"video {entry.model}: submit"
        divisor = math.gcd(job.width, job.height) or 1
        body: dict[str, Any] = {
            "model": entry.model, "prompt": job.prompt, "negative_prompt": job.negative_prompt,
            "duration": job.duration, "aspect_ratio": f"{job.width // divisor}:{job.height // divisor}",
            "fps": job.fps, "resolution": f"{min(job.width, job.height)}p", "seed": job.seed,
        }
        if job.reference_image is not None:
            body["reference_image"] = data_uri(job.reference_image, what)
        try:
            response = session.send("POST", f"{entry.base_url.rstrip('/')}/video/generate", what=what, json=body,
                                    headers={"Idempotency-Key": idempotency_key})
        except ProviderHTTPError as error:
            if error.status == 404 and "model" in error.body.lower():
                raise unknown_model(entry, "the video gateway", error.body) from None
            raise
        return Submitted(job_id=text_field(reply_json(response, what), "job_id", what))

    def recover(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted | None:
        return None

    def poll(self, session: Session, record: Mapping[str, Any]) -> JobState:
        entry = session.entry
        what = f"video {entry.model}: job {record['job_id']}"
        url = f"{entry.base_url.rstrip('/')}/video/jobs/{quote(record['job_id'], safe='')}"
        data = reply_json(session.send("GET", url, what=what), what)
        status = data.get("status")
        if status == "completed":
            url = data.get("video_url")
            if not isinstance(url, str) or not url.strip():
                raise ProviderError(f"{what}: completed without a video_url")
            return JobState("succeeded", status, video_url=url)
        if status == "failed":
            return JobState("failed", status, reason=one_line(data.get("error") or "no reason given"))
        if status in ("queued", "processing"):
            return JobState("pending", status)
        raise ProviderError(f"{what}: unknown job status {str(status)[:40]!r}")

    def cancel(self, session: Session, record: Mapping[str, Any]) -> bool:
        return False  # the gateway has no cancel call

    def validate_options(self, options: Mapping[str, Any]) -> None:
        if options:
            raise ValueError("the video gateway (provider job_api) takes no options")


ADAPTER = GatewayAdapter()
