"""What every fake video vendor shares: a real HTTP server on 127.0.0.1, a job store whose jobs advance
one state per poll, signed download URLs that expire, one-shot faults per route, and a request log.

A vendor fake subclasses `VendorFake` and implements `route(method, path, query)` -> (route name,
handler) and `authorized(headers)`; handlers answer in the vendor's own JSON shapes, errors included.

    class FakeKling(VendorFake):
        def route(self, method, path, query): ...
    with FakeKling(access_key="ak", secret_key="sk", default=Outcome(pending_polls=2)) as kling:
        kling.base_url          # "http://127.0.0.1:<port>"
        kling.submissions       # one FakeJob per job created: what the vendor would bill
        kling.fault("submit", VendorFault.http(429, body={"code": 1303, "message": "parallel task limit"}))
        kling.requests          # every request: Logged(method, path, route, fault)

The download URL of a job is `{storage_url}/cdn/{job_id}.mp4?expires=<unix>&sig=<hmac>`, on a second
port standing for the vendor's storage host; after `url_ttl_s` it answers 403 like an expired S3/OSS
signature, and a request that brings an Authorization header there is refused (400) and counted in
`credentials_at_storage`: API keys must never travel to storage. A test can read what a Snakemake
subprocess did through the network: all state lives here, behind one lock. Keys are compared, never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .http_base import FakeHandler, QuietServer, send_json
from .video_server import video_bytes

_SIGNING_KEY = b"fake-cdn-signing-key"


@dataclass(frozen=True)
class Outcome:
    """How a job of one model ends, and after how many polls."""

    result: str = "succeeded"  # "succeeded" | "failed" | "stuck"
    pending_polls: int = 1  # polls that answer a queued/running state first
    # The vendor's own failure payload for result="failed", e.g. {"task_status_msg": "..."} or a code;
    # the fake's handler reads what its vendor would send.
    error: dict[str, Any] = field(default_factory=dict)
    video_duration: float | None = None  # serve a clip of this length instead of the requested one
    units: float | None = None  # the cost figure the vendor reports for the job, when it reports one


@dataclass(frozen=True)
class VendorFault:
    status: int | None = None  # answer with this status and `body` instead of the real reply
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None
    delay: float = 0.0
    reset: bool = False  # close the connection without answering
    corrupt: bool = False  # download: bytes that are not a video
    answer_then_reset: bool = False  # do the real work (create the job), then drop the reply: a lost answer
    echo_auth: bool = False  # put the received Authorization header into the error body (a leaky server)

    @classmethod
    def http(cls, status: int, body: dict[str, Any] | None = None, retry_after: float | None = None) -> "VendorFault":
        return cls(status=status, body=body or {}, retry_after=retry_after)


@dataclass
class FakeJob:
    id: str
    model: str
    duration: float
    body: dict[str, Any]  # the create request as received
    outcome: Outcome
    external_id: str | None = None
    polls: int = 0
    cancelled: bool = False
    created: float = field(default_factory=time.time)

    def phase(self) -> str:
        """Advance one poll: "pending" for the first `pending_polls` polls, then the outcome."""
        self.polls += 1
        if self.cancelled:
            return "cancelled"
        if self.outcome.result == "stuck" or self.polls <= self.outcome.pending_polls:
            return "pending"
        return self.outcome.result


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    route: str | None
    fault: VendorFault | None
    authorized: bool


Handler = Callable[[FakeHandler, dict[str, Any], dict[str, list[str]]], None]


class VendorFake:
    url_ttl_s: float = 60.0

    def __init__(self, *, outcomes: dict[str, Outcome | list[Outcome]] | None = None, default: Outcome = Outcome(),
                 url_ttl_s: float | None = None):
        self.outcomes = outcomes or {}
        self.default = default
        if url_ttl_s is not None:
            self.url_ttl_s = url_ttl_s
        self.submissions: list[FakeJob] = []
        self.requests: list[Logged] = []
        self.downloads: list[str] = []
        self.jobs: dict[str, FakeJob] = {}
        self._faults: dict[str, list[VendorFault]] = {}
        self._per_model: dict[str, int] = {}
        self._ids = itertools.count(1)
        self.lock = threading.RLock()
        self._httpd = QuietServer(("127.0.0.1", 0), FakeHandler)
        self._httpd.fake = self
        # The vendor's storage is another host, as in real life: a key sent there is a leak.
        self._cdn = QuietServer(("127.0.0.1", 0), FakeHandler)
        self._cdn.fake = _Storage(self)
        self.credentials_at_storage = 0  # requests that reached the storage host carrying an Authorization header

    # --- for tests ---

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def fault(self, route: str, *faults: VendorFault) -> "VendorFake":
        """Queue one-shot faults for the next requests to `route` (names are the subclass's routes)."""
        with self.lock:
            self._faults.setdefault(route, []).extend(faults)
        return self

    def of(self, route: str) -> list[Logged]:
        with self.lock:
            return [r for r in self.requests if r.route == route]

    @property
    def storage_url(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def __enter__(self) -> "VendorFake":
        for server in (self._httpd, self._cdn):
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in (self._httpd, self._cdn):
            server.shutdown()
            server.server_close()

    # --- for subclasses ---

    def route(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[str, Handler] | None:
        raise NotImplementedError

    def authorized(self, headers: Any) -> bool:
        raise NotImplementedError

    def unauthorized(self, h: FakeHandler) -> None:
        send_json(h, 401, {"error": "unauthorized"})

    def not_found(self, h: FakeHandler, method: str, path: str) -> None:
        send_json(h, 404, {"error": f"no route {method} {path}"})

    def create_job(self, model: str, duration: float, body: dict[str, Any], external_id: str | None = None) -> FakeJob:
        with self.lock:
            job = FakeJob(id=f"task-{next(self._ids):04d}", model=model, duration=duration, body=body,
                          outcome=self._outcome(model), external_id=external_id)
            self.jobs[job.id] = job
            self.submissions.append(job)
            return job

    def find_job(self, job_id: str) -> FakeJob | None:
        with self.lock:
            return self.jobs.get(job_id)

    def video_url(self, job: FakeJob) -> str:
        expires = int(time.time() + self.url_ttl_s)
        return f"{self.storage_url}/cdn/{job.id}.mp4?expires={expires}&sig={_sign(job.id, expires)}"

    # --- request handling (runs on the server's threads) ---

    def handle(self, h: FakeHandler, method: str) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        parts = urlsplit(h.path)
        query = parse_qs(parts.query)
        found = self.route(method, parts.path, query)
        name = found[0] if found else None
        authorized = found is not None and self.authorized(h.headers)
        with self.lock:
            queue = self._faults.get(name or "", [])
            fault = queue.pop(0) if queue else None
            self.requests.append(Logged(method, parts.path, name, fault, authorized))
        if fault is not None and not fault.answer_then_reset:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.reset:
                h.close_connection = True
                return
            if fault.status is not None:
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                body = {**fault.body, "received_authorization": h.headers.get("Authorization", "")} \
                    if fault.echo_auth else fault.body
                return send_json(h, fault.status, body, headers)
        if found is None:
            return self.not_found(h, method, parts.path)
        if not authorized:
            return self.unauthorized(h)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return send_json(h, 400, {"error": "body is not JSON"})
        if fault is not None and fault.answer_then_reset:
            found[1](_Swallow(h), body, query)  # the job is created, the client never hears of it
            h.close_connection = True
            return
        found[1](h, body, query)

    def _download(self, h: FakeHandler, path: str, query: dict[str, list[str]]) -> None:
        job_id = path[len("/cdn/"):-len(".mp4")]
        try:
            expires = int(query["expires"][0])
            valid = hmac.compare_digest(query["sig"][0], _sign(job_id, expires))
        except (KeyError, ValueError, IndexError):
            valid, expires = False, 0
        job = self.find_job(job_id)
        if not valid or job is None:
            return send_json(h, 403, {"error": "SignatureDoesNotMatch"})
        if time.time() > expires:
            return send_json(h, 403, {"error": "Request has expired"})
        with self.lock:
            self.downloads.append(job_id)
            corrupt = getattr(self, "_corrupt_next", False)
            self._corrupt_next = False
        data = video_bytes(job.outcome.video_duration or job.duration)
        if corrupt:
            data = b"<html>this is not a video</html>\n" * 64
        h.send_response(200)
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _outcome(self, model: str) -> Outcome:
        chosen = self.outcomes.get(model, self.default)
        if isinstance(chosen, list):
            used = self._per_model.get(model, 0)
            self._per_model[model] = used + 1
            return chosen[min(used, len(chosen) - 1)]
        return chosen


class _Storage:
    """The vendor's storage host: public signed URLs; no key is needed, and one that arrives is counted."""

    def __init__(self, vendor: VendorFake):
        self.vendor = vendor

    def handle(self, h: FakeHandler, method: str) -> None:
        vendor = self.vendor
        parts = urlsplit(h.path)
        with vendor.lock:
            queue = vendor._faults.get("download", [])
            fault = queue.pop(0) if queue else None
            vendor.requests.append(Logged(method, parts.path, "download", fault, True))
            if h.headers.get("Authorization"):
                vendor.credentials_at_storage += 1
        if h.headers.get("Authorization"):
            return send_json(h, 400, {"error": "credentials must not be sent to the storage host"})
        if method != "GET" or not (parts.path.startswith("/cdn/") and parts.path.endswith(".mp4")):
            return send_json(h, 404, {"error": f"no object {parts.path}"})
        if fault is not None and fault.status is not None:
            return send_json(h, fault.status, fault.body)
        if fault is not None and fault.reset:
            h.close_connection = True
            return
        vendor._corrupt_next = bool(fault is not None and fault.corrupt)
        vendor._download(h, parts.path, parse_qs(parts.query))


def _sign(job_id: str, expires: int) -> str:
    return hmac.new(_SIGNING_KEY, f"{job_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


class _Swallow:
    """A handler stand-in whose reply goes nowhere: the server did the work, the answer is lost."""

    def __init__(self, h: FakeHandler):
        self.headers = h.headers

    def send_response(self, *a: Any) -> None: ...
    def send_header(self, *a: Any) -> None: ...
    def end_headers(self) -> None: ...

    class wfile:  # noqa: N801
        @staticmethod
        def write(data: bytes) -> None: ...

        @staticmethod
        def flush() -> None: ...
