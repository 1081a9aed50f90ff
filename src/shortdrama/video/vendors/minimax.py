"""MiniMax's Hailuo video API (https://api.minimax.io), provider `minimax`.

    POST /v1/video_generation   {model, prompt, first_frame_image (data URI), duration 6|10,
                                 resolution "512P"|"768P"|"1080P", prompt_optimizer}
                                -> {task_id, base_resp: {status_code: 0, status_msg: "success"}}
    GET  /v1/query/video_generation?task_id=...
                                -> {task_id, status: Preparing|Queueing|Processing|Success|Fail, file_id, base_resp}
    GET  /v1/files/retrieve?file_id=...
                                -> {file: {file_id, bytes, filename, download_url, ...}, base_resp}

MiniMax answers most errors with HTTP 200 and a nonzero `base_resp.status_code`: 1002 is its rate limit
(retried), 1004/2049 a bad key, 1008 an empty balance, 1026 a sensitive prompt or image, 1027 a sensitive
output, 2013 invalid parameters. 1000/1001/1013 (unknown error, timeout, internal error) are retried on
reads; on a create they leave it unknown whether the task exists, which is reported as such. A task or
file that MiniMax no longer has (2013, or a "not found" message, on a read) is a 404 to the engine: lost,
and the next run submits anew. The video is a file: a finished task names a file_id, and retrieving
the file gives a download URL that expires (about 9 hours, it seems), so it is asked for at every poll
that finds the task done and downloaded at once. MiniMax takes no negative prompt and no seed.
There is no idempotency key and no lookup by our key: a create request is never sent twice on a doubt.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal, Mapping
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, StrictBool

from ...errors import ProviderError
from ...http import ProviderHTTPError
from .base import (JobRejected, JobRequest, JobState, Session, Submitted, bearer_headers, check_options, data_uri,
                   one_line, reply_json, unknown_model)

RATE_LIMIT = 1002
# Codes that a repeated read may get past: unknown error, timeout, rate limit, internal error. Only reads
# are repeated on them; a create answered so (the rate limit aside) is not: the task may or may not exist.
_TRANSIENT = {1000, 1001, RATE_LIMIT, 1013}
_UNSURE_CREATE = _TRANSIENT - {RATE_LIMIT}
# How a read of a task or file MiniMax no longer has is answered, inside HTTP 200 (unverified (?): the
# docs list codes, not this case): 2013 invalid params (the id is a read's only parameter), or a message.
_GONE_WORDS = ("not found", "not exist", "invalid task", "invalid file")
_BAD_KEY = {1004, 2049}
NO_BALANCE = 1008
SENSITIVE_INPUT, SENSITIVE_OUTPUT = 1026, 1027
INVALID_PARAMS = 2013
_PENDING = {"Preparing", "Queueing", "Processing"}
SOLD_SECONDS = (6, 10)
MAX_PROMPT_CHARS = 2000


class MiniMaxOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: Literal["512P", "768P", "1080P"] = "768P"  # 1080P: 6 s clips only
    prompt_optimizer: StrictBool = True  # MiniMax rewrites the prompt first (its default)


class MiniMaxAdapter:
    name = "minimax"
    required_settings: tuple[str, ...] = ()  # sends requests without a key, if a server allows it
    supports_recovery = False
    idempotent_submit = False  # a create sent again would make (and bill) a second job

    def headers(self, session: Session) -> dict[str, str]:
        return bearer_headers(session)

    def submit(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted:
        entry = session.entry
        options = MiniMaxOptions.model_validate(dict(entry.options))
        what = f"video {entry.model}: submit"
        seconds = round(job.duration)
        if seconds not in SOLD_SECONDS or not math.isclose(seconds, job.duration, abs_tol=1e-6):
            raise ProviderError(f"{what}: MiniMax sells 6 s and 10 s clips, not {job.duration:g} s: set "
                                f"pricing.billing_seconds: [6, 10] in {entry.preset or 'the video preset'}")
        if options.resolution == "1080P" and seconds != 6:
            raise ProviderError(f"{what}: MiniMax makes 1080P clips of 6 s only; this scene needs {seconds} s "
                                f"(use resolution 768P in {entry.preset or 'the video preset'})")
        body: dict[str, Any] = {"model": entry.model, "prompt": job.prompt[:MAX_PROMPT_CHARS], "duration": seconds,
                                "resolution": options.resolution, "prompt_optimizer": options.prompt_optimizer}
        if job.reference_image is not None:
            body["first_frame_image"] = data_uri(job.reference_image, what)
        url = f"{entry.base_url.rstrip('/')}/v1/video_generation"
        try:
            response = session.send("POST", url, what=what, json=body, judge=_judge_create, resend=False)
        except ProviderHTTPError as error:
            raise _explain(session, error, what, creating=True) from None
        data = reply_json(response, what)
        task_id = data.get("task_id")
        if not isinstance(task_id, (str, int)) or isinstance(task_id, bool) or not str(task_id).strip():
            raise ProviderError(f"{what}: the reply has no task_id")
        return Submitted(job_id=str(task_id))

    def recover(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted | None:
        return None  # tasks cannot be found by a key of ours

    def poll(self, session: Session, record: Mapping[str, Any]) -> JobState:
        entry = session.entry
        what = f"video {entry.model}: task {record['job_id']}"
        data = self._read(session, f"/v1/query/video_generation?task_id={quote(record['job_id'], safe='')}", what)
        status, code, message = data.get("status"), base_resp_code(data), _message(data)
        if status == "Fail":
            reason = f"{message or 'no reason given'} (code {code})" if code else (message or "no reason given")
            sensitive = code in (SENSITIVE_INPUT, SENSITIVE_OUTPUT)
            return JobState("failed", status, reason=one_line(reason), failure="fail" if sensitive else "fallback")
        if code:
            raise _explain(session, ProviderHTTPError(f"{what}: MiniMax code {code}: {message}", 200, json.dumps(data)),
                           what, creating=False)
        if status in _PENDING:
            return JobState("pending", status)
        if status == "Success":
            file_id = data.get("file_id")
            if not isinstance(file_id, (str, int)) or isinstance(file_id, bool) or not str(file_id).strip():
                raise ProviderError(f"{what}: succeeded without a file_id")
            return JobState("succeeded", status, video_url=self._download_url(session, str(file_id), what))
        raise ProviderError(f"{what}: unknown task status {str(status)[:40]!r}")

    def cancel(self, session: Session, record: Mapping[str, Any]) -> bool:
        return False  # MiniMax's video API has no cancel call

    def validate_options(self, options: Mapping[str, Any]) -> None:
        check_options(MiniMaxOptions, options, "minimax")

    # -- plumbing --------------------------------------------------------------------------------------

    def _download_url(self, session: Session, file_id: str, what: str) -> str:
        data = self._read(session, f"/v1/files/retrieve?file_id={quote(file_id, safe='')}", f"{what}: file {file_id}")
        if base_resp_code(data):
            raise _explain(session, ProviderHTTPError(f"{what}: file {file_id}: MiniMax code {base_resp_code(data)}: "
                                                      f"{_message(data)}", 200, json.dumps(data)), what, creating=False)
        url = (data.get("file") or {}).get("download_url") if isinstance(data.get("file"), dict) else None
        if not isinstance(url, str) or not url.strip():
            raise ProviderError(f"{what}: file {file_id} has no download_url")
        return url

    def _read(self, session: Session, path: str, what: str) -> dict[str, Any]:
        url = f"{session.entry.base_url.rstrip('/')}{path}"
        try:
            return reply_json(session.send("GET", url, what=what, judge=_judge_read), what)
        except ProviderHTTPError as error:
            raise _explain(session, error, what, creating=False) from None


def _explain(session: Session, error: ProviderHTTPError, what: str, creating: bool) -> ProviderError:
    """A base_resp code as what to do next. Still a ProviderHTTPError (or JobRejected): the engine then
    records a refused create as not submitted."""
    if error.maybe_accepted:
        return error
    entry = session.entry
    reply = answer_json(error.body)
    code, message = base_resp_code(reply), one_line(_message(reply), 200)
    where = entry.preset or "the video preset"
    if code in _BAD_KEY or error.status == 401:
        said = f"code {code}: {message}" if code else f"HTTP {error.status}: {one_line(error.body, 120)}"
        text = f"{what}: MiniMax refused the key in {entry.api_key_env} ({said})"
    elif creating and code in _UNSURE_CREATE:
        # An error inside the create's reply that does not say the request was refused: the task may exist.
        return ProviderHTTPError(f"{what}: MiniMax answered code {code} ({message}); whether it created the task "
                                 f"is unknown", error.status, error.body, maybe_accepted=True)
    elif not creating and _gone(reply):
        # A 404 to the engine: the job is recorded as lost and the next run submits a new one.
        return ProviderHTTPError(f"{what}: MiniMax no longer knows it (code {code}: {message}); the next run "
                                 f"submits a new task", 404, error.body)
    elif code == NO_BALANCE:
        text = f"{what}: the MiniMax account's balance is used up (code {code}: {message}); top it up and rerun"
    elif code == SENSITIVE_INPUT:
        return JobRejected(f"{what}: MiniMax flagged the prompt or keyframe as sensitive (code {code}: {message}): "
                           f"change the scene's prompt or keyframe")
    elif code == INVALID_PARAMS and creating and "model" in message.lower():
        # MiniMax documents only the code; a 2013 whose message is about the model is taken as an unknown model (?)
        text = str(unknown_model(entry, "MiniMax", message))
    elif code == INVALID_PARAMS and creating:
        text = f"{what}: MiniMax refused the parameters (code {code}: {message}); check the options in {where}"
    elif code is not None:
        text = f"{what}: MiniMax code {code}: {message}"
    else:
        return error
    return ProviderHTTPError(text, error.status, error.body)


def _judge_create(response: httpx.Response) -> Literal["retry", "final"] | None:
    if response.status_code != 200:
        return None
    code = base_resp_code(answer_json(response.text))
    if code == RATE_LIMIT:
        return "retry"  # refused before a task was made: safe to send again
    return "final" if code else None


def _judge_read(response: httpx.Response) -> Literal["retry"] | None:
    if response.status_code != 200:
        return None
    reply = answer_json(response.text)
    # A failed task carries its own code in base_resp: that is the task's answer, not a refused read. Nor
    # does a repeated read find a task or file that is gone.
    return "retry" if reply.get("status") != "Fail" and base_resp_code(reply) in _TRANSIENT and not _gone(reply) else None


def _gone(reply: Mapping[str, Any]) -> bool:
    code = base_resp_code(reply)
    return code is not None and (code == INVALID_PARAMS or any(w in _message(reply).lower() for w in _GONE_WORDS))


def answer_json(text: str) -> dict[str, Any]:
    """A MiniMax answer's JSON object ({} when it is not one); shared with its speech API (voice.minimax)."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def base_resp_code(reply: Mapping[str, Any]) -> int | None:
    """The nonzero `base_resp.status_code` of a MiniMax answer, if it has one."""
    base = reply.get("base_resp")
    code = base.get("status_code") if isinstance(base, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) and code != 0 else None


def _message(reply: Mapping[str, Any]) -> str:
    base = reply.get("base_resp")
    return str(base.get("status_msg") or "") if isinstance(base, dict) else ""


ADAPTER = MiniMaxAdapter()
