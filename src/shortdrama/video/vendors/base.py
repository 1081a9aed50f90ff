"""What a hosted video vendor adapter is: the small protocol between the shared job machinery
(`shortdrama.video.jobs`: job record, fallback chain, poll loop, verified download) and one vendor's
own HTTP API.

An adapter knows only its vendor's wire format: where to submit, how to authenticate, how to read a
status, where the video is, what the vendor's errors mean. Everything that makes hosted generation
safe to kill and rerun lives in the engine, once, for every vendor.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Protocol

import httpx
from pydantic import BaseModel, ValidationError

from ...errors import ProviderError

# What the engine should do with a response before the default rules (2xx ok; 408/409/425/429/5xx retry;
# other 4xx final) apply: "retry" it with backoff, treat it as "final" (an error, not retried), or None.
Judge = Callable[[httpx.Response], "Literal['retry', 'final'] | None"]


@dataclass(frozen=True)
class VendorModel:
    """One entry of a fallback chain, as the preset configures it."""

    base_url: str
    model: str
    api_key_env: str | None
    secret_key_env: str | None = None  # Kling signs a JWT with a second key
    options: Mapping[str, Any] = field(default_factory=dict)  # vendor request fields from the preset
    preset: str | None = None  # "conf/video/kling.yaml": named in errors a preset edit fixes (unknown model)


@dataclass(frozen=True)
class Keys:
    api_key: str | None
    secret_key: str | None = None


@dataclass(frozen=True)
class JobRequest:
    key: str  # the call's cache/request key; names the job record
    prompt: str
    duration: float  # seconds, already rounded up to a length the vendor sells
    width: int
    height: int
    fps: int
    seed: int
    reference_image: Path | None
    negative_prompt: str = ""
    # Video-to-video jobs (lip-sync: shortdrama.lipsync): the clip to change and the track to follow.
    source_video: Path | None = None
    audio: Path | None = None
    with_audio: bool = False  # the clip is to carry the model's own sound (video.own_audio)


@dataclass(frozen=True)
class Submitted:
    job_id: str
    # Facts needed to poll or fetch the job later that are not secrets (fal's status_url and
    # response_url). They are stored in the job record; signed URLs and keys must never go here.
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobState:
    phase: Literal["pending", "succeeded", "failed"]
    status: str = ""  # the vendor's own word ("THROTTLED", "processing"), for logs and the job record
    video_url: str | None = None  # phase == "succeeded": where to download now (it may expire soon)
    reason: str = ""  # phase == "failed": the vendor's message and code, one line
    # phase == "failed": "fallback" tries the next, cheaper model of the chain (an outage, an internal
    # error); "fail" stops the chain with a clear error (a content-policy rejection fails on every model).
    failure: Literal["fallback", "fail"] = "fallback"
    units: float | None = None  # the vendor's own cost figure for the job (Kling units, Seedance tokens...)


class JobRejected(ProviderError):
    """The vendor refused the request itself (content policy, invalid input): no model of the chain will
    do better, so the engine stops and says so instead of falling back."""


class Transport(Protocol):
    """How an adapter sends a request: retries, backoff, deadlines and key redaction are the engine's."""

    def __call__(self, method: str, url: str, *, what: str, judge: Judge | None = None,
                 **kwargs: Any) -> httpx.Response: ...


@dataclass(frozen=True)
class Session:
    """What an adapter may use while handling one chain entry."""

    entry: VendorModel
    keys: Keys
    send: Transport


class VendorAdapter(Protocol):
    name: str  # the provider name in conf/video/*.yaml ("kling")
    supports_recovery: bool  # True when `recover` can find a job whose submit reply was lost
    # True when the vendor deduplicates a create request sent again with the same idempotency key (the
    # seed's gateway): then a create whose reply was lost may simply be sent again.
    idempotent_submit: bool = False
    # The preset settings naming key variables that this API accepts no request without (Kling signs a
    # JWT with both keys): the build's credential check reports them before the first job.
    required_settings: tuple[str, ...] = ()

    def headers(self, session: Session) -> dict[str, str]:
        """Authentication and required headers for requests to the vendor's API (not to its CDN)."""

    def submit(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted:
        """Create the job; return its id. `idempotency_key` is stable for this request key, model and
        attempt: send it where the vendor accepts one (Kling's external_task_id)."""

    def recover(self, session: Session, job: JobRequest, idempotency_key: str) -> Submitted | None:
        """A job an earlier, killed run submitted under `idempotency_key`, or None if the vendor has none.
        Only called when supports_recovery is True."""

    def poll(self, session: Session, record: Mapping[str, Any]) -> JobState:
        """The job's state now. `record` holds "job_id" and the `extra` of `Submitted`."""

    def cancel(self, session: Session, record: Mapping[str, Any]) -> bool:
        """Stop a job the engine gave up on (a timeout). True only when the vendor confirmed it stopped:
        otherwise the job may still finish and bill, so the engine keeps polling it on the next run
        instead of paying for a new one."""

    def validate_options(self, options: Mapping[str, Any]) -> None:
        """Raise ValueError naming the bad option; called when the configuration is validated."""

    # Optional: `audio_problem(model, options) -> str | None`, why the model cannot make a clip with its own
    # sound (None: it can; JobRequest.with_audio then asks for it). An adapter without it makes no sound.


# -- small helpers adapters share ------------------------------------------------------------------

def reply_json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise ProviderError(f"{what}: the reply is not JSON") from None
    if not isinstance(data, dict):
        raise ProviderError(f"{what}: the reply is not a JSON object")
    return data


def body_json(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of an error reply, or {} when it has none."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def image_bytes(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ProviderError(f"{what}: cannot read the reference image {path} ({error.strerror})") from None


def data_uri(path: Path, what: str) -> str:
    mime = "image/jpeg" if Path(path).suffix.lower() in (".jpg", ".jpeg") else "image/png"
    return f"data:{mime};base64,{base64.b64encode(image_bytes(path, what)).decode('ascii')}"


def raw_base64(path: Path, what: str) -> str:
    return base64.b64encode(image_bytes(path, what)).decode("ascii")


def one_line(text: Any, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def text_field(data: Mapping[str, Any], name: str, what: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise ProviderError(f"{what}: the reply has no usable {name}")
    return value


def unknown_model(entry: VendorModel, vendor: str, detail: str) -> ProviderError:
    """The error for a model name the vendor no longer (or never) knew: names the preset to update."""
    where = entry.preset or "the video preset"
    return ProviderError(f"{vendor} does not know the model {entry.model!r} ({one_line(detail, 160)}); "
                         f"model names retire: update `model` in {where} or override video.model=...")


def bearer_headers(session: Session) -> dict[str, str]:
    """`Authorization: Bearer <key>`, the scheme most vendors use."""
    key = session.keys.api_key
    return {"Authorization": f"Bearer {key}"} if key else {}


def required_key(session: Session, vendor: str) -> str:
    """The API key, for a vendor that accepts no request without one (a preset with api_key_env: null)."""
    key = session.keys.api_key
    if not key:
        raise ProviderError(f"video {session.entry.model}: {vendor} needs an API key: set api_key_env in "
                            f"{session.entry.preset or 'the video preset'}")
    return key


def check_options(model: type[BaseModel], options: Mapping[str, Any], vendor: str) -> BaseModel:
    """A preset's `options` validated by the vendor's pydantic model; a ValueError names the first bad one."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as error:
        first = error.errors()[0]
        raise ValueError(f"{vendor} option {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)[:300]
