"""Hosted video generation, safe to kill and rerun: submit, record the job, poll, download, verify.

Generation is paid per job and takes minutes, so every step is arranged around a build being killed at
any moment. Before a create request is sent the job record says "submitting" (with the idempotency key
the vendor got, where it takes one); the job id is on disk before the first poll, so a rerun polls the
same job instead of paying again; and a clip reaches its real name only after it decoded to the
requested duration. Vendors differ only in their wire format, which their adapter
(`shortdrama.video.vendors`) translates.
"""

from __future__ import annotations

import json
import logging
import math
import re
import secrets
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import urljoin, urlsplit

import httpx

from ..errors import ConfigError, ProviderError, ShortDramaError
from ..http import ProviderHTTPError, RetryPolicy, api_key, request, require_http_url, retry_after_seconds
from ..media import atomic_output, write_text_atomic
from .download import BadDownload, check_clip, fetch
from .vendors.base import (JobRejected, JobRequest, JobState, Keys, Session, Submitted, VendorAdapter, VendorModel,
                           one_line)

log = logging.getLogger(__name__)
# The terminal channel (printed on stderr inside a Snakemake job by shortdrama.snakemake_glue): a job's submission,
# each change of its state, its end; never every poll. A vendor's progress figure within one state ("RUNNING 40%",
# "IN_QUEUE #3") is shown at most every PROGRESS_EVERY_S.
_terminal = logging.getLogger("shortdrama.progress.video")
PROGRESS_EVERY_S = 30.0
# Each wait between polls is this much longer than the last, up to poll_interval_s.
POLL_BACKOFF = 1.5
# A vendor's Retry-After on a poll reply is honoured up to this (a bad header must not park a job for a day).
MAX_POLL_HINT_S = 600.0

# A record in one of these states names a job that can no longer deliver the clip; the next run submits anew.
TERMINAL = frozenset({"failed", "cancelled", "lost", "bad_output", "rejected", "not_submitted"})
# The key names a file in job_dir, so it must not be able to climb out of it.
_SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_MAX_HISTORY = 20  # earlier jobs kept in a record, for the user reading why a clip cost what it did


@dataclass(frozen=True)
class ChainEntry:
    adapter: VendorAdapter
    model: VendorModel
    # The clip lengths this model sells (pricing.billing_seconds): a 3 s scene is bought as the 5 s (or,
    # from a vendor selling 6 and 10 s, the 6 s) clip. Empty: the scene's own length.
    sellable: tuple[float, ...] = ()


@dataclass(frozen=True)
class EngineSettings:
    # Polling starts `poll_first_s` after the submit and backs off by POLL_BACKOFF to `poll_interval_s`,
    # the longest wait between two polls: a job that takes 8 s is seen done within ~1 s of it, one
    # that takes minutes costs a poll every poll_interval_s. A `Retry-After` on a poll reply is waited
    # out instead (the vendor's own pace).
    poll_interval_s: float = 2.0
    poll_first_s: float = 1.0
    job_timeout_s: float = 900.0
    retry: RetryPolicy = RetryPolicy()
    max_download_bytes: int = 512 * 2**20
    duration_tolerance_s: float = 1.0
    max_download_attempts: int = 3


@dataclass(frozen=True)
class JobOutcome:
    job_id: str
    model: str  # the chain entry that delivered, so the caller prices that one
    vendor: str
    attempts: int  # jobs this call used (submitted or resumed), 1 when the first one delivered
    units: float | None  # the vendor's own cost figure for the delivering job, if it reports one


class JobEngine:
    def __init__(self, chain: Sequence[ChainEntry], settings: EngineSettings, job_dir: Path,
                 client: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep):
        if not chain:
            raise ConfigError("hosted video: the model chain is empty")
        if settings.poll_interval_s <= 0 or settings.job_timeout_s <= 0 or settings.max_download_attempts < 1:
            raise ConfigError("hosted video: poll interval, job timeout and download attempts must be positive")
        for entry in chain:
            require_http_url(entry.model.base_url, f"video {entry.model.model}: base_url")
        self.chain = tuple(chain)
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

    def generate(self, job: JobRequest, out_path: Path) -> JobOutcome:
        if not _SAFE_KEY.fullmatch(job.key):
            raise ProviderError(f"video job: request key {job.key[:60]!r} is not a safe file name")
        # Every key is read before anything is paid for, so a missing fallback key cannot strand a paid job.
        keys = [Keys(api_key(e.model.api_key_env, f"video {e.model.model}"),
                     api_key(e.model.secret_key_env, f"video {e.model.model}")) for e in self.chain]
        self._secrets = tuple(k for pair in keys for k in (pair.api_key, pair.secret_key) if k)
        try:
            return self._generate(job, Path(out_path), keys)
        except ShortDramaError as error:
            # A vendor may echo the request headers into an error body; the key must not travel on.
            text = self._redact(str(error))
            if text != str(error):
                raise type(error)(text) from None
            raise

    # -- the chain -----------------------------------------------------------------------------------

    def _generate(self, job: JobRequest, out_path: Path, keys: list[Keys]) -> JobOutcome:
        record = self._load(job.key)
        history: list[dict] = record.pop("history", []) if record else []
        start, resume = 0, None
        if record and record.get("status") not in TERMINAL:
            index = self._chain_index(record)
            if index is not None:
                start, resume = index, record
        if record and resume is None:
            history.append(record)
        errors: list[str] = []
        for index in range(start, len(self.chain)):
            entry = self.chain[index]
            session = self._session(entry, keys[index])
            entry_job = _bought(job, entry)
            rec, resume = self._job_for(entry, session, entry_job, resume, history), None
            try:
                state_units, video_url = self._poll(entry, session, rec)
            except _ModelFailed as failure:
                errors.append(f"{entry.model.model} (job {rec['job_id']}): {failure}")
                log.warning("video %s: job %s failed (%s)%s", entry.model.model, rec["job_id"],
                            self._redact(str(failure)), "; falling back" if index + 1 < len(self.chain) else "")
                _terminal.info("video %s: job %s failed (%s)%s", entry.model.model, self._shown(rec["job_id"]),
                               self._shown(failure, 120),
                               f"; falling back to {self.chain[index + 1].model.model}" if index + 1 < len(self.chain)
                               else "")
                history = [*rec.pop("history"), rec]
                continue
            self._download(entry, session, rec, video_url, entry_job, out_path)
            return JobOutcome(job_id=rec["job_id"], model=entry.model.model, vendor=entry.adapter.name,
                              attempts=len(errors) + 1, units=state_units)
        raise ProviderError(f"video job {job.key}: every model in the chain failed: {'; '.join(errors)}")

    def _job_for(self, entry: ChainEntry, session: Session, job: JobRequest, resume: dict | None,
                 history: list[dict]) -> dict:
        """The job to poll: the recorded one, one an earlier killed run submitted, or a new one."""
        model = entry.model
        if resume is not None and resume.get("job_id") and resume.get("status") != "submitting":
            log.info("video %s: resuming job %s for %s", model.model, resume["job_id"], job.key)
            resume["history"] = history[-_MAX_HISTORY:]
            return resume
        rec: dict[str, Any] = {"key": job.key, "vendor": entry.adapter.name, "model": model.model,
                               "base_url": model.base_url, "history": history[-_MAX_HISTORY:]}
        if resume is not None:  # killed while submitting: the vendor may or may not hold a job
            idempotency_key = resume.get("idempotency_key") or _idempotency_key(job.key, model.model)
            found = self._recover(entry, session, job, idempotency_key)
            if found is not None:
                return self._submitted(rec, idempotency_key, found, recovered=True)
            if not (entry.adapter.supports_recovery or entry.adapter.idempotent_submit):
                raise ProviderError(self._unknown_submit_message(entry, job))
            log.warning("video %s: an earlier run was killed while submitting %s and %s; submitting again",
                        model.model, job.key, "the vendor holds no such job" if entry.adapter.supports_recovery
                        else "the vendor deduplicates by our idempotency key")
        else:
            idempotency_key = _idempotency_key(job.key, model.model)
        rec.update(status="submitting", idempotency_key=idempotency_key, submitted_at=_now())
        self._save(rec)
        sends_before = session_sends(session)
        try:
            submitted, recovered = entry.adapter.submit(session, job, idempotency_key), False
        except JobRejected as rejected:
            self._update(rec, status="not_submitted", error=one_line(self._redact(str(rejected))))
            raise
        except ProviderHTTPError as error:
            if not error.maybe_accepted:  # the vendor answered a refusal: no job exists
                self._update(rec, status="not_submitted", error=one_line(self._redact(str(error))))
                raise
            found = self._recover(entry, session, job, idempotency_key)
            if found is None:
                raise ProviderError(f"{self._redact(str(error))}; " + (
                    "the next run looks the job up before submitting again" if entry.adapter.supports_recovery
                    else self._unknown_submit_message(entry, job))) from None
            submitted, recovered = found, True
        except ShortDramaError as error:
            # Raised by the adapter itself: before anything was sent (a length the model does not sell, an
            # unreadable keyframe), nothing exists; after an accepted create, a job may exist unseen.
            if session_sends(session) == sends_before or session_last_refused(session):
                self._update(rec, status="not_submitted", error=one_line(self._redact(str(error))))
            raise
        return self._submitted(rec, idempotency_key, submitted, recovered=recovered)

    def _unknown_submit_message(self, entry: ChainEntry, job: JobRequest) -> str:
        vendor, record = entry.adapter.name, self.job_dir / f"{job.key}.json"
        return (f"an earlier attempt may have created (and been billed for) a {vendor} job for this clip, and {vendor} "
                f"cannot look jobs up by our key: check {vendor}'s dashboard; if the job is there, put its id into "
                f"{record} as \"job_id\" with \"status\": \"submitted\"; otherwise delete {record} to submit again")

    def _recover(self, entry: ChainEntry, session: Session, job: JobRequest, idempotency_key: str) -> Submitted | None:
        if not entry.adapter.supports_recovery:
            return None
        found = entry.adapter.recover(session, job, idempotency_key)
        if found is not None:
            log.info("video %s: found job %s that an earlier attempt submitted for %s", entry.model.model,
                     found.job_id, job.key)
        return found

    def _submitted(self, rec: dict, idempotency_key: str, submitted: Submitted, recovered: bool) -> dict:
        job_id = submitted.job_id
        if not isinstance(job_id, str) or not job_id.strip() or len(job_id) > 200:
            raise ProviderError(f"video {rec['model']}: the vendor returned no usable job id")
        rec.update(job_id=job_id, status="submitted", idempotency_key=idempotency_key, recovered=recovered,
                   extra=dict(submitted.extra))
        self._save(rec)
        log.info("video %s: %s job %s for %s", rec["model"], "recovered" if recovered else "submitted", job_id,
                 rec["key"])
        _terminal.info("video %s: %s job %s", rec["model"], "found the earlier" if recovered else "submitted",
                       self._shown(job_id))
        return rec

    # -- polling -------------------------------------------------------------------------------------

    def _poll(self, entry: ChainEntry, session: Session, rec: dict) -> tuple[float | None, str]:
        """Poll until the job completes; return its units and video URL. Bounded by wall time and by poll
        count, the latter so that an injected sleep that does not sleep still ends."""
        model = entry.model.model
        timeout, longest = self.settings.job_timeout_s, self.settings.poll_interval_s
        interval = min(self.settings.poll_first_s, longest)
        deadline, max_polls = time.monotonic() + timeout, _polls_within(timeout, interval, longest)
        started, shown = time.monotonic(), _Shown()
        for polls in range(1, max_polls + 1):
            try:
                state = entry.adapter.poll(session, rec)
            except ProviderHTTPError as error:
                if error.status in (404, 410):  # the vendor forgot the job: no later poll can succeed
                    self._update(rec, status="lost", error=one_line(str(error)))
                raise
            self._show_state(model, rec, state, shown, time.monotonic() - started)
            if state.status and state.status != rec.get("vendor_status"):
                self._update(rec, vendor_status=state.status)
            if state.phase == "succeeded":
                if not state.video_url or not str(state.video_url).strip():
                    raise ProviderError(f"video {model}: job {rec['job_id']} succeeded without a video URL")
                # The URL is left out of the record: signed download URLs are credentials, and they expire.
                self._update(rec, status="completed", completed_at=rec.get("completed_at") or _now(),
                             units=state.units)
                return state.units, state.video_url
            if state.phase == "failed":
                reason = one_line(state.reason or "no reason given")
                if state.failure == "fail":
                    self._update(rec, status="rejected", error=reason)
                    raise JobRejected(f"{entry.adapter.name} {model} rejected job {rec['job_id']}: {reason} "
                                      f"(a cheaper model would be refused too: change the scene's prompt)")
                self._update(rec, status="failed", error=reason)
                raise _ModelFailed(reason)
            hint = session.send.counts["retry_after"]  # type: ignore[attr-defined]
            wait = interval if hint is None else min(hint, MAX_POLL_HINT_S)
            if polls == max_polls or time.monotonic() + wait > deadline:
                break
            self._sleep(wait)
            interval = min(interval * POLL_BACKOFF, longest)
        try:
            cancelled = bool(entry.adapter.cancel(session, rec))
        except ShortDramaError as error:  # the timeout is the error to report
            log.warning("video %s: could not cancel job %s (%s)", model, rec["job_id"], self._redact(str(error)))
            cancelled = False
        if cancelled:
            self._update(rec, status="cancelled", error=f"not complete within {timeout:g} s; cancelled")
            raise ProviderError(f"video job {rec['job_id']} on {model} did not complete within {timeout:g} s and "
                                f"was cancelled (the next run submits a new one)")
        # Not cancelled, so it may still finish and bill: the next run polls this job again, never a new one.
        self._update(rec, status="overdue", error=f"not complete within {timeout:g} s")
        raise ProviderError(f"video job {rec['job_id']} on {model} did not complete within {timeout:g} s and "
                            f"{entry.adapter.name} could not cancel it: the next run polls the same job again "
                            f"(raise video.job_timeout_s, or delete {self.job_dir / (rec['key'] + '.json')} "
                            f"to give it up and pay for a new one)")

    def _show_state(self, model: str, rec: dict, state: JobState, shown: "_Shown", elapsed: float) -> None:
        """One terminal line when the job's state changes (queued -> running -> succeeded), with the vendor's
        own word and progress figure; a new figure within the same state only every PROGRESS_EVERY_S."""
        status = self._shown(state.status or state.phase, 60)
        word = f"{state.phase} {(status.split() or [''])[0]}"
        now = time.monotonic()
        if status == shown.status or (word == shown.word and now - shown.at < PROGRESS_EVERY_S):
            return
        what = {"pending": status, "succeeded": f"succeeded ({status})"}.get(state.phase, f"{state.phase} ({status})")
        _terminal.info("video %s: job %s %s at %.0f s", model, self._shown(rec["job_id"]), what, elapsed)
        shown.status, shown.word, shown.at = status, word, now

    # -- download ------------------------------------------------------------------------------------

    def _download(self, entry: ChainEntry, session: Session, rec: dict, video_url: str, job: JobRequest,
                  out_path: Path) -> None:
        what = f"video {entry.model.model}: job {rec['job_id']} download"
        base = entry.model.base_url
        url = require_http_url(urljoin(base.rstrip("/") + "/", video_url.strip()), what)
        # The key goes only back to the vendor's API, never to a storage host.
        headers = entry.adapter.headers(session) if _origin(url) == _origin(base) else {}
        attempts, problems, content = self.settings.max_download_attempts, [], False
        with atomic_output(out_path) as tmp:
            for attempt in range(1, attempts + 1):
                try:
                    fetch(self._client, url, tmp, headers, what, self.settings.max_download_bytes,
                          self.settings.retry.request_timeout_s)
                    check_clip(tmp, job.duration, self.settings.duration_tolerance_s, audio=job.with_audio)
                    return
                except BadDownload as bad:
                    tmp.unlink(missing_ok=True)
                    problems.append(str(bad))
                    content = content or bad.content
                    log.warning("%s: attempt %d/%d: %s", what, attempt, attempts, bad)
                    if attempt < attempts:
                        policy = self.settings.retry
                        wait = bad.wait if bad.wait is not None else policy.base_delay_s * 2 ** (attempt - 1)
                        self._sleep(min(wait, policy.max_delay_s))
                except ProviderHTTPError as error:
                    if error.status in (401, 403, 404, 410):
                        # Expired or gone: the next run polls the job again for a fresh URL, or submits anew.
                        self._update(rec, status="completed" if error.status in (401, 403) else "lost",
                                     error=one_line(str(error)))
                    raise
            if content:  # the job's output itself is bad: a rerun must generate anew, not fetch it again
                self._update(rec, status="bad_output", error=problems[-1])
            raise ProviderError(f"{what}: no valid video after {attempts} attempts ({'; '.join(problems)})")

    # -- plumbing ------------------------------------------------------------------------------------

    def _session(self, entry: ChainEntry, keys: Keys) -> Session:
        session: Session
        counts: dict[str, Any] = {"sends": 0, "refused": False, "retry_after": None}

        def send(method: str, url: str, *, what: str, judge: Any = None, resend: bool = True,
                 headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
            counts["sends"] += 1
            counts["refused"], counts["retry_after"] = False, None
            try:
                response = request(self._client, method, url, policy=self.settings.retry, what=what,
                                   sleep=self._sleep, judge=judge, resend=resend,
                                   headers={**entry.adapter.headers(session), **(headers or {})}, **kwargs)
                counts["retry_after"] = retry_after_seconds(response)
                return response
            except ProviderHTTPError as error:
                counts["refused"] = not error.maybe_accepted and error.status is not None
                raise
            except httpx.HTTPError as error:  # what the retrying request does not turn into a ProviderError
                raise ProviderError(f"{what}: {type(error).__name__}") from None

        send.counts = counts  # type: ignore[attr-defined]
        session = Session(entry=entry.model, keys=keys, send=send)
        return session

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        # A signed token (Kling's JWT) is a credential too, though no environment variable holds it.
        return _AUTH_VALUE.sub(r"\1 ***", text)

    def _shown(self, text: Any, limit: int = 80) -> str:
        """Vendor text fit for a terminal line: no key, one line, printable characters only (no escape
        sequences), short."""
        return "".join(c if c.isprintable() else "?" for c in one_line(self._redact(str(text)), limit))

    def _chain_index(self, record: dict) -> int | None:
        """The chain entry a record's job belongs to. The address is operational (a proxy, another region):
        a changed base_url must not abandon a live job, so vendor and model decide."""
        for index, entry in enumerate(self.chain):
            if entry.model.model != record.get("model"):
                continue
            vendor = record.get("vendor")
            if vendor == entry.adapter.name or (vendor is None and entry.model.base_url == record.get("base_url")):
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


_AUTH_VALUE = re.compile(r"\b(Bearer|Key)\s+[A-Za-z0-9._~+/=-]{8,}")


@dataclass
class _Shown:
    """What the terminal last got about one job: the vendor's status, its state word, and when."""

    status: str | None = None
    word: str | None = None
    at: float = 0.0


def session_sends(session: Session) -> int:
    return session.send.counts["sends"]  # type: ignore[attr-defined]


def session_last_refused(session: Session) -> bool:
    """The last request got a final HTTP error answer: the server saw it and refused it."""
    return session.send.counts["refused"]  # type: ignore[attr-defined]


def _polls_within(timeout: float, first: float, longest: float) -> int:
    """How many polls the schedule makes within `timeout` (the first at once): the bound that ends the
    loop also when an injected sleep does not sleep."""
    polls, at, wait = 1, first, first
    while at < timeout:
        polls += 1
        wait = min(wait * POLL_BACKOFF, longest)
        at += wait
    return polls


def _bought(job: JobRequest, entry: ChainEntry) -> JobRequest:
    if not entry.sellable:
        return job
    fits = [length for length in sorted(entry.sellable) if length >= job.duration - 1e-6]
    if not fits:
        raise ProviderError(f"scene lasts {job.duration:g} s but {entry.model.model} sells clips of at most "
                            f"{max(entry.sellable):g} s: shorten or split the scene")
    return replace(job, duration=fits[0])


class _ModelFailed(Exception):
    """The vendor reported the job failed in a way a cheaper model may not: the chain moves on."""


def _idempotency_key(key: str, model: str) -> str:
    """A fresh id for one submission, saved in the record before the create request is sent: a resumed
    run sends or looks up the same one, while a deliberate resubmission (a failed job, a deleted record)
    gets a new one. Short and plain: vendors cap external ids (Kling: letters, digits, - and _)."""
    digest = re.sub(r"[^A-Za-z0-9]", "", key)[:32]
    model_part = re.sub(r"[^A-Za-z0-9]", "", model)[:16]
    return f"sd-{digest}-{model_part}-{secrets.token_hex(4)}"


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
