"""fal.ai's queue (https://queue.fal.run), where Pika and many other video models are sold: provider `fal`.

    POST {base}/{model}        the model's own input, e.g. Pika 2.2 image-to-video:
                               {prompt, image_url (a data URI is accepted), negative_prompt, seed,
                                resolution "720p"|"1080p", duration 5|10}
                               -> 202 {request_id, status_url, response_url, cancel_url, queue_position}
    GET  {status_url}          -> {status: IN_QUEUE (queue_position) | IN_PROGRESS | COMPLETED, error?, error_type?}
                                  (202 while queued or in progress, 200 when completed: any 2xx is a status)
    GET  {response_url}        -> the model's output {video: {url, content_type, file_size}, seed?},
                                  or 422/500 {"detail": ...} when the request failed
    PUT  {cancel_url}          -> 202 {status: CANCELLATION_REQUESTED}: a queued request is removed, one in
                                  progress only signalled; 400 {status: ALREADY_COMPLETED}

A model id is "owner/app[/subpath]" ("fal-ai/pika/v2.2/image-to-video"); the status, result and cancel
URLs live under "owner/app" without the subpath, so the adapter uses the URLs fal returns (kept in the
job record: they are not secrets) instead of building them, and sends the key only to URLs of the
base_url's origin. Authentication is `Authorization: Key <FAL_KEY>` (not Bearer). fal takes no
idempotency key and cannot list requests by anything of ours: a submit whose reply was lost cannot be
found again (supports_recovery False; the create call is resent only when it surely did not arrive,
and the engine then asks the user to check fal's request history). A request id put into the job record
by hand is polled at the URLs fal would have returned for it.
fal reports no cost per request; the preset's price table prices each clip.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, Mapping
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict

from ...errors import ProviderError
from ...http import ProviderHTTPError, require_http_url
from .base import (JobRejected, JobRequest, JobState, Session, Submitted, VendorModel, check_options, data_uri,
                   one_line, reply_json, required_key, text_field, unknown_model)

_MODEL_ID = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9._-]+)+")
_URL_FIELDS = ("status_url", "response_url", "cancel_url")
_PENDING = {"IN_QUEUE", "IN_PROGRESS"}
# How fal and its models word a refusal by a content checker: it fails on every model of the chain.
_POLICY_WORDS = ("content_policy", "content policy", "policy", "nsfw", "flagged", "moderat", "safety")
# A locked account (exhausted balance) does not unlock within a build.
_ACCOUNT_WORDS = ("exhausted balance", "locked", "top up")


class FalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Output resolution: "auto" asks for 720p for renders up to 720p wide and 1080p above (the price
    # table's resolution_multiplier then matches what is bought).
    resolution: Literal["auto", "720p", "1080p"] = "auto"


class FalAdapter:
    name = "fal"
    required_settings = ("api_key_env",)
    supports_recovery = False
    idempotent_submit = False  # a create sent again would make (and bill) a second job

    def headers(self, session: Session) -> dict[str, str]:
        key = required_key(session, "fal")
        return {"Authorization": f"Key {key}"}

    def submit(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted:
        entry = session.entry
        what = f"video {entry.model}: submit"
        body = self._body(session, job, what)
        try:
            response = session.send("POST", f"{self._base(session)}/{entry.model}", what=what, json=body,
                                    judge=_judge, resend=False)
        except ProviderHTTPError as error:
            raise self._explain(session, error, submitting=True) from None
        data = reply_json(response, what)
        request_id = text_field(data, "request_id", what)
        extra = {name: text_field(data, name, what) for name in _URL_FIELDS}
        for url in extra.values():
            # The request exists (and is billed) whatever we think of its URLs; say which one it is.
            self._check_origin(session, url, f"{what}: request {request_id}")
        return Submitted(job_id=request_id, extra=extra)

    def recover(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted | None:
        return None  # fal keeps nothing of ours on a request to find it by

    def poll(self, session: Session, record: Mapping[str, Any]) -> JobState:
        what = f"video {session.entry.model}: request {record['job_id']}"
        status_url = self._recorded_url(session, record, "status_url", what)
        try:
            data = reply_json(session.send("GET", status_url, what=what, judge=_judge), what)
        except ProviderHTTPError as error:
            raise self._explain(session, error) from None
        status = data.get("status")
        if status in _PENDING:
            position = data.get("queue_position")
            return JobState("pending", f"{status} #{position}" if isinstance(position, int) else str(status))
        if status in ("FAILED", "CANCELED", "CANCELLED") or (status == "COMPLETED" and data.get("error")):
            reason = one_line(f"{data.get('error') or status} ({data.get('error_type') or 'no error type'})")
            return JobState("failed", str(status), reason=reason, failure=failure_kind(reason))
        if status == "COMPLETED":
            return self._result(session, record, what)
        raise ProviderError(f"{what}: unknown queue status {str(status)[:40]!r}")

    def cancel(self, session: Session, record: Mapping[str, Any]) -> bool:
        """fal removes a request still IN_QUEUE: it never runs, a confirmed stop. A request IN_PROGRESS only
        gets a signal that the model's app may ignore, so it may still finish and bill: not confirmed, and
        the next run polls it again. (fal answers 202 CANCELLATION_REQUESTED to both; 400 when it is done.)"""
        what = f"video {session.entry.model}: cancel request {record['job_id']}"
        session.send("PUT", self._recorded_url(session, record, "cancel_url", what), what=what, judge=_judge)
        # The status word of the engine's last poll, made a moment ago by `poll` ("IN_QUEUE #3").
        return str(record.get("vendor_status") or "").startswith("IN_QUEUE")

    def validate_options(self, options: Mapping[str, Any]) -> None:
        check_options(FalOptions, options, "fal")

    # -- plumbing --------------------------------------------------------------------------------------

    def _body(self, session: Session, job: JobRequest, what: str) -> dict[str, Any]:
        """The model's input. Problems found here raise JobRejected: nothing was sent, nothing billed."""
        entry = session.entry
        check_model_id(entry, what, "fal-ai/pika/v2.2/image-to-video", "the video preset")
        if job.reference_image is None:
            raise JobRejected(f"{what}: image-to-video needs the scene's keyframe (none was given)")
        try:
            image = data_uri(job.reference_image, what)
        except ProviderError as error:
            raise JobRejected(str(error)) from None
        options = FalOptions.model_validate(dict(entry.options))
        resolution = options.resolution
        if resolution == "auto":
            resolution = "720p" if min(job.width, job.height) <= 720 else "1080p"
        body: dict[str, Any] = {"prompt": job.prompt, "image_url": image, "seed": job.seed,
                                "resolution": resolution, "duration": int(round(job.duration))}
        if job.negative_prompt:
            body["negative_prompt"] = job.negative_prompt
        return body

    def _result(self, session: Session, record: Mapping[str, Any], what: str) -> JobState:
        url = self._recorded_url(session, record, "response_url", what)
        try:
            response = session.send("GET", url, what=f"{what} result", judge=_result_judge)
        except ProviderHTTPError as error:
            if error.status == 400 and "in progress" in error.body.lower():
                return JobState("pending", "COMPLETED (result not ready yet)")
            if error.status in (400, 422, 500):  # the request ran and failed: the reply says why
                reason = one_line(f"HTTP {error.status}: {_detail(error.body)}")
                return JobState("failed", "COMPLETED", reason=reason, failure=failure_kind(error.body))
            raise self._explain(session, error) from None
        video = reply_json(response, what).get("video")
        video_url = video.get("url") if isinstance(video, dict) else None
        if not isinstance(video_url, str) or not video_url.strip():
            raise ProviderError(f"{what}: completed without video.url")
        return JobState("succeeded", "COMPLETED", video_url=video_url)

    def _base(self, session: Session) -> str:
        return session.entry.base_url.rstrip("/")

    def _recorded_url(self, session: Session, record: Mapping[str, Any], name: str, what: str) -> str:
        url = (record.get("extra") or {}).get(name) or self._derived_url(session, record, name)
        if not isinstance(url, str) or not url:
            raise ProviderError(f"{what}: the job record holds no {name} to poll with; delete the record "
                                f"{record.get('key', '')}.json to submit anew")
        self._check_origin(session, url, what)
        return url

    def _derived_url(self, session: Session, record: Mapping[str, Any], name: str) -> str | None:
        """The URL fal returns for a request, built from its id: for a record whose job id the user put in
        by hand after a lost submit reply (the request lives under owner/app, without the model's subpath)."""
        job_id, model = record.get("job_id"), session.entry.model
        if not isinstance(job_id, str) or not job_id.strip() or not _MODEL_ID.fullmatch(model):
            return None
        app = "/".join(model.split("/")[:2])
        base = f"{self._base(session)}/{app}/requests/{quote(job_id.strip(), safe='')}"
        return {"status_url": f"{base}/status", "response_url": base, "cancel_url": f"{base}/cancel"}.get(name)

    def _check_origin(self, session: Session, url: str, what: str) -> None:
        """The key goes only to the base_url's own scheme, host and port."""
        require_http_url(url, what)
        if _origin(url) != _origin(session.entry.base_url):
            raise ProviderError(f"{what}: fal answered with a URL on another host ({_origin(url)[1]!r}, expected "
                                f"{_origin(session.entry.base_url)[1]!r}); refusing to send the key there")

    def _explain(self, session: Session, error: ProviderHTTPError, submitting: bool = False) -> ProviderError:
        """fal's error replies in words a user can act on; errors found at submit stay ProviderHTTPError so
        the engine records that no request was created (and a 404 while polling stays a lost request)."""
        entry = session.entry
        detail = _detail(error.body)
        if error.status == 404 and submitting:
            explained = str(unknown_model(entry, "fal", detail))
        elif error.status in (401, 403) and not any(word in detail.lower() for word in _ACCOUNT_WORDS):
            explained = f"fal rejected the key ({detail}): check {entry.api_key_env} (sent as 'Key <key>')"
        elif error.status in (402, 403, 429):
            explained = (f"fal refused the account ({detail}): no retry within this run helps; top up or unlock "
                         f"the account behind {entry.api_key_env}")
        elif error.status == 422 and submitting and failure_kind(error.body) == "fail":
            return JobRejected(f"fal refused the input ({detail}): change the scene's prompt or keyframe")
        else:
            return error
        return ProviderHTTPError(f"video {entry.model}: {explained}", error.status, error.body,
                                 maybe_accepted=error.maybe_accepted)


def check_model_id(entry: VendorModel, what: str, example: str, preset: str) -> None:
    """A model id fal's queue can route ("owner/app[/subpath]", no `..`), else JobRejected: nothing sent."""
    if not _MODEL_ID.fullmatch(entry.model) or ".." in entry.model.split("/"):
        raise JobRejected(f"{what}: {entry.model!r} is not a fal model id like {example} "
                          f"(fix `model` in {entry.preset or preset})")


def failure_kind(text: str) -> Literal["fallback", "fail"]:
    """A content checker's refusal fails on every model; a runner crash or timeout may pass on the next one."""
    lowered = text.lower()
    return "fail" if any(word in lowered for word in _POLICY_WORDS) else "fallback"


def _detail(body: str) -> str:
    """fal's {"detail": "..."} or its validation list [{"loc", "msg", "type"}] in one line."""
    try:
        data = json.loads(body)
    except ValueError:
        return one_line(body, 200)
    detail = data.get("detail", data) if isinstance(data, dict) else data
    if isinstance(detail, list):
        parts = [f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg', '')} [{d.get('type', '')}]"
                 for d in detail if isinstance(d, dict)]
        return one_line("; ".join(parts), 300)
    return one_line(detail, 300)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _judge(response: httpx.Response) -> str | None:
    # A 429 that says the account is locked or out of balance does not pass with a retry.
    if response.status_code == 429 and any(word in response.text.lower() for word in _ACCOUNT_WORDS):
        return "final"
    return None


def _result_judge(response: httpx.Response) -> str | None:
    # The result of a request whose runner failed answers 500 {"detail": ...} for good: read it, do not retry.
    if response.status_code == 500 and "detail" in response.text:
        return "final"
    return _judge(response)


ADAPTER = FalAdapter()
