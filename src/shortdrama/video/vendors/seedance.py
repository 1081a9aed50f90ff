"""ByteDance Seedance through Volcengine Ark (https://ark.cn-beijing.volces.com), provider `seedance`.

    POST   /api/v3/contents/generations/tasks
           {model, content: [{type: text, text: "<prompt> --ratio 9:16 --resolution 720p --duration 5 --seed 7
                                                  --camerafixed false --watermark false"},
                             {type: image_url, image_url: {url: <data URI>}, role: first_frame}]}  -> {id}
    GET    /api/v3/contents/generations/tasks/{id}
           -> {id, status: queued|running|succeeded|failed|cancelled, content: {video_url}, error: {code, message},
               usage: {completion_tokens, total_tokens}, seed, resolution, ratio, duration, ...}
    DELETE /api/v3/contents/generations/tasks/{id}   cancels a queued task, deletes a finished one; a running
                                                     one: HTTP 4xx {"error": ...} (its code unverified)

The clip's parameters travel as `--name value` commands at the end of the text prompt, so a prompt's own
"--" is defused first. Errors are HTTP 4xx/5xx with {"error": {"code", "message"}}: 429 RateLimitExceeded
and ServerOverloaded pass with time (retried), QuotaExceeded and SetLimitExceeded do not; the
*SensitiveContentDetected codes are content-policy refusals; ModelNotOpen means the model exists but is
not activated for the account. Cost: `usage.completion_tokens` is what Ark bills; it is the job's units and
the preset's per_unit is the USD price of one token. The video_url is valid for about 24 hours and is
downloaded at once. No idempotency key and no lookup by our key: a create request is never sent twice on a doubt.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal, Mapping
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, StrictBool

from ...errors import ProviderError
from ...http import ProviderHTTPError
from .base import (JobRejected, JobRequest, JobState, Session, Submitted, VendorModel, bearer_headers, check_options,
                   data_uri, one_line, reply_json, text_field, unknown_model)

PATH = "/api/v3/contents/generations/tasks"
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
_PENDING = {"queued", "running"}
# 429s that waiting within this run does not fix: the account's quota, or the spending limit set in the console.
_CAPS = {"QuotaExceeded", "SetLimitExceeded"}
_ACCOUNT = {"AccountOverdueError", "AccessDenied"}


class SeedanceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: Literal["480p", "720p", "1080p"] = "720p"
    # auto: the render's aspect ratio when Ark offers it (9:16), else "adaptive" (the keyframe's own)
    ratio: Literal["auto", "adaptive", "16:9", "4:3", "1:1", "3:4", "9:16", "21:9"] = "auto"
    camerafixed: StrictBool = False  # true: a locked-off camera
    watermark: StrictBool = False  # true: Ark's "AI generated" mark in a corner


class SeedanceAdapter:
    name = "seedance"
    required_settings: tuple[str, ...] = ()  # sends requests without a key, if a server allows it
    supports_recovery = False
    idempotent_submit = False  # a create sent again would make (and bill) a second job

    def headers(self, session: Session) -> dict[str, str]:
        return bearer_headers(session)

    def submit(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted:
        entry = session.entry
        what = f"video {entry.model}: submit"
        content: list[dict[str, Any]] = [{"type": "text", "text": prompt_text(entry, job, what)}]
        if job.reference_image is not None:
            content.append({"type": "image_url", "image_url": {"url": data_uri(job.reference_image, what)},
                            "role": "first_frame"})
        url = f"{entry.base_url.rstrip('/')}{PATH}"
        try:
            response = session.send("POST", url, what=what, json={"model": entry.model, "content": content},
                                    judge=_judge, resend=False)
        except ProviderHTTPError as error:
            raise _explain(entry, error, what, creating=True) from None
        return Submitted(job_id=text_field(reply_json(response, what), "id", what))

    def recover(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted | None:
        return None  # tasks cannot be found by a key of ours

    def poll(self, session: Session, record: Mapping[str, Any]) -> JobState:
        entry = session.entry
        what = f"video {entry.model}: task {record['job_id']}"
        try:
            response = session.send("GET", self._task_url(session, record), what=what, judge=_judge)
        except ProviderHTTPError as error:
            raise _explain(entry, error, what, creating=False) from None
        data = reply_json(response, what)
        status = data.get("status")
        if status in _PENDING:
            return JobState("pending", status)
        if status == "succeeded":
            video_url = (data.get("content") or {}).get("video_url") if isinstance(data.get("content"), dict) else None
            if not isinstance(video_url, str) or not video_url.strip():
                raise ProviderError(f"{what}: succeeded without content.video_url")
            return JobState("succeeded", status, video_url=video_url, units=_tokens(data.get("usage")))
        if status == "failed":
            error = data.get("error") if isinstance(data.get("error"), dict) else {}
            code = str(error.get("code") or "")
            reason = one_line(f"{error.get('message') or 'no reason given'}{f' ({code})' if code else ''}")
            return JobState("failed", status, reason=reason, failure="fail" if "Sensitive" in code else "fallback")
        if status in ("cancelled", "expired"):
            # Cancelled from the console, or (a status some Ark docs list, unverified) left queued past its
            # limit: either way the clip is still wanted, so the next model gets it.
            return JobState("failed", status, reason=f"the task was {status} on Ark's side")
        raise ProviderError(f"{what}: unknown task status {str(status)[:40]!r}")

    def cancel(self, session: Session, record: Mapping[str, Any]) -> bool:
        """Ark cancels only a task still queued; a running one finishes (and bills) whatever we do, so it is
        not stopped and the next run polls it again. The same DELETE removes a finished task, clip and all,
        so it is not sent for a task the engine's last poll (a moment ago) found running."""
        if record.get("vendor_status") == "running":
            return False
        try:
            session.send("DELETE", self._task_url(session, record), judge=_cancel_judge,
                         what=f"video {session.entry.model}: cancel task {record['job_id']}")
        except ProviderHTTPError as error:
            if error.status in (400, 409):  # started running since that poll: Ark refuses to cancel it
                return False
            raise
        return True

    def validate_options(self, options: Mapping[str, Any]) -> None:
        check_options(SeedanceOptions, options, "seedance")

    def _task_url(self, session: Session, record: Mapping[str, Any]) -> str:
        return f"{session.entry.base_url.rstrip('/')}{PATH}/{quote(record['job_id'], safe='')}"


def prompt_text(entry: VendorModel, job: JobRequest, what: str) -> str:
    """The prompt with the clip's parameters as Ark's text commands appended."""
    options = SeedanceOptions.model_validate(dict(entry.options))
    seconds = round(job.duration)
    if seconds < 1 or not math.isclose(seconds, job.duration, abs_tol=1e-6):
        raise ProviderError(f"{what}: Seedance sells whole seconds, not {job.duration:g} s: list its lengths in "
                            f"pricing.billing_seconds of {entry.preset or 'the video preset'}")
    ratio = options.ratio if options.ratio != "auto" else aspect_ratio(job.width, job.height)
    # A "--" inside the scene's own words would be read as a command (a "--duration 10" in a line of
    # dialogue would double the bill): collapse runs of dashes before appending ours.
    prompt = re.sub(r"-{2,}", "-", job.prompt).strip()
    # Ark takes seeds in [-1, 2^32 - 1] (-1: random); ours are folded into that range, still one per scene.
    commands = {"ratio": ratio, "resolution": options.resolution, "duration": seconds, "seed": job.seed % 2**32,
                "camerafixed": _flag(options.camerafixed), "watermark": _flag(options.watermark)}
    return " ".join([prompt, *(f"--{name} {value}" for name, value in commands.items())])


def aspect_ratio(width: int, height: int) -> str:
    divisor = math.gcd(width, height) or 1
    ratio = f"{width // divisor}:{height // divisor}"
    return ratio if ratio in RATIOS else "adaptive"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _explain(entry: VendorModel, error: ProviderHTTPError, what: str, creating: bool) -> ProviderError:
    """Ark's {"error": {"code", "message"}} as what to do next. Still a ProviderHTTPError (or JobRejected):
    the engine then records a refused create as not submitted, and a task Ark no longer knows as lost."""
    if error.maybe_accepted:
        return error
    detail = _error(error.body)
    code, message = str(detail.get("code") or ""), one_line(detail.get("message") or error.body, 200)
    where = entry.preset or "the video preset"
    if error.status == 401 or code == "AuthenticationError":
        text = f"{what}: Ark refused the key in {entry.api_key_env} ({code or error.status}: {message})"
    elif code in _CAPS:
        text = (f"{what}: the Ark account's quota or spending limit is reached ({code}: {message}); raise it in "
                f"the Ark console or wait for it to reset")
    elif code in _ACCOUNT:
        text = f"{what}: Ark refused the account ({code}: {message}); check its balance and permissions"
    elif creating and "SensitiveContent" in code:
        return JobRejected(f"{what}: Ark flagged the prompt or keyframe as sensitive ({code}: {message}): change "
                           f"the scene's prompt or keyframe")
    elif code == "ModelNotOpen":
        text = (f"{unknown_model(entry, 'Volcengine Ark', f'{code}: {message}')}; if the model is current, "
                f"activate it for this account in the Ark console (model activation) first")
    elif code.startswith("InvalidEndpointOrModel") or (creating and error.status == 404):
        text = str(unknown_model(entry, "Volcengine Ark", f"{code}: {message}"))
    elif creating and error.status == 400:
        text = f"{what}: Ark refused the request ({code}: {message}); check the options in {where}"
    else:
        return error
    return ProviderHTTPError(text, error.status, error.body)


def _judge(response: httpx.Response) -> Literal["final"] | None:
    if response.status_code == 429 and str(_error(response.text).get("code")) in _CAPS:
        return "final"  # RateLimitExceeded and ServerOverloaded: the default, retried after a wait
    return None


def _cancel_judge(response: httpx.Response) -> Literal["final"] | None:
    # Ark's refusal to cancel a running task is final whatever its status (409 would be retried by default).
    return "final" if response.status_code in (400, 409) else _judge(response)


def _error(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _tokens(usage: Any) -> float | None:
    value = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return float(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


ADAPTER = SeedanceAdapter()
