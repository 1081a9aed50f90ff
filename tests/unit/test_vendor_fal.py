"""fal.ai's queue (Pika image-to-video) through the shared job engine, against a fake fal on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from fakes.fal_server import FakeFal, detail
from fakes.vendor_checks import lost_create_waits_for_the_user, record
from fakes.vendor_base import Outcome, VendorFault
from shortdrama import calls
from shortdrama.config import BudgetConfig, load_config
from shortdrama.cost.call import Call, Runtime
from shortdrama.errors import ConfigError, ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.media import probe
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors import adapter
from shortdrama.video.vendors.base import JobRejected, JobRequest, VendorModel, data_uri
from shortdrama.video.vendors.fal import ADAPTER

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


def test_a_clip_is_made_through_fal_s_queue_with_the_urls_it_returns(tmp_path, keyframe):
    with FakeFal(api_key=KEY, default=Outcome(pending_polls=2)) as fal:
        result = engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    [request] = fal.submissions
    body = request.body
    assert (request.model, body["resolution"], body["duration"], body["seed"], body["negative_prompt"]) == \
        (PIKA, "720p", 5, 7, "blurry, watermark")
    head, data = body["image_url"].split(",", 1)
    assert head == "data:image/png;base64" and base64.b64decode(data) == keyframe.read_bytes()
    assert all(r.authorized for r in fal.requests)  # "Key <FAL_KEY>", or the fake answers 401
    assert fal.credentials_at_storage == 0  # the key went to the queue only, never to the media host
    ident = fal.request_id(request)
    # IN_QUEUE, IN_PROGRESS, COMPLETED, then the result; status lives under fal-ai/pika, without "/v2.2/...".
    assert [r.path for r in fal.of("status")] == [f"/fal-ai/pika/requests/{ident}/status"] * 3
    assert [r.path for r in fal.of("result")] == [f"/fal-ai/pika/requests/{ident}"]
    assert fal.downloads == [request.id] and (result.job_id, result.vendor, result.units) == (ident, "fal", None)
    assert abs(probe(tmp_path / "clip.mp4").duration - 5.0) < 0.3
    rec = record(tmp_path / "jobs")
    assert (rec["status"], rec["vendor_status"]) == ("completed", "COMPLETED")
    assert rec["extra"] == {"status_url": f"{fal.base_url}/fal-ai/pika/requests/{ident}/status",
                            "response_url": f"{fal.base_url}/fal-ai/pika/requests/{ident}",
                            "cancel_url": f"{fal.base_url}/fal-ai/pika/requests/{ident}/cancel"}
    assert KEY not in json.dumps(rec)


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


def test_a_build_killed_while_polling_resumes_the_same_request(tmp_path, keyframe):
    class Killed(Exception):
        pass

    def killing_sleep(seconds):
        raise Killed

    with FakeFal(api_key=KEY, default=Outcome(pending_polls=3)) as fal:
        with pytest.raises(Killed):
            engine(fal, tmp_path / "jobs", sleep=killing_sleep).generate(job(keyframe), tmp_path / "clip.mp4")
        assert record(tmp_path / "jobs")["status"] == "submitted"
        result = engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    assert len(fal.submissions) == 1 and result.job_id == fal.request_id(fal.submissions[0])
    assert len(fal.of("status")) == 4  # the resumed run polled the recorded status_url


@pytest.mark.parametrize("choice", ["delete the record", "record the request id"])
def test_a_lost_submit_reply_stops_every_run_until_the_user_decides(tmp_path, keyframe, choice):
    # fal takes no idempotency key and lists no requests by ours: the request the lost reply named cannot
    # be found, and sending it again could pay twice. Runs stop, naming the record and the dashboard, until
    # the user deletes the record (submit again) or puts the request id into it (poll that request, at the
    # URLs fal would have returned: the record holds none).
    with FakeFal(api_key=KEY) as fal:
        lost_create_waits_for_the_user(fal, engine(fal, tmp_path / "jobs"), lambda: job(keyframe), tmp_path / "jobs",
                                       tmp_path / "clip.mp4", "fal", choice, fal.request_id)
    assert abs(probe(tmp_path / "clip.mp4").duration - 5.0) < 0.3


def test_a_content_policy_refusal_stops_the_chain_a_runner_failure_falls_back(tmp_path, keyframe):
    with FakeFal(api_key=KEY, outcomes={PIKA: Outcome(result="failed", error=POLICY)}) as fal:
        with pytest.raises(JobRejected, match="content_policy_violation"):
            engine(fal, tmp_path / "jobs", PIKA, PIKA_21).generate(job(keyframe), tmp_path / "c.mp4")
    assert [r.model for r in fal.submissions] == [PIKA] and record(tmp_path / "jobs")["status"] == "rejected"

    crashed = Outcome(result="failed", error={"error": "Runner disconnected", "error_type": "runner_disconnected"})
    with FakeFal(api_key=KEY, outcomes={PIKA: crashed}) as fal:
        result = engine(fal, tmp_path / "jobs2", PIKA, PIKA_21).generate(job(keyframe), tmp_path / "c.mp4")
    assert [r.model for r in fal.submissions] == [PIKA, PIKA_21] and result.model == PIKA_21
    assert "runner_disconnected" in record(tmp_path / "jobs2")["history"][0]["error"]

    failed_result = Outcome(result="failed", error={"status_code": 500, "detail": "CUDA out of memory"})
    with FakeFal(api_key=KEY, outcomes={PIKA: failed_result}) as fal:
        result = engine(fal, tmp_path / "jobs3", PIKA, PIKA_21).generate(job(keyframe), tmp_path / "c.mp4")
        assert len(fal.of("result")) == 2  # the 500 with a detail is the request's answer, not retried
    assert result.model == PIKA_21 and "CUDA out of memory" in record(tmp_path / "jobs3")["history"][0]["error"]


def test_a_result_not_ready_just_after_completed_is_polled_again(tmp_path, keyframe):
    with FakeFal(api_key=KEY) as fal:
        fal.fault("result", VendorFault.http(400, {"detail": "Request is still in progress"}))
        result = engine(fal, tmp_path / "jobs", PIKA, PIKA_21).generate(job(keyframe), tmp_path / "c.mp4")
    assert result.model == PIKA and len(fal.submissions) == 1 and len(fal.of("result")) == 2


def test_a_rate_limit_429_is_retried_but_an_exhausted_balance_is_final(tmp_path, keyframe):
    sleeps: list[float] = []
    with FakeFal(api_key=KEY) as fal:
        fal.fault("submit", VendorFault.http(429, {"detail": "Rate limit exceeded"}, retry_after=0.5))
        engine(fal, tmp_path / "jobs", sleep=sleeps.append).generate(job(keyframe), tmp_path / "clip.mp4")
        assert len(fal.submissions) == 1 and len(fal.of("submit")) == 2 and sleeps[0] == 0.5

        fal.fault("submit", VendorFault.http(403, {"detail": "User is locked. Reason: Exhausted balance. Top up your "
                                                             "balance at fal.ai/dashboard/billing."}))
        with pytest.raises(ProviderError, match=f"fal refused the account.*Exhausted balance.*{ENV}"):
            engine(fal, tmp_path / "jobs2").generate(job(keyframe, key="clip-0002"), tmp_path / "c2.mp4")
    assert len(fal.of("submit")) == 3 and record(tmp_path / "jobs2", "clip-0002")["status"] == "not_submitted"


def test_an_unknown_model_names_the_preset_to_update(tmp_path, keyframe):
    with FakeFal(api_key=KEY) as fal:
        with pytest.raises(ProviderError, match=r"fal does not know the model 'fal-ai/pika/v0.9/image-to-video'.*"
                                                r"conf/video/pika_fal.yaml"):
            engine(fal, tmp_path / "jobs", "fal-ai/pika/v0.9/image-to-video").generate(job(keyframe),
                                                                                        tmp_path / "c.mp4")
        with pytest.raises(JobRejected, match="not a fal model id"):
            engine(fal, tmp_path / "jobs2", "fal-ai/../admin").generate(job(keyframe), tmp_path / "c.mp4")
    assert fal.submissions == [] and len(fal.of("submit")) == 1
    assert record(tmp_path / "jobs")["status"] == record(tmp_path / "jobs2")["status"] == "not_submitted"


def test_a_bad_input_is_fal_s_422_in_one_line(tmp_path, keyframe):
    with FakeFal(api_key=KEY) as fal:
        fal.fault("submit", VendorFault.http(422, detail("duration", "Input should be 5 or 10", "literal_error")))
        with pytest.raises(ProviderError, match="HTTP 422.*Input should be 5 or 10"):
            engine(fal, tmp_path / "jobs", PIKA, PIKA_21).generate(job(keyframe), tmp_path / "c.mp4")
    assert record(tmp_path / "jobs")["status"] == "not_submitted"


def test_urls_on_another_host_never_get_the_key(tmp_path, keyframe):
    elsewhere = "http://127.0.0.2:9/fal-ai/pika/requests/r-1"
    with FakeFal(api_key=KEY) as fal:
        fal.fault("submit", VendorFault.http(200, {"request_id": "r-1", "status_url": f"{elsewhere}/status",
                                                   "response_url": elsewhere, "cancel_url": f"{elsewhere}/cancel"}))
        with pytest.raises(ProviderError, match="request r-1.*another host.*refusing to send the key"):
            engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
    assert [r.route for r in fal.requests] == ["submit"]


def test_the_key_comes_from_the_environment_and_never_leaks(tmp_path, keyframe, monkeypatch):
    monkeypatch.delenv(ENV)
    with FakeFal(api_key=KEY) as fal:
        with pytest.raises(ProviderError, match=f"set the environment variable {ENV}"):
            engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
        assert fal.requests == [] and not (tmp_path / "jobs").exists()

    monkeypatch.setenv(ENV, "fal-wrong:secret-x")
    with FakeFal(api_key=KEY) as fal:
        with pytest.raises(ProviderError, match=f"fal rejected the key.*check {ENV}") as caught:
            engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
    assert "fal-wrong:secret-x" not in str(caught.value) and fal.submissions == []

    monkeypatch.setenv(ENV, KEY)
    echo = Outcome(result="failed", error={"status_code": 500, "detail": f"bad header Authorization: Key {KEY}"})
    with FakeFal(api_key=KEY, default=echo) as fal:
        fal.fault("submit", VendorFault.http(400, {"detail": f"cannot parse Authorization: Key {KEY}"}))
        with pytest.raises(ProviderError) as caught:
            engine(fal, tmp_path / "jobs2").generate(job(keyframe), tmp_path / "c.mp4")
        assert KEY not in str(caught.value) and "Key ***" in str(caught.value)
        with pytest.raises(ProviderError) as caught:  # now the request itself fails with the key in its detail
            engine(fal, tmp_path / "jobs2").generate(job(keyframe), tmp_path / "c.mp4")
    assert KEY not in str(caught.value) and KEY not in (tmp_path / "jobs2" / "clip-0001.json").read_text()


def test_the_media_url_is_fetched_at_once_and_a_corrupt_video_refused(tmp_path, keyframe):
    with FakeFal(api_key=KEY, url_ttl_s=2.0) as fal:
        engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
        fal.fault("download", *[VendorFault(corrupt=True)] * 3)
        with pytest.raises(ProviderError, match="not a decodable video"):
            engine(fal, tmp_path / "jobs").generate(job(keyframe, key="clip-0002"), tmp_path / "c2.mp4")
    assert record(tmp_path / "jobs", "clip-0002")["status"] == "bad_output"
    assert not (tmp_path / "c2.mp4").exists()


def test_an_expired_media_url_is_asked_for_again_not_paid_again(tmp_path, keyframe):
    with FakeFal(api_key=KEY, url_ttl_s=-1.0) as fal:
        with pytest.raises(ProviderError, match="HTTP 403"):
            engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
        assert record(tmp_path / "jobs")["status"] == "completed"
        fal.url_ttl_s = 60.0
        result = engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    assert len(fal.submissions) == 1 and result.job_id == fal.request_id(fal.submissions[0])
    assert len(fal.of("result")) == 2


def test_a_queued_request_past_the_timeout_is_cancelled_and_the_next_run_submits_anew(tmp_path, keyframe):
    # fal removes a request still IN_QUEUE: it never runs, nothing is billed.
    with FakeFal(api_key=KEY, outcomes={PIKA: [Outcome(result="stuck"), Outcome()]}) as fal:
        with pytest.raises(ProviderError, match="did not complete within 0.01 s and was cancelled"):
            engine(fal, tmp_path / "jobs", job_timeout_s=0.01).generate(job(keyframe), tmp_path / "c.mp4")
        [cancel] = fal.of("cancel")
        assert cancel.method == "PUT" and fal.submissions[0].cancelled
        assert record(tmp_path / "jobs")["status"] == "cancelled"
        result = engine(fal, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
    assert len(fal.submissions) == 2 and result.job_id == fal.request_id(fal.submissions[1])


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
        billing = calls._hosted_clip(data, keyframe, call, video, runtime, tmp_path / "clip.mp4")
    # A 4 s scene is bought as a 5 s Pika clip at 720p: $0.20 from the price table (fal reports no cost).
    assert billing.cost_usd == pytest.approx(0.20) and billing.model == PIKA
    assert fal.submissions[0].body["negative_prompt"] == video.negative_prompt
    assert abs(probe(tmp_path / "clip.mp4").duration - 4.0) < 0.1


def test_options_are_checked_when_the_configuration_is_validated():
    with pytest.raises(ConfigError, match="fal option resolution"):
        load_config(["video=pika_fal", "video.options.resolution=4k"])
    with pytest.raises(ConfigError, match="fal option aspect_ratio"):
        load_config(["video=pika_fal", "+video.options.aspect_ratio=9:16"])
