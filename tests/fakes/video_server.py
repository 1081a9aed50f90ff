"""A fake hosted-video job gateway: a real HTTP server on 127.0.0.1 speaking the seed gateway's protocol.

    POST {base_url}/video/generate      JSON request -> {"job_id": ...}
    GET  {base_url}/video/jobs/{job_id} -> {"status": "queued"|"processing"|"completed"|"failed", "video_url"?, "error"?}
    GET  {base_url}/files/{job_id}.mp4  -> a real H.264 MP4 of the requested duration

Scripted per test with two kinds of knobs:

    script = Script(
        models={"model-a": Behaviour(outcome="failed"),         # how jobs of each model end
                "model-b": Behaviour(processing_polls=3)},
        submit=[Fault.http(429, retry_after=2)],                 # one-shot faults, consumed in order by
        poll=[Fault.http(500)] * 3,                              # successive requests to that route;
        download=[Fault.truncated()],                            # once used up, requests are served normally
    )
    with FakeVideoServer(script, api_key="sk-test") as server:
        server.base_url        # "http://127.0.0.1:<port>/v1"
        server.submissions     # one Submission per job created, i.e. per job a real gateway would bill
        server.polls           # job ids, one per poll request that reached a job
        server.downloads       # job ids, one per download request
        server.requests        # every request: (method, path, authorization "present"/"absent", fault or None)

All state lives in the server object behind one lock, so tests in this process can read what a
Snakemake subprocess did through the network. The API key itself is never recorded.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shortdrama.media import run_ffmpeg

from .http_base import FakeHandler, QuietServer, send_json


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour for one request. Build them with the class methods."""

    status: int | None = None  # answer with this status instead of the real reply
    retry_after: float | None = None
    delay: float = 0.0  # sleep first (past the client's timeout = a slow response), then answer normally
    reset: bool = False  # close the connection without answering
    truncate: bool = False  # download: Content-Length of the whole file, then half the bytes and close
    short: bool = False  # download: half the bytes with a matching Content-Length (a silent truncation)
    corrupt: bool = False  # download: bytes that are not a video
    echo_auth: bool = False  # put the received Authorization header into the error body

    @classmethod
    def http(cls, status: int, retry_after: float | None = None, echo_auth: bool = False) -> "Fault":
        return cls(status=status, retry_after=retry_after, echo_auth=echo_auth)

    @classmethod
    def slow(cls, seconds: float) -> "Fault":
        return cls(delay=seconds)

    @classmethod
    def disconnect(cls) -> "Fault":
        return cls(reset=True)

    @classmethod
    def truncated(cls) -> "Fault":
        return cls(truncate=True)

    @classmethod
    def short_body(cls) -> "Fault":
        return cls(short=True)

    @classmethod
    def corrupted(cls) -> "Fault":
        return cls(corrupt=True)


@dataclass(frozen=True)
class Behaviour:
    """How a job ends. `processing_polls` polls answer queued/processing first; "stuck" never ends."""

    outcome: str = "completed"  # "completed" | "failed" | "stuck"
    processing_polls: int = 0
    error: str = "generation failed: content filter"
    video_duration: float | None = None  # serve a clip of this length instead of the requested one
    video_url: str | None = None  # report this URL instead of our own (e.g. "file:///etc/passwd")
    relative_url: bool = False  # report our own URL relative to base_url


@dataclass
class Script:
    # Per model: one Behaviour for all its jobs, or a list used job by job (the last one repeats).
    models: dict[str, Behaviour | list[Behaviour]] = field(default_factory=dict)
    default: Behaviour = Behaviour()
    submit: list[Fault] = field(default_factory=list)
    poll: list[Fault] = field(default_factory=list)
    download: list[Fault] = field(default_factory=list)
    # Serve each job a plain colour derived from its prompt, so a test can tell which request's clip
    # ended up in a final (the default test pattern looks the same for every prompt).
    colour_by_prompt: bool = False


@dataclass(frozen=True)
class Submission:
    job_id: str
    model: str
    body: dict[str, Any]  # the JSON body as received
    authorization: str  # "present" | "absent"; the value is never kept
    idempotency_key: str | None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    authorization: str
    fault: Fault | None


@dataclass
class _Job:
    id: str
    model: str
    duration: float
    behaviour: Behaviour
    polls: int = 0
    colour: str | None = None  # RRGGBB, when the script colours clips by prompt


_video_lock = threading.Lock()
_video_dir: Path | None = None
_videos: dict[str, bytes] = {}


def prompt_colour(prompt: str) -> str:
    """The RRGGBB colour a colour-by-prompt script serves for `prompt`."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:6]


def video_bytes(duration: float, colour: str | None = None) -> bytes:
    """A real small H.264 MP4 of `duration` seconds (a test pattern, or one plain colour), made once per process."""
    global _video_dir
    name = f"{duration:.3f}-{colour or 'testsrc'}"
    source = f"color=c=0x{colour}:size=144x256:rate=12" if colour else "testsrc=size=144x256:rate=12"
    with _video_lock:
        if name not in _videos:
            if _video_dir is None:
                _video_dir = Path(tempfile.mkdtemp(prefix="fake-video-"))
            out = _video_dir / f"{name}.mp4"
            run_ffmpeg(["-f", "lavfi", "-i", source, "-t", str(duration),
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)])
            _videos[name] = out.read_bytes()
        return _videos[name]


class FakeVideoServer:
    PREFIX = "/v1"

    def __init__(self, script: Script | None = None, *, api_key: str | None = None):
        self.script = script or Script()
        self.api_key = api_key  # when set, requests without "Bearer <api_key>" get 401
        self.submissions: list[Submission] = []
        self.polls: list[str] = []
        self.downloads: list[str] = []
        self.requests: list[Request] = []
        self._jobs: dict[str, _Job] = {}
        self._by_idempotency: dict[str, str] = {}
        self._per_model: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd = QuietServer(("127.0.0.1", 0), FakeHandler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{self.PREFIX}"

    def submissions_for(self, model: str) -> list[Submission]:
        with self._lock:
            return [s for s in self.submissions if s.model == model]

    def poll_count(self, job_id: str) -> int:
        with self._lock:
            return self._jobs[job_id].polls

    def __enter__(self) -> "FakeVideoServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- request handling (runs on the server's threads) ---

    def handle(self, h: "FakeHandler", method: str) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        path = urlsplit(h.path).path
        route, arg = self._route(method, path)
        auth = h.headers.get("Authorization")
        with self._lock:
            queue = getattr(self.script, route) if route else []
            fault = queue.pop(0) if queue else None
            self.requests.append(Request(method, path, "present" if auth else "absent", fault))
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.reset:
                h.close_connection = True
                return
            if fault.status is not None:
                body = {"error": f"scripted HTTP {fault.status}"}
                if fault.echo_auth:
                    body["received_authorization"] = auth or ""
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                return send_json(h, fault.status, body, headers)
        if route is None:
            return send_json(h, 404, {"error": f"no route {method} {path}"})
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            return send_json(h, 401, {"error": "missing or wrong API key"})
        if route == "submit":
            return self._submit(h, raw)
        with self._lock:
            job = self._jobs.get(arg)
        if job is None:
            return send_json(h, 404, {"error": f"no job {arg}"})
        if route == "poll":
            return self._poll(h, job)
        return self._download(h, job, fault)

    def _route(self, method: str, path: str) -> tuple[str | None, str]:
        if not path.startswith(self.PREFIX + "/"):
            return None, ""
        rest = path[len(self.PREFIX) + 1:]
        if method == "POST" and rest == "video/generate":
            return "submit", ""
        if method == "GET" and rest.startswith("video/jobs/"):
            return "poll", rest[len("video/jobs/"):]
        if method == "GET" and rest.startswith("files/") and rest.endswith(".mp4"):
            return "download", rest[len("files/"):-len(".mp4")]
        return None, ""

    def _submit(self, h: "FakeHandler", raw: bytes) -> None:
        try:
            body = json.loads(raw)
            model, duration = str(body["model"]), float(body["duration"])
        except (ValueError, KeyError, TypeError):
            return send_json(h, 400, {"error": "bad request body"})
        key = h.headers.get("Idempotency-Key")
        with self._lock:
            if key and key in self._by_idempotency:  # a retried submit: the same job, not a new bill
                return send_json(h, 200, {"job_id": self._by_idempotency[key]})
            job_id = f"job-{len(self._jobs) + 1:04d}"
            colour = prompt_colour(str(body.get("prompt", ""))) if self.script.colour_by_prompt else None
            self._jobs[job_id] = _Job(job_id, model, duration, self._behaviour(model), colour=colour)
            if key:
                self._by_idempotency[key] = job_id
            auth = "present" if h.headers.get("Authorization") else "absent"
            self.submissions.append(Submission(job_id, model, body, auth, key))
        send_json(h, 200, {"job_id": job_id})

    def _behaviour(self, model: str) -> Behaviour:
        chosen = self.script.models.get(model, self.script.default)
        if isinstance(chosen, list):
            used = self._per_model.get(model, 0)
            self._per_model[model] = used + 1
            return chosen[min(used, len(chosen) - 1)]
        return chosen

    def _poll(self, h: "FakeHandler", job: _Job) -> None:
        with self._lock:
            job.polls += 1
            self.polls.append(job.id)
            polls, b = job.polls, job.behaviour
        if b.outcome == "stuck" or polls <= b.processing_polls:
            return send_json(h, 200, {"status": "queued" if polls == 1 else "processing"})
        if b.outcome == "failed":
            return send_json(h, 200, {"status": "failed", "error": b.error})
        url = b.video_url or (f"files/{job.id}.mp4" if b.relative_url else f"{self.base_url}/files/{job.id}.mp4")
        send_json(h, 200, {"status": "completed", "video_url": url})

    def _download(self, h: "FakeHandler", job: _Job, fault: Fault | None) -> None:
        with self._lock:
            self.downloads.append(job.id)
        data = video_bytes(job.behaviour.video_duration or job.duration, job.colour)
        if fault is not None and fault.corrupt:
            data = b"<html>this is not a video</html>\n" * 64
        half = data[: len(data) // 2]
        h.send_response(200)
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Content-Length", str(len(half) if fault is not None and fault.short else len(data)))
        h.end_headers()
        if fault is not None and (fault.truncate or fault.short):
            h.wfile.write(half)
            h.wfile.flush()
            h.close_connection = True
            return
        h.wfile.write(data)
