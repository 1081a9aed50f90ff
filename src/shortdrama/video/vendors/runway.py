"""Runway's own API (https://api.dev.runwayml.com): image-to-video tasks, provider `runway`.

    POST   /v1/image_to_video  {model, promptImage (https URL or data URI <= 5 MB), promptText (<= 1000),
                                ratio "720:1280", duration 5|10, seed 0..2**32-1}  -> {"id": "<uuid>"}
    GET    /v1/tasks/{id}      -> {id, status: PENDING|THROTTLED|RUNNING|SUCCEEDED|FAILED|CANCELLED,
                                   progress?, output: ["https://...mp4"], failure, failureCode}
    DELETE /v1/tasks/{id}      -> 204: cancel a running task (or delete a finished one)

Every request carries `Authorization: Bearer <key>` and the API version header `X-Runway-Version`
(without it Runway answers 400). THROTTLED is Runway's queue for tasks beyond the organisation's
concurrency, not an error. A 429 whose error speaks of the daily limit is the organisation's daily task
cap: no retry within this run helps. Runway takes no idempotency key and cannot list tasks by anything of
ours, so a submit whose reply was lost cannot be found again (supports_recovery False; the create call
is only resent when it surely did not arrive). Output URLs expire within 24-48 hours: the engine
downloads them at once. Runway reports no cost per task; the preset's price table prices each clip.
"""

from __future__ import annotations

import base64
import io
import json
import math
from typing import Any, Literal, Mapping
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field

from ...errors import ProviderError
from ...http import ProviderHTTPError
from .base import (JobRejected, JobRequest, JobState, Session, Submitted, check_options, data_uri, image_bytes,
                   one_line, reply_json, required_key, text_field, unknown_model)

API_VERSION = "2024-11-06"
MAX_PROMPT_UTF16 = 1000  # Runway counts promptText in UTF-16 code units, as JavaScript does
MAX_DATA_URI_BYTES = 5 * 1000 * 1000
MAX_SEED = 2**32 - 1
_PENDING = {"PENDING", "THROTTLED", "RUNNING"}
# The output sizes each image-to-video model accepts; a model not listed is assumed to take Gen-4's.
_GEN4_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
RATIOS: dict[str, tuple[str, ...]] = {
    "gen4_turbo": _GEN4_RATIOS,
    "gen4.5": _GEN4_RATIOS,
    "gen3a_turbo": ("1280:768", "768:1280"),
    "veo3": ("1280:720", "720:1280"),
    "veo3.1": ("1280:720", "720:1280", "1080:1920", "1920:1080"),
    "veo3.1_fast": ("1280:720", "720:1280", "1080:1920", "1920:1080"),
}


class RunwayOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # "auto": the accepted output size nearest the render's aspect (720:1280 for a 9:16 render).
    ratio: str = Field(default="auto", pattern=r"^(auto|\d{2,4}:\d{2,4})$")
    # contentModeration.publicFigureThreshold: "low" is less strict about faces that look like public figures.
    public_figure_threshold: Literal["auto", "low"] = "auto"


class RunwayAdapter:
    name = "runway"
    required_settings = ("api_key_env",)
    supports_recovery = False
    idempotent_submit = False  # a create sent again would make (and bill) a second job

    def headers(self, session: Session) -> dict[str, str]:
        key = required_key(session, "Runway")
        return {"Authorization": f"Bearer {key}", "X-Runway-Version": API_VERSION}

    def submit(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted:
        entry = session.entry
        what = f"video {entry.model}: submit"
        body = self._body(session, job, what)
        try:
            response = session.send("POST", f"{self._base(session)}/v1/image_to_video", what=what, json=body,
                                    judge=_judge, resend=False)
        except ProviderHTTPError as error:
            raise self._explain(session, error) from None
        return Submitted(job_id=text_field(reply_json(response, what), "id", what))

    def recover(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted | None:
        return None  # Runway keeps nothing of ours on a task to find it by

    def poll(self, session: Session, record: Mapping[str, Any]) -> JobState:
        what = f"video {session.entry.model}: task {record['job_id']}"
        try:
            response = session.send("GET", self._task_url(session, record), what=what, judge=_judge)
        except ProviderHTTPError as error:
            raise self._explain(session, error) from None
        data = reply_json(response, what)
        status = data.get("status")
        if status in _PENDING:
            progress = data.get("progress")
            shown = f"{status} {progress:.0%}" if isinstance(progress, (int, float)) and status == "RUNNING" else status
            return JobState("pending", str(shown))
        if status == "SUCCEEDED":
            output = data.get("output")
            url = output[0] if isinstance(output, list) and output else None
            if not isinstance(url, str) or not url.strip():
                raise ProviderError(f"{what}: succeeded without an output URL")
            return JobState("succeeded", status, video_url=url)
        if status in ("FAILED", "CANCELLED"):
            code = str(data.get("failureCode") or "")
            message = data.get("failure") or ("the task was cancelled" if status == "CANCELLED" else "no reason given")
            reason = one_line(f"{message} ({code})" if code else message)
            return JobState("failed", status, reason=reason, failure=failure_kind(code))
        raise ProviderError(f"{what}: unknown task status {str(status)[:40]!r}")

    def cancel(self, session: Session, record: Mapping[str, Any]) -> bool:
        what = f"video {session.entry.model}: cancel task {record['job_id']}"
        session.send("DELETE", self._task_url(session, record), what=what, judge=_judge)
        return True  # the vendor accepted the cancel (an error answer raises)

    def validate_options(self, options: Mapping[str, Any]) -> None:
        check_options(RunwayOptions, options, "runway")

    # -- plumbing --------------------------------------------------------------------------------------

    def _body(self, session: Session, job: JobRequest, what: str) -> dict[str, Any]:
        """The create request. Problems found here raise JobRejected: nothing was sent, nothing billed."""
        entry = session.entry
        options = RunwayOptions.model_validate(dict(entry.options))
        if job.reference_image is None:
            raise JobRejected(f"{what}: Runway's image-to-video needs the scene's keyframe (none was given)")
        try:
            image = keyframe_uri(job.reference_image, what)
        except ProviderError as error:
            raise JobRejected(str(error)) from None
        body: dict[str, Any] = {
            "model": entry.model, "promptImage": image,
            "ratio": options.ratio if options.ratio != "auto" else nearest_ratio(entry.model, job.width, job.height),
            "duration": int(round(job.duration)), "seed": job.seed % (MAX_SEED + 1),
        }
        prompt = truncate_prompt(job.prompt)
        if prompt:
            body["promptText"] = prompt
        if options.public_figure_threshold != "auto":
            body["contentModeration"] = {"publicFigureThreshold": options.public_figure_threshold}
        # Runway's image-to-video has no negative prompt: job.negative_prompt is not sent.
        return body

    def _base(self, session: Session) -> str:
        return session.entry.base_url.rstrip("/")

    def _task_url(self, session: Session, record: Mapping[str, Any]) -> str:
        return f"{self._base(session)}/v1/tasks/{quote(str(record['job_id']), safe='')}"

    def _explain(self, session: Session, error: ProviderHTTPError) -> ProviderError:
        """Runway's error replies in words a user can act on. Errors found at submit stay ProviderHTTPError,
        so the engine records that the task was not created."""
        entry = session.entry
        message = _error_text(error.body)
        if error.status == 400 and _about_model(error.body):
            explained = str(unknown_model(entry, "Runway", message or error.body))
        elif error.status == 429:
            explained = (f"Runway's daily task limit for the organisation is reached ({message}); "
                         f"no retry within this run helps: wait for the limit to reset or raise the usage tier")
        elif error.status == 401:
            explained = f"Runway rejected the API key ({message}): check {entry.api_key_env}"
        elif error.status == 400 and "version" in message.lower():
            explained = f"Runway refused the API version {API_VERSION} ({message}): update runway.API_VERSION"
        else:
            return error
        return ProviderHTTPError(f"video {entry.model}: {explained}", error.status, error.body,
                                 maybe_accepted=error.maybe_accepted)


def failure_kind(code: str) -> Literal["fallback", "fail"]:
    """A safety refusal (SAFETY.INPUT.TEXT, INPUT_PREPROCESSING.SAFETY.TEXT, ...) fails on every model;
    anything else (INTERNAL.*, ASSET.INVALID, an unknown code) may pass on the next model of the chain."""
    return "fail" if "SAFETY" in code.upper().split(".") else "fallback"


def nearest_ratio(model: str, width: int, height: int) -> str:
    """The output size the model accepts whose aspect is nearest the render's (conform scales the rest)."""
    wanted = math.log(max(width, 1) / max(height, 1))

    def distance(ratio: str) -> float:
        w, h = (int(n) for n in ratio.split(":"))
        return abs(math.log(w / h) - wanted)

    return min(RATIOS.get(model, _GEN4_RATIOS), key=distance)


def truncate_prompt(prompt: str) -> str:
    """At most MAX_PROMPT_UTF16 UTF-16 units, cut at a word boundary when one is near the end."""
    text = prompt.strip()
    units, end = 0, 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1  # a character outside the BMP is a surrogate pair
        if units > MAX_PROMPT_UTF16:
            break
        end = index + 1
    if end == len(text):
        return text
    cut = text[:end]
    space = cut.rfind(" ")
    return (cut[:space] if space > len(cut) - 80 else cut).rstrip(" ,;")


def keyframe_uri(path: Any, what: str) -> str:
    """The keyframe as a data URI under Runway's 5 MB limit: as it is, or re-encoded as a JPEG."""
    uri = data_uri(path, what)
    if len(uri) <= MAX_DATA_URI_BYTES:
        return uri
    from PIL import Image

    with Image.open(io.BytesIO(image_bytes(path, what))) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=90)
    uri = f"data:image/jpeg;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"
    if len(uri) > MAX_DATA_URI_BYTES:
        raise ProviderError(f"{what}: the keyframe {path} is over Runway's 5 MB data URI limit even as a JPEG")
    return uri


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error_text(body: str) -> str:
    """Runway's error reply: {"error": "...", "issues"?: [{"path": [...], "message": "..."}]} in one line."""
    data = _json_object(body)
    issues = data.get("issues") if isinstance(data.get("issues"), list) else []
    details = "; ".join(one_line(i.get("message", ""), 120) for i in issues if isinstance(i, dict))
    error = one_line(data.get("error") or "", 200)
    return f"{error}: {details}" if error and details else error or details or one_line(body, 200)


def _about_model(body: str) -> bool:
    data = _json_object(body)
    issues = data.get("issues")
    if isinstance(issues, list) and issues:
        return any(isinstance(i, dict) and (i.get("path") or [None])[0] == "model" for i in issues)
    return "model" in str(data.get("error", "")).lower()


def _judge(response: httpx.Response) -> str | None:
    # A plain 429 is a rate limit that passes; the daily task cap does not pass within a build.
    if response.status_code == 429 and "daily" in response.text.lower():
        return "final"
    return None


ADAPTER = RunwayAdapter()
