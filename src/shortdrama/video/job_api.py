"""Hosted video through a job API: submit, record the job, poll, download, verify.

Generation is paid per job and takes minutes, so every step is arranged around a build being killed at
any moment: the job id is on disk before the first poll (a rerun polls the same job instead of paying
again), and a clip reaches its real name only after it decoded to the requested duration.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urljoin, urlsplit

import httpx

from ..errors import ConfigError, MediaError, ProviderError, ShortDramaError
from ..http import (RETRYABLE_STATUS, ProviderHTTPError, RetryPolicy, api_key, auth_headers, request,
                    require_http_url, retry_after_seconds)
from ..media import atomic_output, probe, write_text_atomic

log = logging.getLogger(__name__)

# A record in one of these states names a job that can no longer deliver the clip; the next run submits anew.
TERMINAL = frozenset({"failed", "timed_out", "lost", "bad_output"})
# The key names a file in job_dir, so it must not be able to climb out of it.
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_MAX_HISTORY = 20  # earlier jobs kept in a record, for the user reading why a clip cost what it did


@dataclass(frozen=True)
class JobApiModel:  # one entry of a fallback chain
    base_url: str
    model: str
    api_key_env: str | None


@dataclass(frozen=True)
class JobApiSettings:
    chain: tuple[JobApiModel, ...]  # primary first, then cheaper fallbacks
    negative_prompt: str
    poll_interval_s: float = 2.0
    job_timeout_s: float = 900.0
    retry: RetryPolicy = RetryPolicy()
    max_download_bytes: int = 512 * 2**20
    duration_tolerance_s: float = 1.0
    max_download_attempts: int = 3


@dataclass(frozen=True)
class JobRequest:
    key: str  # the call's cache/request key; names the job record
    prompt: str
    duration: float
    width: int
    height: int
    fps: int
    seed: int
    reference_image: Path | None


@dataclass(frozen=True)
class JobResult:
    job_id: str
    model: str  # the chain entry that delivered, so the caller prices that one
    attempts: int  # jobs this call used (submitted or resumed), 1 when the first one delivered


class _JobFailed(Exception):
    """The gateway reported the job failed: the one outcome that moves down the chain."""


class _BadDownload(Exception):
    def __init__(self, message: str, *, content: bool = False, wait: float | None = None):
        super().__init__(message)
        self.content = content  # the bytes arrived whole but are not the clip asked for
        self.wait = wait


class JobApiVideo:
    def __init__(self, settings: JobApiSettings, job_dir: Path, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        if not settings.chain:
            raise ConfigError("video job API: the model chain is empty")
        if settings.poll_interval_s <= 0 or settings.job_timeout_s <= 0 or settings.max_download_attempts < 1:
            raise ConfigError("video job API: poll interval, job timeout and download attempts must be positive")
        for entry in settings.chain:
            require_http_url(entry.base_url, f"video {entry.model}: base_url")
        self.settings = settings
        self.job_dir = Path(job_dir)
        self._own_client = client is None
        # httpx itself refuses to follow a redirect to a non-http(s) scheme.
        self._client = client or httpx.Client(follow_redirects=True)
        self._sleep = sleep
        self._secrets: tuple[str, ...] = ()

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def generate(self, request: JobRequest, out_path: Path) -> JobResult:
        if not _SAFE_KEY.fullmatch(request.key):
            raise ProviderError(f"video job: request key {request.key[:60]!r} is not a safe file name")
        # Every key is read before anything is paid for, so a missing fallback key cannot strand a paid job.
        keys = [api_key(entry.api_key_env, f"video {entry.model}") for entry in self.settings.chain]
        self._secrets = tuple(filter(None, keys))
        try:
            return self._generate(request, Path(out_path), keys)
        except ShortDramaError as error:
            # A gateway may echo the request headers into an error body; the key must not travel on.
            text = self._redact(str(error))
            if text != str(error):
                raise ProviderError(text) from None
            raise

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _generate(self, job: JobRequest, out_path: Path, keys: list[str | None]) -> JobResult:
        record = self._load(job.key)
        history: list[dict] = record.pop("history", []) if record else []
        resume, start = None, 0
        if record and record.get("job_id") and record.get("status") not in TERMINAL:
            index = self._chain_index(record)
            if index is not None:
                resume, start = record, index
        if record and resume is None:
            history.append(record)
        errors: list[str] = []
        for index in range(start, len(self.settings.chain)):
            entry, headers = self.settings.chain[index], auth_headers(keys[index])
            if resume is not None:
                rec, resume = resume, None
                log.info("video %s: resuming job %s for %s", entry.model, rec["job_id"], job.key)
            else:
                job_id = self._submit(entry, job, headers, len(history))
                rec = {"key": job.key, "model": entry.model, "base_url": entry.base_url, "job_id": job_id,
                       "status": "submitted", "submitted_at": _now()}
                log.info("video %s: submitted job %s for %s", entry.model, job_id, job.key)
            rec["history"] = history[-_MAX_HISTORY:]
            self._save(rec)
            try:
                video_url = self._poll(entry, rec, headers)
            except _JobFailed as failure:
                self._update(rec, status="failed", error=str(failure))
                errors.append(f"{entry.model} (job {rec['job_id']}): {failure}")
                log.warning("video %s: job %s failed (%s)%s", entry.model, rec["job_id"], self._redact(str(failure)),
                            "; falling back" if index + 1 < len(self.settings.chain) else "")
                history = [*rec.pop("history"), rec]
                continue
            self._download(entry, rec, video_url, headers, job, out_path)
            return JobResult(job_id=rec["job_id"], model=entry.model, attempts=len(errors) + 1)
        raise ProviderError(f"video job {job.key}: every model in the chain failed: {'; '.join(errors)}")

    def _submit(self, entry: JobApiModel, job: JobRequest, headers: dict, earlier: int) -> str:
        what = f"video {entry.model}: submit"
        divisor = math.gcd(job.width, job.height) or 1
        body: dict[str, Any] = {
            "model": entry.model, "prompt": job.prompt, "negative_prompt": self.settings.negative_prompt,
            "duration": job.duration, "aspect_ratio": f"{job.width // divisor}:{job.height // divisor}",
            "fps": job.fps, "resolution": f"{min(job.width, job.height)}p", "seed": job.seed,
        }
        if job.reference_image is not None:
            body["reference_image"] = _data_uri(Path(job.reference_image), what)
        # A submit retried after a timeout may have been accepted the first time; gateways that honour
        # the key then return the same job. `earlier` makes a deliberate resubmission a new key.
        idempotency = f"{job.key}:{entry.model}:{earlier}"
        response = request(self._client, "POST", _join(entry.base_url, "video/generate"), policy=self.settings.retry,
                           what=what, sleep=self._sleep, json=body, headers={**headers, "Idempotency-Key": idempotency})
        job_id = _json(response, what).get("job_id")
        if not isinstance(job_id, str) or not job_id.strip() or len(job_id) > 200:
            raise ProviderError(f"{what}: the reply has no usable job_id")
        return job_id

    def _poll(self, entry: JobApiModel, rec: dict, headers: dict) -> str:
        """Poll until the job completes; return its video URL. Bounded by wall time and by poll count,
        the latter so that an injected sleep that does not sleep still ends."""
        what = f"video {entry.model}: job {rec['job_id']}"
        url = _join(entry.base_url, f"video/jobs/{quote(rec['job_id'], safe='')}")
        timeout, interval = self.settings.job_timeout_s, self.settings.poll_interval_s
        deadline, max_polls = time.monotonic() + timeout, max(1, math.ceil(timeout / interval))
        for polls in range(1, max_polls + 1):
            try:
                response = request(self._client, "GET", url, policy=self.settings.retry, what=what,
                                   sleep=self._sleep, headers=headers)
            except ProviderHTTPError as error:
                if error.status in (404, 410):  # the gateway forgot the job: no later poll can succeed
                    self._update(rec, status="lost", error=_one_line(str(error)))
                raise
            data = _json(response, what)
            status = data.get("status")
            if status == "completed":
                video_url = data.get("video_url")
                if not isinstance(video_url, str) or not video_url.strip():
                    raise ProviderError(f"{what}: completed without a video_url")
                if rec["status"] != "completed":
                    # The URL is left out of the record: signed download URLs are credentials.
                    self._update(rec, status="completed", completed_at=_now())
                return video_url
            if status == "failed":
                raise _JobFailed(_one_line(str(data.get("error") or "no reason given")))
            if status not in ("queued", "processing"):
                raise ProviderError(f"{what}: unknown job status {str(status)[:40]!r}")
            if polls == max_polls or time.monotonic() + interval > deadline:
                break
            self._sleep(interval)
        self._update(rec, status="timed_out", error=f"not complete within {timeout:g} s")
        raise ProviderError(f"video job {rec['job_id']} on {entry.model} did not complete within {timeout:g} s "
                            f"(the job record says timed_out; the next run submits again)")

    def _download(self, entry: JobApiModel, rec: dict, video_url: str, headers: dict, job: JobRequest,
                  out_path: Path) -> None:
        what = f"video {entry.model}: job {rec['job_id']} download"
        url = require_http_url(urljoin(entry.base_url.rstrip("/") + "/", video_url.strip()), what)
        # The key goes only back to the gateway, never to a third-party storage host.
        if _origin(url) != _origin(entry.base_url):
            headers = {}
        attempts, problems, content = self.settings.max_download_attempts, [], False
        with atomic_output(out_path) as tmp:
            for attempt in range(1, attempts + 1):
                try:
                    self._fetch(url, tmp, headers, what)
                    self._check(tmp, job)
                    return
                except _BadDownload as bad:
                    tmp.unlink(missing_ok=True)
                    problems.append(str(bad))
                    content = content or bad.content
                    log.warning("%s: attempt %d/%d: %s", what, attempt, attempts, bad)
                    if attempt < attempts:
                        policy = self.settings.retry
                        wait = bad.wait if bad.wait is not None else policy.base_delay_s * 2 ** (attempt - 1)
                        self._sleep(min(wait, policy.max_delay_s))
                except ProviderHTTPError as error:
                    if error.status in (404, 410):
                        self._update(rec, status="lost", error=_one_line(str(error)))
                    raise
            if content:  # the job's output itself is bad: a rerun must generate anew, not fetch it again
                self._update(rec, status="bad_output", error=problems[-1])
            raise ProviderError(f"{what}: no valid video after {attempts} attempts ({'; '.join(problems)})")

    def _fetch(self, url: str, tmp: Path, headers: dict, what: str) -> None:
        limit = self.settings.max_download_bytes
        try:
            timeout = self.settings.retry.request_timeout_s
            with self._client.stream("GET", url, headers=headers, timeout=timeout) as response:
                code = response.status_code
                if code in RETRYABLE_STATUS:
                    raise _BadDownload(f"HTTP {code}", wait=retry_after_seconds(response))
                if not response.is_success:
                    raise ProviderHTTPError(f"{what}: HTTP {code}", code)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise ProviderError(f"{what}: {int(declared)} bytes exceeds the {limit}-byte limit")
                size = 0
                with open(tmp, "wb") as sink:
                    for chunk in response.iter_bytes(1 << 16):
                        size += len(chunk)
                        if size > limit:
                            raise ProviderError(f"{what}: more than the {limit}-byte limit")
                        sink.write(chunk)
        except httpx.HTTPError as error:
            raise _BadDownload(f"transfer broke off ({type(error).__name__})") from None

    def _check(self, path: Path, job: JobRequest) -> None:
        tolerance = self.settings.duration_tolerance_s
        try:
            info = probe(path)
        except MediaError:
            raise _BadDownload("not a decodable video", content=True) from None
        if info.first("video") is None:
            raise _BadDownload("no video stream", content=True)
        if abs(info.duration - job.duration) > tolerance:
            raise _BadDownload(f"{info.duration:.2f} s long, {job.duration:g} s requested", content=True)
        # The container's header can promise a duration the bytes no longer hold; decoding tells.
        decoded = _decoded_seconds(path)
        if decoded is None or abs(decoded - job.duration) > tolerance:
            got = "nothing" if decoded is None else f"{decoded:.2f} s"
            raise _BadDownload(f"decodes to {got}, {job.duration:g} s requested", content=True)

    def _chain_index(self, record: dict) -> int | None:
        for index, entry in enumerate(self.settings.chain):
            if entry.model == record.get("model") and entry.base_url == record.get("base_url"):
                return index
        return None

    def _load(self, key: str) -> dict | None:
        path = self.job_dir / f"{key}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise ProviderError(f"video job record {path} is unreadable ({type(error).__name__}); "
                                f"check it for a running job before deleting it") from None
        return data if isinstance(data, dict) else None

    def _save(self, rec: dict) -> None:
        write_text_atomic(self.job_dir / f"{rec['key']}.json", json.dumps(rec, indent=2, sort_keys=True) + "\n")

    def _update(self, rec: dict, **changes: Any) -> None:
        rec.update({name: self._redact(v) if isinstance(v, str) else v for name, v in changes.items()},
                   updated_at=_now())
        self._save(rec)


def _decoded_seconds(path: Path) -> float | None:
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            frame_s = 1 / float(stream.average_rate) if stream.average_rate else 0.0
            first = last = None
            for frame in container.decode(stream):
                if frame.time is not None:
                    first = frame.time if first is None else min(first, frame.time)
                    last = frame.time if last is None else max(last, frame.time)
    except (av.error.FFmpegError, IndexError):
        return None
    return None if first is None else last - first + frame_s


def _json(response: httpx.Response, what: str) -> dict:
    try:
        data = response.json()
    except ValueError:
        raise ProviderError(f"{what}: the reply is not JSON") from None
    if not isinstance(data, dict):
        raise ProviderError(f"{what}: the reply is not a JSON object")
    return data


def _data_uri(path: Path, what: str) -> str:
    mime = "image/jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "image/png"
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ProviderError(f"{what}: cannot read the reference image {path} ({error.strerror})") from None
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def _join(base_url: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/{path}"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
