"""A fake hosted-video job gateway: a real HTTP server on 127.0.0.1 speaking the seed gateway's protocol.

    POST {base_url}/video/generate      JSON request -> {"job_id": ...}
    GET  {base_url}/video/jobs/{job_id} -> {"status": "queued"|"processing"|"completed"|"failed", "video_url"?, "error"?}
    GET  {base_url}/files/{job_id}.mp4  -> a real H.264 MP4 of the requested duration

The job store, the script, the faults and the request log are vendor_base's (see there); what is the
gateway's own is its routes, its JSON, the Idempotency-Key that makes a retried submit the same job, and
the words of its script:

    script = Script(
        models={"model-a": Behaviour(outcome="failed"),         # how jobs of each model end
                "model-b": Behaviour(processing_polls=3)},
        submit=[Fault.http(429, retry_after=2)],                 # one-shot faults, consumed in order by
        poll=[Fault.http(500)] * 3,                              # successive requests to that route;
        download=[Fault.truncated()],                            # once used up, requests are served normally
    )
    with FakeVideoServer(script, api_key="sk-test") as server:
        server.base_url        # "http://127.0.0.1:<port>/v1"
        server.submissions     # one FakeJob per job created, i.e. per job a real gateway would bill
        server.polls           # job ids, one per poll request that reached a job
        server.downloads       # job ids, one per download request
        server.requests        # every request: Logged(method, path, route, fault, authorized, authorization)

A gateway job answers "completed" at its first poll unless told otherwise (`Script().default` is
`Behaviour()`). All state lives in the server object behind one lock, so tests in this process can read
what a Snakemake subprocess did through the network. The API key itself is never recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import vendor_base
from .http_base import FakeHandler, send_json
from .vendor_base import Fault, FakeJob, Outcome, VendorFake, prompt_colour, video_bytes

__all__ = ["Behaviour", "Fault", "FakeVideoServer", "Script", "prompt_colour", "video_bytes"]


def Behaviour(outcome: str = "completed", processing_polls: int = 0,  # noqa: N802 - reads as the gateway's type
              error: str = "generation failed: content filter", video_duration: float | None = None,
              video_url: str | None = None, relative_url: bool = False, latency_s: float | None = None,
              poll_retry_after: float | None = None) -> Outcome:
    """How a gateway job ends, in the gateway's words: `outcome` "completed" | "failed" | "stuck" (never
    ends) after `processing_polls` polls that answer queued/processing (and, with `latency_s`, not before
    that many seconds after the submit); `video_url` is reported instead of the fake's own (e.g.
    "file:///etc/passwd"), or the fake's own relative to base_url (`relative_url`). `poll_retry_after`:
    a pending reply carries `Retry-After: <seconds>`, the gateway's hint when to ask again."""
    return Outcome(result="succeeded" if outcome == "completed" else outcome, pending_polls=processing_polls,
                   error={"error": error}, video_duration=video_duration, latency_s=latency_s,
                   extra={"video_url": video_url, "relative_url": relative_url, "poll_retry_after": poll_retry_after})


@dataclass
class Script(vendor_base.Script):
    default: Outcome = Behaviour()


class FakeVideoServer(VendorFake):
    PREFIX = "/v1"
    job_prefix = "job"

    def __init__(self, script: Script | None = None, *, api_key: str | None = None):
        super().__init__(script or Script())
        self.api_key = api_key  # when set, requests without "Bearer <api_key>" get 401
        self._by_idempotency: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        return f"{super().base_url}{self.PREFIX}"

    # --- the gateway's protocol ---

    def route(self, method: str, path: str, query: dict) -> tuple[str, Any] | None:
        if not path.startswith(self.PREFIX + "/"):
            return None
        rest = path[len(self.PREFIX) + 1:]
        if method == "POST" and rest == "video/generate":
            return "submit", self._submit
        if method == "GET" and rest.startswith("video/jobs/"):
            return "poll", self._job_route(rest[len("video/jobs/"):], self._poll)
        if method == "GET" and rest.startswith("files/") and rest.endswith(".mp4"):
            return "download", self._job_route(rest[len("files/"):-len(".mp4")],
                                               lambda h, job: self.send_video(h, job, h.fault))
        return None

    def authorized(self, headers: Any) -> bool:
        return self.api_key is None or headers.get("Authorization") == f"Bearer {self.api_key}"

    def unauthorized(self, h: FakeHandler) -> None:
        send_json(h, 401, {"error": "missing or wrong API key"})

    def scripted_error(self, status: int) -> dict[str, Any]:
        return {"error": f"scripted HTTP {status}"}

    def _job_route(self, job_id: str, handler: Any) -> Any:
        def found(h: FakeHandler, body: dict, query: dict) -> None:
            job = self.find_job(job_id)
            if job is None:
                return send_json(h, 404, {"error": f"no job {job_id}"})
            handler(h, job)
        return found

    def _submit(self, h: FakeHandler, body: dict, query: dict) -> None:
        try:
            model, duration = str(body["model"]), float(body["duration"])
        except (KeyError, TypeError, ValueError):
            return send_json(h, 400, {"error": "bad request body"})
        key = h.headers.get("Idempotency-Key")
        with self.lock:
            if key and key in self._by_idempotency:  # a retried submit: the same job, not a new bill
                return send_json(h, 200, {"job_id": self._by_idempotency[key]})
            job = self.create_job(model, duration, body, authorization="present" if h.headers.get("Authorization")
                                  else "absent", idempotency_key=key, prompt=str(body.get("prompt", "")))
            if key:
                self._by_idempotency[key] = job.id
        send_json(h, 200, {"job_id": job.id})

    def _poll(self, h: FakeHandler, job: FakeJob) -> None:
        phase = self.advance(job)
        if phase == "pending":
            hint = job.outcome.extra.get("poll_retry_after")
            return send_json(h, 200, {"status": "queued" if job.polls == 1 else "processing"},
                             headers={"Retry-After": f"{hint:g}"} if hint is not None else None)
        if phase == "failed":
            return send_json(h, 200, {"status": "failed", "error": job.outcome.error.get("error", "generation failed")})
        extra = job.outcome.extra
        url = extra.get("video_url") or (f"files/{job.id}.mp4" if extra.get("relative_url")
                                         else f"{self.base_url}/files/{job.id}.mp4")
        send_json(h, 200, {"status": "completed", "video_url": url})
