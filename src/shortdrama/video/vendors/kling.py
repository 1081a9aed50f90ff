"""Kling's own API (https://api-singapore.klingai.com): image-to-video, provider `kling`.

    POST /v1/videos/image2video        {model_name, image (raw base64), prompt, negative_prompt, duration "5"|"10",
                                        mode, cfg_scale, external_task_id, sound "on"|"off" (kling-v2-6+, pro:
                                        the clip carries generated speech and sound)}
                                       -> {code: 0, data: {task_id, task_status}}
    GET  /v1/videos/image2video/{id}   id = task_id or external_task_id
                                       -> {code: 0, data: {task_status, task_status_msg, final_unit_deduction,
                                                           task_result: {videos: [{url, duration}]}}}

Authentication is a JWT (HS256) signed with the secret key, claims iss = access key, exp = now + 30 min,
nbf = now - 5 s, made fresh for every request. Every reply carries a numeric `code` (0 = ok); the
1300s are policy and rate limits. The `external_task_id` we send is our idempotency key, so a job whose
submit reply was lost (a killed build, a dropped connection) is found again instead of paid twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any, Literal, Mapping
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field

from ...errors import ProviderError
from ...http import ProviderHTTPError
from .base import (JobRejected, JobRequest, JobState, Session, Submitted, check_options, one_line, raw_base64,
                   reply_json, unknown_model)

TOKEN_LIFETIME_S = 1800
_POLICY = {1301}  # the content safety system refused the input
_ACCOUNT = {1100, 1101, 1102, 1103, 1304}  # account problem, arrears, no resource pack left, not allowed, IP list
_UNKNOWN_RESOURCE = 1203
_PENDING = {"submitted", "processing"}
# A task that fails on Kling's risk control fails on every model: the words its message uses for that.
_POLICY_WORDS = ("risk", "safety", "sensitive", "violat", "inappropriate", "moderation", "policy")
MAX_PROMPT_CHARS = 2500


class KlingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["std", "pro"] = "std"  # pro: higher quality, about 1.75x the units
    cfg_scale: float = Field(default=0.5, ge=0.0, le=1.0)  # how closely to follow the prompt
    endpoint: Literal["image2video"] = "image2video"


class KlingAdapter:
    name = "kling"
    required_settings = ("api_key_env", "secret_key_env")
    supports_recovery = True
    idempotent_submit = False  # a repeated external_task_id is refused, not answered with the task

    def headers(self, session: Session) -> dict[str, str]:
        access, secret = session.keys.api_key, session.keys.secret_key
        if not access or not secret:
            raise ProviderError(f"video {session.entry.model}: Kling needs both an access key and a secret key: "
                                f"set api_key_env and secret_key_env in {session.entry.preset or 'the video preset'}")
        return {"Authorization": f"Bearer {jwt_token(access, secret)}"}

    def submit(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted:
        entry = session.entry
        options = KlingOptions.model_validate(dict(entry.options))
        what = f"video {entry.model}: submit"
        body: dict[str, Any] = {
            "model_name": entry.model, "prompt": job.prompt[:MAX_PROMPT_CHARS],
            "negative_prompt": job.negative_prompt[:MAX_PROMPT_CHARS], "cfg_scale": options.cfg_scale,
            "mode": options.mode, "duration": str(int(round(job.duration))), "external_task_id": idempotency_key,
        }
        if job.with_audio:  # speech, effects and ambience made with the picture (kling-v2-6 and later, pro)
            body["sound"] = "on"
        if job.reference_image is None:
            raise ProviderError(f"{what}: image-to-video needs the scene's keyframe")
        body["image"] = raw_base64(job.reference_image, what)  # Kling wants no data: prefix
        try:
            response = session.send("POST", self._url(session), what=what, json=body, judge=_judge, resend=False)
        except ProviderHTTPError as error:
            raise self._explain(session, error, creating=True) from None
        data = self._data(response, what)
        task_id = data.get("task_id")
        if not isinstance(task_id, str) or not task_id.strip():
            raise ProviderError(f"{what}: the reply has no task_id")
        return Submitted(job_id=task_id)

    def recover(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted | None:
        what = f"video {session.entry.model}: look up {idempotency_key}"
        try:
            response = session.send("GET", f"{self._url(session)}/{quote(idempotency_key, safe='')}", what=what,
                                    judge=_judge)
        except ProviderHTTPError as error:
            if error.status in (400, 404) and _code(error.body) in (1201, _UNKNOWN_RESOURCE, None):
                return None  # Kling holds no task under our id: the submit never arrived
            raise self._explain(session, error) from None
        task_id = self._data(response, what).get("task_id")
        return Submitted(job_id=task_id) if isinstance(task_id, str) and task_id.strip() else None

    def poll(self, session: Session, record: Mapping[str, Any]) -> JobState:
        what = f"video {session.entry.model}: task {record['job_id']}"
        try:
            response = session.send("GET", f"{self._url(session)}/{quote(record['job_id'], safe='')}", what=what,
                                    judge=_judge)
        except ProviderHTTPError as error:
            raise self._explain(session, error) from None
        data = self._data(response, what)
        status = data.get("task_status")
        if status in _PENDING:
            return JobState("pending", status)
        if status == "failed":
            reason = one_line(data.get("task_status_msg") or "no reason given")
            policy = any(word in reason.lower() for word in _POLICY_WORDS)
            return JobState("failed", status, reason=reason, failure="fail" if policy else "fallback")
        if status == "succeed":
            videos = (data.get("task_result") or {}).get("videos") or []
            url = videos[0].get("url") if videos and isinstance(videos[0], dict) else None
            if not isinstance(url, str) or not url.strip():
                raise ProviderError(f"{what}: succeeded without a video URL")
            return JobState("succeeded", status, video_url=url, units=_units(data.get("final_unit_deduction")))
        raise ProviderError(f"{what}: unknown task_status {str(status)[:40]!r}")

    def cancel(self, session: Session, record: Mapping[str, Any]) -> bool:
        return False  # Kling's API has no cancel call: a task runs to its end

    def validate_options(self, options: Mapping[str, Any]) -> None:
        check_options(KlingOptions, options, "kling")

    def audio_problem(self, model: str, options: Mapping[str, Any]) -> str | None:
        """Kling makes sound (`sound: "on"`) from kling-v2-6 on, in pro mode only."""
        version = re.fullmatch(r"kling-v(\d+)(?:-(\d+))?", model)
        if not version or (int(version[1]), int(version[2] or 0)) < (2, 6):
            return f"Kling makes sound from kling-v2-6 on, not with {model}: set video.model=kling-v2-6"
        if KlingOptions.model_validate(dict(options)).mode != "pro":
            return "Kling makes sound in pro mode only: set video.options.mode=pro"
        return None

    # -- plumbing --------------------------------------------------------------------------------------

    def _url(self, session: Session) -> str:
        endpoint = KlingOptions.model_validate(dict(session.entry.options)).endpoint
        return f"{session.entry.base_url.rstrip('/')}/v1/videos/{endpoint}"

    def _data(self, response: httpx.Response, what: str) -> dict[str, Any]:
        reply = reply_json(response, what)
        if reply.get("code") != 0:
            raise ProviderError(f"{what}: Kling code {reply.get('code')}: {one_line(reply.get('message'), 200)}")
        data = reply.get("data")
        if not isinstance(data, dict):
            raise ProviderError(f"{what}: the reply has no data object")
        return data

    def _explain(self, session: Session, error: ProviderHTTPError, creating: bool = False) -> ProviderError:
        """Kling's error codes in words. Refusals stay ProviderHTTPErrors (the engine records that the
        job was not created); a content-policy refusal is a JobRejected (no cheaper model would pass)."""
        code, message = _code(error.body), one_line(body_json_text(error.body).get("message") or "", 200)
        if creating and (code == _UNKNOWN_RESOURCE or (code == 1201 and "model" in message.lower())):
            text = str(unknown_model(session.entry, "Kling", message or error.body))
        elif code in _POLICY:
            return JobRejected(f"Kling refused the request (code {code}: {message}): change the scene's prompt "
                               f"or keyframe")
        elif code in _ACCOUNT:
            text = (f"Kling refused the account (code {code}: {message}): check the resource packs and limits "
                    f"of the account behind {session.entry.api_key_env}")
        elif code in (1000, 1001, 1002, 1003, 1004):
            text = (f"Kling rejected the credentials (code {code}: {message}): check {session.entry.api_key_env} "
                    f"and {session.entry.secret_key_env}")
        else:
            return error
        return ProviderHTTPError(text, error.status, error.body)


def jwt_token(access_key: str, secret_key: str, now: float | None = None) -> str:
    """The JWT Kling expects: HS256 over {iss, exp, nbf}, made here rather than with a JWT library."""
    issued = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"iss": access_key, "exp": issued + TOKEN_LIFETIME_S, "nbf": issued - 5}
    signing_input = f"{_b64(json.dumps(header, separators=(',', ':')))}.{_b64(json.dumps(claims, separators=(',', ':')))}"
    signature = hmac.new(secret_key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _judge(response: httpx.Response) -> str | None:
    if response.status_code == 429:
        # 1302 (request rate) passes in a moment; 1303 (parallel tasks) only when one of the account's
        # tasks ends: back off from 1 s, as Kling's docs say. Arrears and the IP allow-list do not pass.
        code = _code(response.text)
        return "retry" if code == 1302 else "backoff" if code == 1303 else "final"
    return None


def body_json_text(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _code(text: str) -> int | None:
    code = body_json_text(text).get("code")
    return code if isinstance(code, int) else None


def _units(value: Any) -> float | None:
    try:
        units = float(value)
    except (TypeError, ValueError):
        return None
    return units if units >= 0 else None


ADAPTER = KlingAdapter()
