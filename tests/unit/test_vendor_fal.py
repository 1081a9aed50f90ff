"""fal.ai's queue (Pika image-to-video) through the shared job engine, against a fake fal on 127.0.0.1: the
vendor contract (tests/unit/vendor_contract.py) and what only fal's queue does (returned URLs, 202s, Key auth,
results that fail after COMPLETED, signals to running requests)."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from PIL import Image

from fakes.fal_server import FakeFal, detail
from fakes.vendor_base import Fault, Outcome
from fakes.vendor_checks import assert_delivered, record
from shortdrama.config import BudgetConfig, load_config
from shortdrama.cost.call import Call, Runtime
from shortdrama.errors import ConfigError, ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.media import probe
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors import adapter
from shortdrama.video.vendors.base import JobRejected, JobRequest, VendorModel, data_uri
from shortdrama.video.vendors.fal import ADAPTER
from vendor_contract import CancelledAtTheTimeout, LostCreatesWaitForTheUser, VendorContract

KEY = "fal-key-id-3b7e:fal-secret-91c4d2"
ENV = "FAL_KEY"
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_total_s=20, request_timeout_s=2.0)
PRESET = "conf/video/pika_fal.yaml"
PIKA, PIKA_21 = "fal-ai/pika/v2.2/image-to-video", "fal-ai/pika/v2.1/image-to-video"
POLICY = {"status_code": 422, "detail": [{"loc": ["body", "prompt"], "type": "content_policy_violation",
                                           "msg": "The content was flagged by a content checker.",
                                           "categories": ["violence"]}]}


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv(ENV, KEY)


@pytest.fixture
def keyframe(tmp_path) -> Path:
    path = tmp_path / "keyframe.png"
    Image.new("RGB", (9, 16), "navy").save(path)
    return path


def engine(fake: FakeFal, job_dir: Path, *models: str, sleep=lambda s: None, options=None, **changes) -> JobEngine:
    chain = [ChainEntry(ADAPTER, VendorModel(fake.base_url, model, ENV, options=options or {}, preset=PRESET))
             for model in (models or (PIKA,))]
    values = dict(poll_interval_s=0.01, job_timeout_s=10.0, retry=FAST, duration_tolerance_s=0.3)
    values.update(changes)
    return JobEngine(chain, EngineSettings(**values), job_dir, sleep=sleep)


def job(keyframe: Path, key: str = "clip-0001", width: int = 720, height: int = 1280) -> JobRequest:
    return JobRequest(key=key, prompt="Mara opens the letter; slow push-in", duration=5.0, width=width, height=height,
                      fps=24, seed=7, reference_image=keyframe, negative_prompt="blurry, watermark")


class TestFal(LostCreatesWaitForTheUser, CancelledAtTheTimeout, VendorContract):
    vendor, env, preset = "fal", {ENV: KEY}, PRESET
    models = (PIKA, PIKA_21)
    auth_scheme = "Key"
    poll_route = "status"
    failures = (("runner disconnected", Outcome(result="failed", error={"error": "Runner disconnected",
                                                                        "error_type": "runner_disconnected"}),
                 "Runner disconnected (runner_disconnected)", "COMPLETED"),)
    refusals = (("content policy", Outcome(result="failed", error=POLICY), "content_policy_violation"),)
    echo_fault = Fault.http(400, {"detail": f"cannot parse Authorization: Key {KEY}"})
    unknown_model = "fal-ai/pika/v0.9/image-to-video"
    wrong_env = {ENV: "fal-wrong:secret-x"}
    wrong_key_shows = f"fal rejected the key.*check {ENV}"
    fresh_url_routes = ("result",)  # the recorded response_url, asked again
    rate_limited = {"submit": (Fault.http(429, {"detail": "Rate limit exceeded"}, retry_after=0.5),)}
    account_refusal = Fault.http(403, {"detail": "User is locked. Reason: Exhausted balance. Top up your balance at "
                                                 "fal.ai/dashboard/billing."})
    account_refusal_shows = f"fal refused the account.*Exhausted balance.*{ENV}"
    # fal removes a request still IN_QUEUE: it never runs, nothing is billed.
    cancel_method, cancel_timeout, cancelled_while = "PUT", 0.01, "IN_QUEUE #0"

    engine = staticmethod(engine)

    def fake(self, **options) -> FakeFal:
        return FakeFal(api_key=KEY, **options)

    def job_id(self, fake: FakeFal, job) -> str:
        return fake.request_id(job)

    def failure_saying(self, text: str) -> Outcome:
        return Outcome(result="failed", error={"status_code": 500, "detail": text})

    def check_backoff(self, sleeps: list[float]) -> None:
        assert sleeps[0] == 0.5  # the Retry-After, not the 0.01 s base delay


def test_a_clip_is_made_through_fal_s_queue_with_the_urls_it_returns(tmp_path, keyframe):
    with FakeFal(api_key=KEY, default=Outcome(pending_polls=2)) as fal:
        result = engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    [request] = fal.submissions
    body = request.body
    assert (request.model, body["resolution"], body["duration"], body["seed"], body["negative_prompt"]) == \
        (PIKA, "720p", 5, 7, "blurry, watermark")
    head, data = body["image_url"].split(",", 1)
    assert head == "data:image/png;base64" and base64.b64decode(data) == keyframe.read_bytes()
    ident = fal.request_id(request)
    # "Key <FAL_KEY>" on every request, or the fake answers 401; the key went to the queue only, never to the media host
    rec = assert_delivered(fal, result, tmp_path / "jobs", tmp_path / "clip.mp4", 5.0, "fal", ident, KEY)
    # IN_QUEUE, IN_PROGRESS, COMPLETED, then the result; status lives under fal-ai/pika, without "/v2.2/...".
    assert [r.path for r in fal.of("status")] == [f"/fal-ai/pika/requests/{ident}/status"] * 3
    assert [r.path for r in fal.of("result")] == [f"/fal-ai/pika/requests/{ident}"]
    assert result.units is None and rec["vendor_status"] == "COMPLETED"
    assert rec["extra"] == {"status_url": f"{fal.base_url}/fal-ai/pika/requests/{ident}/status",
                            "response_url": f"{fal.base_url}/fal-ai/pika/requests/{ident}",
                            "cancel_url": f"{fal.base_url}/fal-ai/pika/requests/{ident}/cancel"}


def test_the_fake_answers_like_fal_to_a_subpath_or_a_bearer_key(tmp_path, keyframe):
    with FakeFal(api_key=KEY) as fal:
        engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
        ident = fal.request_id(fal.submissions[0])
        auth = {"Authorization": f"Key {KEY}"}
        appended = httpx.get(f"{fal.base_url}/{PIKA}/requests/{ident}/status", headers=auth)
        bearer = httpx.get(f"{fal.base_url}/fal-ai/pika/requests/{ident}/status",
                           headers={"Authorization": f"Bearer {KEY}"})
    assert appended.status_code == 404
    assert bearer.status_code == 401 and "Key" in bearer.json()["detail"]


def test_the_queue_answers_202_while_a_request_waits_or_runs(tmp_path, keyframe):
    # As the real queue: 202 for the submit and for IN_QUEUE / IN_PROGRESS status calls, 200 once completed.
    with FakeFal(api_key=KEY, default=Outcome(pending_polls=2)) as fal:
        auth = {"Authorization": f"Key {KEY}"}
        submitted = httpx.post(f"{fal.base_url}/{PIKA}", headers=auth,
                               json={"prompt": "p", "image_url": data_uri(keyframe, "keyframe")})
        answers = [httpx.get(submitted.json()["status_url"], headers=auth) for _ in range(3)]
    assert submitted.status_code == 202
    assert [(a.status_code, a.json()["status"]) for a in answers] == [
        (202, "IN_QUEUE"), (202, "IN_PROGRESS"), (200, "COMPLETED")]


def test_a_failed_result_is_the_request_s_answer_not_retried_and_falls_back(tmp_path, keyframe):
    # The status said COMPLETED; the result URL answers the failure (a 500 with a detail): not a server error
    # to retry, the request's own outcome.
    failed_result = Outcome(result="failed", error={"status_code": 500, "detail": "CUDA out of memory"})
    with FakeFal(api_key=KEY, outcomes={PIKA: failed_result}) as fal:
        result = engine(fal, tmp_path / "jobs3", PIKA, PIKA_21).generate(job(keyframe), tmp_path / "c.mp4")
        assert len(fal.of("result")) == 2  # the 500 with a detail is the request's answer, not retried
    assert result.model == PIKA_21 and "CUDA out of memory" in record(tmp_path / "jobs3")["history"][0]["error"]


def test_a_result_not_ready_just_after_completed_is_polled_again(tmp_path, keyframe):
    with FakeFal(api_key=KEY) as fal:
        fal.fault("result", Fault.http(400, {"detail": "Request is still in progress"}))
        result = engine(fal, tmp_path / "jobs", PIKA, PIKA_21).generate(job(keyframe), tmp_path / "c.mp4")
    assert result.model == PIKA and len(fal.submissions) == 1 and len(fal.of("result")) == 2


def test_a_path_that_is_not_a_fal_model_id_is_refused_before_sending(tmp_path, keyframe):
    with FakeFal(api_key=KEY) as fal:
        with pytest.raises(JobRejected, match="not a fal model id"):
            engine(fal, tmp_path / "jobs2", "fal-ai/../admin").generate(job(keyframe), tmp_path / "c.mp4")
    assert fal.submissions == [] and fal.of("submit") == []
    assert record(tmp_path / "jobs2")["status"] == "not_submitted"


def test_a_bad_input_is_fal_s_422_in_one_line(tmp_path, keyframe):
    with FakeFal(api_key=KEY) as fal:
        fal.fault("submit", Fault.http(422, detail("duration", "Input should be 5 or 10", "literal_error")))
        with pytest.raises(ProviderError, match="HTTP 422.*Input should be 5 or 10"):
            engine(fal, tmp_path / "jobs", PIKA, PIKA_21).generate(job(keyframe), tmp_path / "c.mp4")
    assert record(tmp_path / "jobs")["status"] == "not_submitted"


def test_urls_on_another_host_never_get_the_key(tmp_path, keyframe):
    elsewhere = "http://127.0.0.2:9/fal-ai/pika/requests/r-1"
    with FakeFal(api_key=KEY) as fal:
        fal.fault("submit", Fault.http(200, {"request_id": "r-1", "status_url": f"{elsewhere}/status",
                                                   "response_url": elsewhere, "cancel_url": f"{elsewhere}/cancel"}))
        with pytest.raises(ProviderError, match="request r-1.*another host.*refusing to send the key"):
            engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
    assert [r.route for r in fal.requests] == ["submit"]


def test_a_request_in_progress_past_the_timeout_is_polled_again_never_paid_twice(tmp_path, keyframe):
    # A request IN_PROGRESS only gets a cancellation signal, which the model's app may ignore (the fake's
    # does): it may still finish and bill, so the next run polls it instead of paying for another.
    with FakeFal(api_key=KEY, default=Outcome(pending_polls=8)) as fal:
        with pytest.raises(ProviderError, match="could not cancel it: the next run polls the same job"):
            engine(fal, tmp_path / "jobs", poll_interval_s=0.1, job_timeout_s=0.5).generate(job(keyframe),
                                                                                              tmp_path / "c.mp4")
        ident = fal.request_id(fal.submissions[0])
        assert record(tmp_path / "jobs")["status"] == "overdue" and fal.cancel_signals == [ident]
        result = engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
    assert len(fal.submissions) == 1 and result.job_id == ident
    assert abs(probe(tmp_path / "c.mp4").duration - 5.0) < 0.3


def test_resolution_follows_the_render_unless_the_preset_fixes_it(tmp_path, keyframe):
    with FakeFal(api_key=KEY) as fal:
        engine(fal, tmp_path / "jobs").generate(job(keyframe, width=1080, height=1920), tmp_path / "c.mp4")
        engine(fal, tmp_path / "jobs", options={"resolution": "720p"}).generate(
            job(keyframe, key="clip-0002", width=1080, height=1920), tmp_path / "c2.mp4")
    assert [r.body["resolution"] for r in fal.submissions] == ["1080p", "720p"]


def test_the_preset_composes_and_prices_a_clip_through_calls(tmp_path, keyframe, monkeypatch):
    from shortdrama.stages.clips import ClipSpec, hosted_clip
    with FakeFal(api_key=KEY, default=Outcome(pending_polls=1)) as fal:
        monkeypatch.setenv("FAL_QUEUE_URL", fal.base_url)
        video = load_config(["video=pika_fal", "video.poll_interval_s=0.01"]).video
        assert (video.provider, video.api_key_env, video.preset, video.model) == ("fal", ENV, PRESET, PIKA)
        assert [m.model for m in video.chain()] == [PIKA, PIKA_21] and video.fallback.base_url == fal.base_url
        assert video.checked and video.pricing.per_unit == 0 and adapter("fal") is ADAPTER
        encoding = {"width": 720, "height": 1280, "fps": 24, "crf": 23, "preset": "veryfast"}
        data = {"prompt": "Mara opens the letter", "seed": 7, "camera": "static", "duration": 4.0, "encoding": encoding}
        call = Call(rule="generate_clip", step="clip", version=1, request=data, inputs={"keyframe": keyframe})
        runtime = Runtime(output_dir=tmp_path / "out", cache_dir=tmp_path / "cache", cache_enabled=True,
                          budget=BudgetConfig())
        billing = hosted_clip(ClipSpec(**data, video=video.result_fields()), keyframe, call, video, runtime,
                              tmp_path / "clip.mp4")
    # A 4 s scene is bought as a 5 s Pika clip at 720p: $0.20 from the price table (fal reports no cost).
    assert billing.cost_usd == pytest.approx(0.20) and billing.model == PIKA
    assert fal.submissions[0].body["negative_prompt"] == video.negative_prompt
    assert abs(probe(tmp_path / "clip.mp4").duration - 4.0) < 0.1


def test_options_are_checked_when_the_configuration_is_validated():
    with pytest.raises(ConfigError, match="fal option resolution"):
        load_config(["video=pika_fal", "video.options.resolution=4k"])
    with pytest.raises(ConfigError, match="fal option aspect_ratio"):
        load_config(["video=pika_fal", "+video.options.aspect_ratio=9:16"])
