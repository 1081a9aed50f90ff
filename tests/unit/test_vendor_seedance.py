"""The Seedance (Volcengine Ark) adapter through the job engine, against a fake Ark API on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from fakes.seedance_server import NOT_CANCELLABLE, PATH, FakeArk, ark_error
from fakes.vendor_checks import assert_clip, lost_create_waits_for_the_user, record
from fakes.vendor_base import Outcome, VendorFault
from shortdrama.calls import produce_clip
from shortdrama.config import BudgetConfig, load_config
from shortdrama.cost.call import Call, Runtime
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors.base import JobRejected, JobRequest, VendorModel
from shortdrama.video.vendors.seedance import ADAPTER, aspect_ratio

KEY = "ark-7f3c2a91-test-key"
ENV = "ARK_API_KEY"
PRESET = "conf/video/seedance.yaml"
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_total_s=20, request_timeout_s=2.0)
PRO, LITE = "doubao-seedance-1-0-pro-250528", "doubao-seedance-1-0-lite-i2v-250428"
OPTIONS = {"resolution": "720p", "ratio": "auto", "camerafixed": False, "watermark": False}


@pytest.fixture(autouse=True)
def key_env(monkeypatch):
    monkeypatch.setenv(ENV, KEY)


@pytest.fixture
def keyframe(tmp_path) -> Path:
    path = tmp_path / "key.png"
    Image.new("RGB", (9, 16), "navy").save(path)
    return path


def engine(fake: FakeArk, job_dir: Path, *models: str, sleep=lambda s: None, options=OPTIONS, **changes) -> JobEngine:
    chain = [ChainEntry(ADAPTER, VendorModel(fake.base_url, m, ENV, options=options, preset=PRESET))
             for m in (models or (PRO,))]
    values = dict(poll_interval_s=0.01, job_timeout_s=10.0, retry=FAST, duration_tolerance_s=0.25)
    values.update(changes)
    return JobEngine(chain, EngineSettings(**values), job_dir, sleep=sleep)


def clip_job(keyframe: Path, duration: float = 5.0, prompt: str = "Mara opens the letter; close-up") -> JobRequest:
    return JobRequest(key="clip-0001", prompt=prompt, duration=duration, width=720, height=1280, fps=24, seed=7,
                      reference_image=keyframe, negative_prompt="blurry")


def test_a_task_is_created_with_text_commands_polled_and_downloaded_at_once(tmp_path, keyframe):
    statuses: list[str] = []
    with FakeArk(api_key=KEY, default=Outcome(pending_polls=2), url_ttl_s=2) as fake:
        def note_status(seconds: float) -> None:
            statuses.append(record(tmp_path / "jobs").get("vendor_status"))

        result = engine(fake, tmp_path / "jobs", sleep=note_status).generate(clip_job(keyframe), tmp_path / "c.mp4")
    [job] = fake.submissions
    assert all(r.authorized for r in fake.requests)  # the fake answers 401 to anything but Bearer <key>
    assert fake.credentials_at_storage == 0  # the key went to Ark only, never to the storage host
    assert job.body["model"] == PRO
    text, image = job.body["content"]
    assert text == {"type": "text", "text": "Mara opens the letter; close-up --ratio 9:16 --resolution 720p "
                                            "--duration 5 --seed 7 --camerafixed false --watermark false"}
    assert (image["type"], image["role"]) == ("image_url", "first_frame")
    assert base64.b64decode(image["image_url"]["url"].removeprefix("data:image/png;base64,")) == keyframe.read_bytes()
    assert statuses == ["queued", "running"]
    assert fake.downloads == [job.id]
    tokens = 720 * 1280 * 24 * 5 // 1024
    assert (result.units, result.vendor) == (tokens, "seedance")  # usage.completion_tokens: what Ark bills
    rec = record(tmp_path / "jobs")
    assert (rec["status"], rec["vendor_status"], rec["units"]) == ("completed", "succeeded", tokens)
    assert "cdn" not in json.dumps(rec)
    assert_clip(tmp_path / "c.mp4", 5.0)


def test_dashes_in_the_prompt_cannot_add_commands(tmp_path, keyframe):
    with FakeArk(api_key=KEY) as fake:
        engine(fake, tmp_path / "jobs").generate(clip_job(keyframe, prompt="She whispers --duration 10 -- wait"),
                                                 tmp_path / "c.mp4")
    assert fake.commands[fake.submissions[0].id]["duration"] == "5"
    assert fake.submissions[0].body["content"][0]["text"].startswith("She whispers -duration 10 - wait --ratio")


def test_a_build_killed_while_polling_resumes_the_same_task(tmp_path, keyframe):
    class Killed(BaseException):
        pass

    def killing_sleep(seconds: float) -> None:
        raise Killed

    with FakeArk(api_key=KEY, default=Outcome(pending_polls=3)) as fake:
        with pytest.raises(Killed):
            engine(fake, tmp_path / "jobs", sleep=killing_sleep).generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "submitted"
        result = engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 1 and result.job_id == fake.submissions[0].id
    assert len(fake.of("poll")) == 4


@pytest.mark.parametrize("choice", ["delete the record", "record the task id"])
def test_a_lost_create_reply_stops_every_run_until_the_user_decides(tmp_path, keyframe, choice):
    # Ark takes no idempotency key and cannot find tasks by ours: sending the create again could pay twice.
    # Runs stop, naming the record and the dashboard, until the user deletes the record (submit again) or
    # puts the task's id into it (poll that task).
    with FakeArk(api_key=KEY) as fake:
        lost_create_waits_for_the_user(fake, engine(fake, tmp_path / "jobs"), lambda: clip_job(keyframe), tmp_path / "jobs",
                                       tmp_path / "c.mp4", "seedance", choice)
    assert_clip(tmp_path / "c.mp4", 5.0)


def test_a_sensitive_output_stops_the_chain(tmp_path, keyframe):
    error = {"code": "OutputVideoSensitiveContentDetected",
             "message": "The output video may contain sensitive content."}
    with FakeArk(api_key=KEY, outcomes={PRO: Outcome(result="failed", error=error)}) as fake:
        with pytest.raises(JobRejected, match="OutputVideoSensitiveContentDetected"):
            engine(fake, tmp_path / "jobs", PRO, LITE).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert [j.model for j in fake.submissions] == [PRO] and record(tmp_path / "jobs")["status"] == "rejected"


@pytest.mark.parametrize("code", ["InputTextSensitiveContentDetected", "InputImageSensitiveContentDetected"])
def test_a_sensitive_input_is_refused_at_submit_without_fallback(tmp_path, keyframe, code):
    with FakeArk(api_key=KEY) as fake:
        fake.fault("submit", VendorFault.http(400, ark_error(code, "The request may contain sensitive content.")))
        with pytest.raises(JobRejected, match=f"sensitive \\({code}"):
            engine(fake, tmp_path / "jobs", PRO, LITE).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.of("submit")) == 1 and record(tmp_path / "jobs")["status"] == "not_submitted"


# Ark expires a task left queued too long: the fake answers status "expired" for this outcome.
@pytest.mark.parametrize("outcome", [Outcome(result="failed"), Outcome(result="failed", error={"status": "expired"})],
                         ids=["failed", "expired"])
def test_an_internal_failure_or_expiry_falls_back_to_the_lite_model(tmp_path, keyframe, outcome):
    with FakeArk(api_key=KEY, outcomes={PRO: outcome}) as fake:
        result = engine(fake, tmp_path / "jobs", PRO, LITE).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert [j.model for j in fake.submissions] == [PRO, LITE] and result.model == LITE
    earlier = record(tmp_path / "jobs")["history"][0]
    assert earlier["status"] == "failed" and earlier["vendor_status"] in ("failed", "expired")
    assert_clip(tmp_path / "c.mp4", 5.0)


def test_rate_limits_are_retried_and_a_spent_quota_is_final(tmp_path, keyframe):
    limited = ark_error("RateLimitExceeded", "Too many requests.", "TooManyRequests")
    overloaded = ark_error("ServerOverloaded", "The service is overloaded.", "TooManyRequests")
    with FakeArk(api_key=KEY) as fake:
        fake.fault("submit", VendorFault.http(429, limited, retry_after=0), VendorFault.http(429, overloaded))
        fake.fault("poll", VendorFault.http(429, limited))
        engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert len(fake.of("submit")) == 3 and len(fake.submissions) == 1

        fake.fault("submit", VendorFault.http(429, ark_error("QuotaExceeded", "Your quota is exhausted.")))
        (tmp_path / "jobs" / "clip-0001.json").unlink()
        with pytest.raises(ProviderError, match="quota or spending limit is reached \\(QuotaExceeded"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c2.mp4")
    assert len(fake.of("submit")) == 4 and record(tmp_path / "jobs")["status"] == "not_submitted"


def test_an_unknown_model_names_the_preset_to_edit(tmp_path, keyframe):
    with FakeArk(api_key=KEY) as fake:
        expected = f"does not know the model 'doubao-seedance-9'.*update `model` in {PRESET}"
        with pytest.raises(ProviderError, match=expected):
            engine(fake, tmp_path / "jobs", "doubao-seedance-9").generate(clip_job(keyframe), tmp_path / "c.mp4")


def test_a_model_not_activated_says_to_activate_it(tmp_path, keyframe):
    with FakeArk(api_key=KEY, not_open=(PRO,)) as fake:
        expected = f"ModelNotOpen.*{PRESET}.*activate it for this account in the Ark console"
        with pytest.raises(ProviderError, match=expected):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")


def test_an_invalid_parameter_is_a_clear_final_error(tmp_path, keyframe):
    with FakeArk(api_key=KEY) as fake:
        with pytest.raises(ProviderError, match=f"Ark refused the request \\(InvalidParameter: .*duration.*{PRESET}"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe, duration=15.0), tmp_path / "c.mp4")
    assert len(fake.of("submit")) == 1


def test_a_queued_task_past_the_timeout_is_cancelled_and_the_next_run_submits_anew(tmp_path, keyframe):
    with FakeArk(api_key=KEY, outcomes={PRO: [Outcome(result="stuck"), Outcome()]}) as fake:
        with pytest.raises(ProviderError, match="did not complete within 0.01 s and was cancelled"):
            engine(fake, tmp_path / "jobs", job_timeout_s=0.01).generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["vendor_status"] == "queued"
        assert fake.cancels == [fake.submissions[0].id] and record(tmp_path / "jobs")["status"] == "cancelled"
        result = engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 2 and result.job_id == fake.submissions[1].id


@pytest.mark.parametrize("when", ["running at the last poll", "started running before the cancel"])
def test_a_running_task_past_the_timeout_is_polled_again_never_paid_twice(tmp_path, keyframe, when):
    # Ark cancels only queued tasks: a running one finishes and bills, so the next run waits for it. A task
    # the last poll found running gets no DELETE (that call deletes a task that has just finished); one that
    # started running since is refused by Ark.
    with FakeArk(api_key=KEY, default=Outcome(pending_polls=8)) as fake:
        timeout = 0.5 if when == "running at the last poll" else 0.01
        if when == "started running before the cancel":
            status, code = NOT_CANCELLABLE
            fake.fault("cancel", VendorFault.http(status, ark_error(code, "The task is running.")))
        with pytest.raises(ProviderError, match="could not cancel it: the next run polls the same job"):
            engine(fake, tmp_path / "jobs", poll_interval_s=0.1, job_timeout_s=timeout).generate(
                clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "overdue" and fake.cancels == []
        assert len(fake.of("cancel")) == (0 if when == "running at the last poll" else 1)
        result = engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 1 and result.job_id == fake.submissions[0].id
    assert_clip(tmp_path / "c.mp4", 5.0)


def test_the_fake_refuses_to_cancel_a_running_task_and_deletes_a_finished_one(keyframe):
    with FakeArk(api_key=KEY, default=Outcome(pending_polls=2)) as fake:
        task = fake.create_job(PRO, 5.0, {})
        fake.commands[task.id] = {}
        url, auth = f"{fake.base_url}{PATH}/{task.id}", {"Authorization": f"Bearer {KEY}"}
        assert [httpx.get(url, headers=auth).json()["status"] for _ in range(2)] == ["queued", "running"]
        refused = httpx.delete(url, headers=auth)
        assert (refused.status_code, refused.json()["error"]["code"]) == NOT_CANCELLABLE
        assert httpx.get(url, headers=auth).json()["status"] == "succeeded"
        assert httpx.delete(url, headers=auth).status_code == 200
        assert httpx.get(url, headers=auth).status_code == 404  # Ark's DELETE removes a finished task


def test_an_expired_url_is_fetched_fresh_by_the_next_run_without_paying_again(tmp_path, keyframe):
    with FakeArk(api_key=KEY, url_ttl_s=-1) as fake:
        video = engine(fake, tmp_path / "jobs")
        with pytest.raises(ProviderError, match="HTTP 403"):
            video.generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "completed"
        fake.url_ttl_s = 2
        video.generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 1 and len(fake.downloads) == 1


def test_a_corrupt_download_is_refused(tmp_path, keyframe):
    with FakeArk(api_key=KEY) as fake:
        fake.fault("download", *[VendorFault(corrupt=True)] * 3)
        with pytest.raises(ProviderError, match="no valid video after 3 attempts .*not a decodable video"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert record(tmp_path / "jobs")["status"] == "bad_output"


def test_the_preset_composes_and_the_ledger_bills_the_reported_tokens(tmp_path, keyframe):
    with FakeArk(api_key=KEY, default=Outcome(units=112640)) as fake:
        cfg = load_config(["video=seedance", f"video.base_url={fake.base_url}",
                           f"video.fallback.base_url={fake.base_url}", "video.poll_interval_s=0.01"])
        runtime = Runtime(output_dir=tmp_path / "out", cache_dir=tmp_path / "cache", cache_enabled=False,
                          budget=BudgetConfig())
        spec = json.dumps({"prompt": "Mara opens the letter", "seed": 7, "camera": "static", "duration": 4.0,
                           "encoding": {"width": 144, "height": 256, "fps": 12, "crf": 30, "preset": "ultrafast"}})
        call = Call(rule="generate_clip", step="clip", version=1, request={"duration": 4.0})
        billing = produce_clip(spec, keyframe, call, runtime)(cfg.video, {"mp4": tmp_path / "clip.mp4"})
    assert [m.model for m in cfg.video.chain()] == [PRO, LITE] and cfg.video.preset == PRESET
    assert fake.commands[fake.submissions[0].id]["duration"] == "5"  # a 4 s scene bought as 5 s
    assert billing.model == PRO and billing.cost_usd == pytest.approx(112640 * 0.0000021, abs=1e-6)
    assert "112640 units" in billing.note
    assert_clip(tmp_path / "clip.mp4", 4.0)


def test_a_missing_key_is_named_before_anything_is_sent(tmp_path, keyframe, monkeypatch):
    monkeypatch.delenv(ENV)
    with FakeArk(api_key=KEY) as fake:
        with pytest.raises(ProviderError, match=f"set the environment variable {ENV}"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert fake.requests == []


def test_a_wrong_key_is_a_clear_error(tmp_path, keyframe, monkeypatch):
    monkeypatch.setenv(ENV, "ark-wrong")
    with FakeArk(api_key=KEY) as fake:
        with pytest.raises(ProviderError, match=f"Ark refused the key in {ENV} \\(AuthenticationError"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.requests) == 1


def test_a_key_echoed_back_is_kept_out_of_errors_and_records(tmp_path, keyframe):
    echo = ark_error("InvalidParameter", f"malformed header Authorization: Bearer {KEY}")
    with FakeArk(api_key=KEY) as fake:
        fake.fault("submit", VendorFault.http(400, echo))
        with pytest.raises(ProviderError) as caught:
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert KEY not in str(caught.value) and "Bearer ***" in str(caught.value)
    assert KEY not in (tmp_path / "jobs" / "clip-0001.json").read_text()


def test_the_ratio_follows_the_render_when_ark_offers_it():
    assert [aspect_ratio(720, 1280), aspect_ratio(1080, 1920), aspect_ratio(1280, 720), aspect_ratio(700, 1280)] == [
        "9:16", "9:16", "16:9", "adaptive"]


@pytest.mark.parametrize("options, problem", [
    ({"resolution": "4k"}, "seedance option resolution"),
    ({"ratio": "2:1"}, "seedance option ratio"),
    ({"camerafixed": "no"}, "seedance option camerafixed"),
    ({"duration": 5}, "seedance option duration: Extra inputs are not permitted"),
])
def test_bad_options_are_refused_when_the_config_is_validated(options, problem):
    with pytest.raises(ValueError, match=problem):
        ADAPTER.validate_options(options)
    ADAPTER.validate_options({"resolution": "1080p", "ratio": "adaptive", "camerafixed": True})
