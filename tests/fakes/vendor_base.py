"""What every fake video service shares (the vendor fakes and the seed gateway's): a real HTTP server on
127.0.0.1, a job store whose jobs advance one state per poll, a script of how each model's jobs end and of
one-shot faults per route, real clips to download, and a request log.

A fake subclasses `VendorFake` and implements `route(method, path, query)` -> (route name, handler) and
`authorized(headers)`; handlers answer in the service's own JSON shapes, errors included.

    class FakeKling(VendorFake):
        def route(self, method, path, query): ...
    with FakeKling(access_key="ak", secret_key="sk", default=Outcome(pending_polls=2)) as kling:
        kling.base_url          # "http://127.0.0.1:<port>"
        kling.submissions       # one FakeJob per job created: what the vendor would bill
        kling.fault("submit", Fault.http(429, body={"code": 1303, "message": "parallel task limit"}))
        kling.requests          # every request: Logged(method, path, route, fault, authorized, authorization)
        kling.polls             # job ids, one per poll that reached a job
        kling.cancels           # ids of the jobs it stopped at a cancel request

How jobs end and which requests misbehave is a `Script`, which a test may also change while the fake runs
(`fake.script.default = Outcome(result="failed")`): per model one Outcome for all its jobs or a list used job
by job (the last one repeats), a default, and per route a queue of one-shot Faults consumed in order.
`outcomes=` and `default=` are shorthands for the script's `models` and `default`.

The download URL of a vendor's job is `{storage_url}/cdn/{job_id}.mp4?expires=<unix>&sig=<hmac>`, on a second
port standing for the vendor's storage host; after `url_ttl_s` it answers 403 like an expired S3/OSS
signature, and a request that brings an Authorization header there is refused (400) and counted in
`credentials_at_storage`: API keys must never travel to storage. A fake that serves its files itself (the
seed gateway) routes "download" to `send_video`. A test can read what a Snakemake subprocess did through the
network: all state lives here, behind one lock. Keys are compared, never stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from shortdrama.media import run_ffmpeg

from .http_base import FakeHandler, QuietServer, send_json, start, stop

_SIGNING_KEY = b"fake-cdn-signing-key"


@dataclass(frozen=True)
class Outcome:
    """How a job of one model ends, and after how many polls."""

    result: str = "succeeded"  # "succeeded" | "failed" | "stuck"
    pending_polls: int = 1  # polls that answer a queued/running state first
    # The service's own failure payload for result="failed", e.g. {"task_status_msg": "..."} or a code;
    # the fake's handler reads what its service would send.
    error: dict[str, Any] = field(default_factory=dict)
    video_duration: float | None = None  # serve a clip of this length instead of the requested one
    units: float | None = None  # the cost figure the vendor reports for the job, when it reports one
    # Pending until this many seconds after the job was created (a fixed job latency, as a benchmark of
    # many jobs needs), besides the pending_polls.
    latency_s: float | None = None
    # Anything else one fake's handler reads for the job (the gateway: the video URL it reports).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour for one request. `Fault.http(...)` and the other class methods build them."""

    status: int | None = None  # answer with this status and `body` instead of the real reply
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None
    delay: float = 0.0  # sleep first (past the client's timeout = a slow response), then answer as scripted
    reset: bool = False  # close the connection without answering
    truncate: bool = False  # download: Content-Length of the whole file, then half the bytes and close
    short: bool = False  # download: half the bytes with a matching Content-Length (a silent truncation)
    corrupt: bool = False  # download: bytes that are not a video
    answer_then_reset: bool = False  # do the real work (create the job), then drop the reply: a lost answer
    echo_auth: bool = False  # put the received Authorization header into the error body (a leaky server)

    @classmethod
    def http(cls, status: int, body: dict[str, Any] | None = None, retry_after: float | None = None,
             echo_auth: bool = False) -> "Fault":
        return cls(status=status, body=body or {}, retry_after=retry_after, echo_auth=echo_auth)

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


@dataclass
class Script:
    """How a fake behaves; the test that holds it may change it while the fake serves."""

    # Per model: one Outcome for all its jobs, or a list used job by job (the last one repeats).
    models: dict[str, Outcome | list[Outcome]] = field(default_factory=dict)
    default: Outcome = Outcome()
    # One-shot faults, consumed in order by successive requests to that route; once used up, requests are
    # served normally. The three every service has are fields (a test can check they were all met); the
    # others (cancel, status, result, retrieve, ...) live in `more`.
    submit: list[Fault] = field(default_factory=list)
    poll: list[Fault] = field(default_factory=list)
    download: list[Fault] = field(default_factory=list)
    more: dict[str, list[Fault]] = field(default_factory=dict)
    # Serve each job a plain colour derived from its prompt, so a test can tell which request's clip ended
    # up in a final (the default test pattern looks the same for every prompt).
    colour_by_prompt: bool = False
    # Serve a job a plain colour chosen from its whole create request (e.g. "000000", a black take, for
    # one seed and prompt); None: the usual clip. Wins over colour_by_prompt.
    colour_for: Callable[[dict[str, Any]], str | None] | None = None

    def faults(self, route: str) -> list[Fault]:
        if route in ("submit", "poll", "download"):
            return getattr(self, route)
        return self.more.setdefault(route, [])


@dataclass
class FakeJob:
    id: str
    model: str
    duration: float
    body: dict[str, Any]  # the create request as received
    outcome: Outcome
    external_id: str | None = None
    authorization: str = "present"  # whether the create carried an Authorization header; the value is never kept
    idempotency_key: str | None = None
    colour: str | None = None  # RRGGBB, when the script colours clips by prompt
    image: bytes | None = None  # the start image the request carried (image-to-video), if the fake could read it
    polls: int = 0
    cancelled: bool = False
    created: float = field(default_factory=time.time)
    fetched: float | None = None  # when its clip was first downloaded (time.time())

    def phase(self) -> str:
        """Advance one poll: "pending" for the first `pending_polls` polls, then the outcome."""
        self.polls += 1
        if self.cancelled:
            return "cancelled"
        if self.outcome.result == "stuck" or self.polls <= self.outcome.pending_polls:
            return "pending"
        if self.outcome.latency_s is not None and time.time() - self.created < self.outcome.latency_s:
            return "pending"
        return self.outcome.result


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    route: str | None
    fault: Fault | None
    authorized: bool  # the credentials were right for this service
    authorization: str = "present"  # "present" | "absent": whether an Authorization header came at all


Handler = Callable[[FakeHandler, dict[str, Any], dict[str, list[str]]], None]

_video_lock = threading.Lock()
_video_dir: Path | None = None
_videos: dict[str, bytes] = {}


def prompt_colour(prompt: str) -> str:
    """The RRGGBB colour a colour-by-prompt script serves for `prompt`."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:6]


# The "speech" of a clip made with its own sound: a 220 Hz voice talking in 1.1 s phrases with 0.4 s pauses,
# starting 0.3 s in (so a test can tell where the clip's speech is).
SPEECH_EXPR = "0.35*sin(2*PI*220*t)*gt(t\\,0.3)*lt(mod(t-0.3\\,1.5)\\,1.1)"


def video_bytes(duration: float, colour: str | None = None, image: bytes | None = None, sound: bool = False) -> bytes:
    """A real small H.264 MP4 of `duration` seconds, made once per process: one plain colour; else, like an
    image-to-video model, a slow push-in that starts on the request's image; else a test pattern. With
    `sound`, an AAC track of phrases (SPEECH_EXPR), as a model that generates audio delivers."""
    global _video_dir
    tag = colour or (hashlib.sha256(image).hexdigest()[:16] if image else "testsrc")
    name = f"{duration:.3f}-{tag}{'-sound' if sound else ''}"
    with _video_lock:
        if name not in _videos:
            if _video_dir is None:
                _video_dir = Path(tempfile.mkdtemp(prefix="fake-video-"))
            out = _video_dir / f"{name}.mp4"
            if colour or not image:
                source = f"color=c=0x{colour}:size=144x256:rate=12" if colour else "testsrc=size=144x256:rate=12"
                inputs = ["-f", "lavfi", "-i", source]
                look: list[str] = []
            else:
                still = _video_dir / f"{tag}.img"
                still.write_bytes(image)
                inputs = ["-loop", "1", "-framerate", "12", "-i", str(still)]
                look = ["-vf", "scale=288:512,zoompan=z='1+0.004*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)'"
                               ":d=1:s=288x512:fps=12"]
            voice = ["-f", "lavfi", "-i", f"aevalsrc={SPEECH_EXPR}:s=24000:d={duration}"] if sound else []
            coded = ["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-shortest"] if sound else []
            run_ffmpeg([*inputs, *voice, "-t", str(duration), *look, *coded, "-c:v", "libx264", "-pix_fmt", "yuv420p",
                        str(out)])
            _videos[name] = out.read_bytes()
        return _videos[name]


_DATA_IMAGE = re.compile(r"data:image/[a-z]+;base64,(.+)", re.S)


def start_image(body: Any) -> bytes | None:
    """The image a create request carries (a data URI, or raw base64 as Kling takes it), found anywhere in it."""
    if isinstance(body, dict):
        values = body.values()
    elif isinstance(body, list):
        values = body
    else:
        values = [body]
    for value in values:
        if isinstance(value, (dict, list)):
            found = start_image(value)
        elif isinstance(value, str) and len(value) > 64:
            match = _DATA_IMAGE.fullmatch(value)
            try:
                data = base64.b64decode(match[1] if match else value, validate=True)
            except (ValueError, binascii.Error):
                continue
            found = data if data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff" else None
        else:
            found = None
        if found:
            return found
    return None


class VendorFake:
    url_ttl_s: float = 60.0
    job_prefix: str = "task"  # job ids are f"{job_prefix}-0001", ...

    def __init__(self, script: Script | None = None, *, outcomes: dict[str, Outcome | list[Outcome]] | None = None,
                 default: Outcome | None = None, url_ttl_s: float | None = None):
        self.script = script or Script()
        if outcomes is not None:
            self.script.models = outcomes
        if default is not None:
            self.script.default = default
        if url_ttl_s is not None:
            self.url_ttl_s = url_ttl_s
        self.submissions: list[FakeJob] = []
        self.requests: list[Logged] = []
        self.polls: list[str] = []
        self.downloads: list[str] = []
        self.cancels: list[str] = []  # ids of the jobs this fake stopped at a cancel request
        self.jobs: dict[str, FakeJob] = {}
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

    @property
    def storage_url(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def fault(self, route: str, *faults: Fault) -> "VendorFake":
        """Queue one-shot faults for the next requests to `route` (names are the subclass's routes)."""
        with self.lock:
            self.script.faults(route).extend(faults)
        return self

    def of(self, route: str) -> list[Logged]:
        with self.lock:
            return [r for r in self.requests if r.route == route]

    def submissions_for(self, model: str) -> list[FakeJob]:
        with self.lock:
            return [s for s in self.submissions if s.model == model]

    def poll_count(self, job_id: str) -> int:
        with self.lock:
            return self.jobs[job_id].polls

    def __enter__(self) -> "VendorFake":
        start(self._httpd, self._cdn)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self._httpd, self._cdn)

    # --- for subclasses ---

    def route(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[str, Handler] | None:
        raise NotImplementedError

    def authorized(self, headers: Any) -> bool:
        raise NotImplementedError

    def unauthorized(self, h: FakeHandler) -> None:
        send_json(h, 401, {"error": "unauthorized"})

    def not_found(self, h: FakeHandler, method: str, path: str) -> None:
        send_json(h, 404, {"error": f"no route {method} {path}"})

    def scripted_error(self, status: int) -> dict[str, Any]:
        """The body of a scripted HTTP error that brings none of its own."""
        return {}

    def create_job(self, model: str, duration: float, body: dict[str, Any], external_id: str | None = None, *,
                   authorization: str = "present", idempotency_key: str | None = None,
                   prompt: str | None = None) -> FakeJob:
        """A new job, billed: its outcome is the script's for `model`; `prompt` colours its clip when the
        script asks for colours by prompt."""
        with self.lock:
            colour = prompt_colour(prompt) if self.script.colour_by_prompt and prompt is not None else None
            if self.script.colour_for is not None:
                colour = self.script.colour_for(body) or colour
            job = FakeJob(id=f"{self.job_prefix}-{next(self._ids):04d}", model=model, duration=duration, body=body,
                          outcome=self._outcome(model), external_id=external_id, authorization=authorization,
                          idempotency_key=idempotency_key, colour=colour, image=start_image(body))
            self.jobs[job.id] = job
            self.submissions.append(job)
            return job

    def find_job(self, job_id: str) -> FakeJob | None:
        with self.lock:
            return self.jobs.get(job_id)

    def advance(self, job: FakeJob) -> str:
        """One poll of `job` (logged in `polls`): its phase now, see FakeJob.phase."""
        with self.lock:
            self.polls.append(job.id)
            return job.phase()

    def most_in_flight(self) -> int:
        """The most jobs at once between their submit and the first download of their clip."""
        with self.lock:
            spans = [(job.created, job.fetched or time.time()) for job in self.submissions]
        return max((sum(1 for start, end in spans if start <= t < end) for t, _ in spans), default=0)

    def cancel(self, job: FakeJob) -> None:
        """Stop `job` at a cancel request: its next poll answers cancelled (logged in `cancels`)."""
        with self.lock:
            job.cancelled = True
            self.cancels.append(job.id)

    def forget(self, job_id: str) -> None:
        """The service loses the job: requests about it find nothing from now on."""
        with self.lock:
            self.jobs.pop(job_id, None)

    def video_url(self, job: FakeJob) -> str:
        expires = int(time.time() + self.url_ttl_s)
        return f"{self.storage_url}/cdn/{job.id}.mp4?expires={expires}&sig={_sign(job.id, expires)}"

    def send_video(self, h: FakeHandler, job: FakeJob, fault: Fault | None) -> None:
        """Serve `job`'s clip (a download, logged in `downloads`), broken the way a download fault says."""
        with self.lock:
            self.downloads.append(job.id)
            job.fetched = job.fetched or time.time()
        data = video_bytes(job.outcome.video_duration or job.duration, job.colour, job.image,
                           sound=job.body.get("sound") == "on")
        if fault is not None and fault.corrupt:
            data = b"<html>this is not a video</html>\n" * 64
        half = data[: len(data) // 2]
        cut = fault is not None and (fault.truncate or fault.short)
        h.send_response(200)
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Content-Length", str(len(half) if fault is not None and fault.short else len(data)))
        h.end_headers()
        h.wfile.write(half if cut else data)
        if cut:
            h.wfile.flush()
            h.close_connection = True

    # --- request handling (runs on the server's threads) ---

    def handle(self, h: FakeHandler, method: str) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        parts = urlsplit(h.path)
        query = parse_qs(parts.query)
        found = self.route(method, parts.path, query)
        name = found[0] if found else None
        authorized = found is not None and self.authorized(h.headers)
        fault = self._log(h, method, parts.path, name, authorized)
        h.fault = fault  # what a handler that serves a download reads (see send_video)
        if fault is not None and not fault.answer_then_reset and _answered(h, fault, self.scripted_error):
            return
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

    def _log(self, h: FakeHandler, method: str, path: str, route: str | None, authorized: bool) -> Fault | None:
        """Log the request and take the next scripted fault of its route."""
        with self.lock:
            queue = self.script.faults(route) if route else []
            fault = queue.pop(0) if queue else None
            header = "present" if h.headers.get("Authorization") else "absent"
            self.requests.append(Logged(method, path, route, fault, authorized, header))
        return fault

    def _download(self, h: FakeHandler, path: str, query: dict[str, list[str]], fault: Fault | None) -> None:
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
        self.send_video(h, job, fault)

    def _outcome(self, model: str) -> Outcome:
        chosen = self.script.models.get(model, self.script.default)
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
        fault = vendor._log(h, method, parts.path, "download", True)
        if h.headers.get("Authorization"):
            with vendor.lock:
                vendor.credentials_at_storage += 1
            return send_json(h, 400, {"error": "credentials must not be sent to the storage host"})
        if method != "GET" or not (parts.path.startswith("/cdn/") and parts.path.endswith(".mp4")):
            return send_json(h, 404, {"error": f"no object {parts.path}"})
        if fault is not None and _answered(h, fault, vendor.scripted_error):
            return
        vendor._download(h, parts.path, parse_qs(parts.query), fault)


def _answered(h: FakeHandler, fault: Fault, scripted_error: Callable[[int], dict[str, Any]]) -> bool:
    """Play the part of `fault` that comes before (or instead of) the real reply; True when nothing more is sent."""
    if fault.delay:
        time.sleep(fault.delay)
    if fault.reset:
        h.close_connection = True
        return True
    if fault.status is None:
        return False
    headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
    body = fault.body or scripted_error(fault.status)
    if fault.echo_auth:
        body = {**body, "received_authorization": h.headers.get("Authorization", "")}
    send_json(h, fault.status, body, headers)
    return True


def _sign(job_id: str, expires: int) -> str:
    return hmac.new(_SIGNING_KEY, f"{job_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


class _Swallow:
    """A handler stand-in whose reply goes nowhere: the server did the work, the answer is lost."""

    def __init__(self, h: FakeHandler):
        self.headers = h.headers
        self.fault = None

    def send_response(self, *a: Any) -> None: ...
    def send_header(self, *a: Any) -> None: ...
    def end_headers(self) -> None: ...

    class wfile:  # noqa: N801
        @staticmethod
        def write(data: bytes) -> None: ...

        @staticmethod
        def flush() -> None: ...
