"""Replicate's predictions API (https://api.replicate.com): any image-to-video model hosted there,
provider `replicate`.

    POST /v1/models/{owner}/{name}/predictions  {"input": {...}}      an official model ("kwaivgi/kling-v2.1")
    POST /v1/predictions {"version": id, "input"}                     a pinned version ("owner/name:<version id>")
        -> 201 prediction {id, status: starting, urls: {get, cancel}, ...}
    GET  /v1/predictions/{id}          -> {status: starting|processing|succeeded|failed|canceled,
                                           output: URL | [URL, ...] | null, error, metrics: {predict_time}}
    POST /v1/predictions/{id}/cancel   -> the prediction: status "canceled", or its end state if it had ended

Every model names its inputs itself, so the preset says which input gets the keyframe (`image_input`)
and which the length, negative prompt and seed (`duration_input`, `negative_prompt_input`, `seed_input`;
"" leaves that one out for a model without it). Any other option is passed through into `input` as is
(kling's `mode`, seedance's `resolution`). Replicate has no idempotency key and no way to look a
prediction up by our key, so a create request is never sent twice on a doubt (resend=False), and a
lost reply stops the build until the user checks the dashboard and says in the job record what to do.

Cost: official models bill per second (or per video) of output: the preset's price table. Models billed
by hardware time report `metrics.predict_time`; it is returned as the job's units and a preset that
runs such a model sets pricing.per_unit to the hardware's USD per second.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Mapping
from urllib.parse import quote

from ...errors import ProviderError
from ...http import ProviderHTTPError
from .base import (JobRequest, JobState, Session, Submitted, VendorModel, bearer_headers, body_json, data_uri, one_line,
                   reply_json, text_field, unknown_model)

_PENDING = {"starting", "processing"}
# Replicate's safety checker and the models' own filters word their refusals like this ("NSFW content
# detected", "input or output was flagged as sensitive (E005)"): a cheaper model would refuse too.
_POLICY = re.compile(r"nsfw|sensitive|flagged|safety|content polic|moderat", re.IGNORECASE)
_INPUT_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}")
# Options naming the input that gets each request field, and their defaults (Kling's names on Replicate).
_FIELD_OPTIONS = {"image_input": "start_image", "duration_input": "duration",
                  "negative_prompt_input": "negative_prompt", "seed_input": "seed"}
_MODEL = re.compile(r"(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+)(?::(?P<version>[0-9a-f]{64}))?")


class ReplicateAdapter:
    name = "replicate"
    required_settings: tuple[str, ...] = ()  # sends requests without a key, if a server allows it
    supports_recovery = False
    idempotent_submit = False  # a create sent again would make (and bill) a second job

    def headers(self, session: Session) -> dict[str, str]:
        return bearer_headers(session)

    def submit(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted:
        entry = session.entry
        what = f"video {entry.model}: submit"
        model = _MODEL.fullmatch(entry.model)
        if model is None:
            raise ProviderError(f"{what}: a Replicate model is named owner/name or owner/name:<64-hex version>; "
                                f"fix `model` in {entry.preset or 'the video preset'}")
        base = entry.base_url.rstrip("/")
        if model["version"]:  # a community model pinned to a version: billed by hardware time
            url, body = f"{base}/v1/predictions", {"version": model["version"], "input": build_input(entry, job, what)}
        else:
            url = f"{base}/v1/models/{quote(model['owner'], safe='')}/{quote(model['name'], safe='')}/predictions"
            body = {"input": build_input(entry, job, what)}
        try:
            # No `Prefer: wait`: a video takes minutes, and the engine records the id before it polls.
            response = session.send("POST", url, what=what, json=body, resend=False)
        except ProviderHTTPError as error:
            raise _explain(entry, error, what, submitting=True) from None
        return Submitted(job_id=text_field(reply_json(response, what), "id", what))

    def recover(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted | None:
        return None  # predictions cannot be listed by a key of ours

    def poll(self, session: Session, record: Mapping[str, Any]) -> JobState:
        entry = session.entry
        what = f"video {entry.model}: prediction {record['job_id']}"
        # Built from base_url rather than the reply's urls.get, so a gateway or a test server is used throughout.
        url = f"{entry.base_url.rstrip('/')}/v1/predictions/{quote(record['job_id'], safe='')}"
        try:
            data = reply_json(session.send("GET", url, what=what), what)
        except ProviderHTTPError as error:
            raise _explain(entry, error, what, submitting=False) from None
        status = data.get("status")
        if status in _PENDING:
            return JobState("pending", status)
        if status == "succeeded":
            return JobState("succeeded", status, video_url=_output_url(data.get("output"), what),
                            units=_predict_time(data.get("metrics")))
        if status == "failed":
            reason = one_line(data.get("error") or "no reason given")
            return JobState("failed", status, reason=reason, failure="fail" if _POLICY.search(reason) else "fallback")
        if status == "canceled":
            # Only a person (the dashboard) or another client cancels our predictions; the engine cancels
            # only after its own timeout and never polls a prediction it cancelled. The clip is still
            # wanted: next model.
            return JobState("failed", status, reason="the prediction was canceled outside this build")
        raise ProviderError(f"{what}: unknown prediction status {str(status)[:40]!r}")

    def cancel(self, session: Session, record: Mapping[str, Any]) -> bool:
        entry = session.entry
        url = f"{entry.base_url.rstrip('/')}/v1/predictions/{quote(record['job_id'], safe='')}/cancel"
        response = session.send("POST", url, what=f"video {entry.model}: cancel prediction {record['job_id']}")
        # Replicate answers with the prediction. "canceled" is a confirmed stop; one that finished in the
        # meantime was not stopped, and the next run polls it (and takes its clip) instead of paying again.
        return body_json(response).get("status") == "canceled"

    def validate_options(self, options: Mapping[str, Any]) -> None:
        for name, value in options.items():
            if not _INPUT_NAME.fullmatch(str(name)):
                raise ValueError(f"replicate option {name!r}: input names are lower_snake_case")
            if not isinstance(value, (str, int, float, bool)):
                raise ValueError(f"replicate option {name}: {type(value).__name__} is not a string, number or bool")
            names_an_input = isinstance(value, str) and (value == "" or _INPUT_NAME.fullmatch(value))
            if name in _FIELD_OPTIONS and not names_an_input:
                raise ValueError(f"replicate option {name}: the name of one of the model's inputs "
                                 f"(\"\" to leave it out)")
        if options.get("image_input", "start_image") == "":
            raise ValueError("replicate option image_input: an image-to-video model needs the keyframe's input name")
        named = [n for n in _field_names(options).values() if n]
        if len(set(named)) < len(named) or "prompt" in named:
            raise ValueError(f"replicate options {', '.join(_FIELD_OPTIONS)}: each names a different input, "
                             f"and none is `prompt`")
        filled = {"prompt", *named}
        for name in options:
            if name not in _FIELD_OPTIONS and name in filled:
                raise ValueError(f"replicate option {name}: this input is filled from the scene; "
                                 f"it cannot be set in the preset")


def build_input(entry: VendorModel, job: JobRequest, what: str) -> dict[str, Any]:
    """The prediction's `input`: the scene's fields under the model's own input names, then pass-through options."""
    names = _field_names(entry.options)
    values: dict[str, Any] = {"prompt": job.prompt}
    if job.reference_image is None:
        raise ProviderError(f"{what}: image-to-video needs the scene's keyframe")
    # A data URI: Replicate accepts one for a file input; keyframes are a few hundred KB.
    values[names["image_input"]] = data_uri(job.reference_image, what)
    if names["duration_input"]:
        values[names["duration_input"]] = whole_seconds(job.duration, entry, what)
    if names["negative_prompt_input"] and job.negative_prompt:
        values[names["negative_prompt_input"]] = job.negative_prompt
    if names["seed_input"]:
        values[names["seed_input"]] = job.seed
    values.update({k: v for k, v in entry.options.items() if k not in _FIELD_OPTIONS})
    return values


def whole_seconds(duration: float, entry: VendorModel, what: str) -> int:
    seconds = round(duration)
    if seconds < 1 or not math.isclose(seconds, duration, abs_tol=1e-6):
        raise ProviderError(f"{what}: {duration:g} s is not a length the model sells; list its lengths in "
                            f"pricing.billing_seconds of {entry.preset or 'the video preset'}")
    return seconds


def _field_names(options: Mapping[str, Any]) -> dict[str, str]:
    return {option: str(options.get(option, default)) for option, default in _FIELD_OPTIONS.items()}


def _explain(entry: VendorModel, error: ProviderHTTPError, what: str, submitting: bool) -> ProviderHTTPError:
    """Replicate's error replies ({"detail", "status", "title"?, "invalid_fields"?}) as what to do next. Still a
    ProviderHTTPError with the status: the engine then records a refused create as not submitted."""
    if error.maybe_accepted:
        return error  # the engine reports the doubt and keeps the job record
    body = json_object(error.body)
    detail = one_line(body.get("detail") or body.get("title") or error.body, 200)
    if error.status == 401:
        message = f"{what}: Replicate refused the token in {entry.api_key_env} (HTTP 401: {detail})"
    elif error.status == 402:
        message = (f"{what}: Replicate says the account has no credit left (HTTP 402: {detail}); "
                   f"add credit or a payment method before rerunning")
    elif error.status == 404 and submitting:  # the create URL names the model: only it can be unknown
        message = str(unknown_model(entry, "Replicate", detail))
    elif error.status == 422:
        fields = ", ".join(one_line(f.get("field", f) if isinstance(f, dict) else f, 60)
                           for f in body.get("invalid_fields") or [])
        message = (f"{what}: Replicate refused the input ({detail}{'; fields: ' + fields if fields else ''}); "
                   f"check the input names and options in {entry.preset or 'the video preset'} against the "
                   f"model's API page")
    else:
        return error
    return ProviderHTTPError(message, error.status, error.body)


def json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _output_url(output: Any, what: str) -> str:
    """A video model's output is one URL; some return a list (the clip, then extras): the first is the clip."""
    if isinstance(output, list):
        output = next((item for item in output if isinstance(item, str) and item.strip()), None)
    if not isinstance(output, str) or not output.strip():
        raise ProviderError(f"{what}: succeeded without an output URL")
    return output


def _predict_time(metrics: Any) -> float | None:
    value = metrics.get("predict_time") if isinstance(metrics, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None


ADAPTER = ReplicateAdapter()
