"""The Replicate adapter through the job engine, against a fake api.replicate.com on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from PIL import Image

from fakes.replicate_server import VERSION, FakeReplicate
from fakes.vendor_checks import assert_clip, lost_create_waits_for_the_user, record
from fakes.vendor_base import Outcome, VendorFault
from shortdrama.calls import produce_clip
from shortdrama.config import BudgetConfig, load_config
from shortdrama.cost.call import Call, Runtime
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors.base import JobRejected, JobRequest, VendorModel
from shortdrama.video.vendors.replicate import ADAPTER

TOKEN = "r8_test_4b1c9e77d2a0"
ENV = "REPLICATE_API_TOKEN"
PRESET = "conf/video/replicate.yaml"
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_total_s=20, request_timeout_s=2.0)
KLING, LITE = "kwaivgi/kling-v2.1", "bytedance/seedance-1-lite"
OPTIONS = {
    KLING: {"image_input": "start_image", "seed_input": "", "mode": "standard"},
    LITE: {"image_input": "image", "negative_prompt_input": "", "resolution": "720p"},
}


@pytest.fixture(autouse=True)
def token_env(monkeypatch):
    monkeypatch.setenv(ENV, TOKEN)


@pytest.fixture
def keyframe(tmp_path) -> Path:
    path = tmp_path / "key.png"
    Image.new("RGB", (9, 16), "teal").save(path)
    return path


def engine(fake: FakeReplicate, job_dir: Path, *models: str, sleep=lambda s: None, options=None,
           **changes) -> JobEngine:
    chosen = {**OPTIONS, **(options or {})}
    chain = [ChainEntry(ADAPTER, VendorModel(fake.base_url, m, ENV, options=chosen.get(m, {}), preset=PRESET))
             for m in (models or (KLING,))]
    values = dict(poll_interval_s=0.01, job_timeout_s=10.0, retry=FAST, duration_tolerance_s=0.25)
    values.update(changes)
    return JobEngine(chain, EngineSettings(**values), job_dir, sleep=sleep)


def clip_job(keyframe: Path, duration: float = 5.0) -> JobRequest:
    return JobRequest(key="clip-0001", prompt="Mara opens the letter; close-up", duration=duration, width=720,
                      height=1280, fps=24, seed=7, reference_image=keyframe, negative_prompt="blurry")


def test_a_prediction_is_created_polled_and_its_clip_downloaded_at_once(tmp_path, keyframe):
    sleeps: list[float] = []
    with FakeReplicate(token=TOKEN, default=Outcome(pending_polls=2, units=63.2), url_ttl_s=2) as fake:
        result = engine(fake, tmp_path / "jobs", sleep=sleeps.append).generate(clip_job(keyframe), tmp_path / "c.mp4")
    [job] = fake.submissions
    assert [r.path for r in fake.of("submit")] == ["/v1/models/kwaivgi/kling-v2.1/predictions"]
    assert all(r.authorized for r in fake.requests)  # Bearer <token>: the fake answers 401 to anything else
    assert fake.credentials_at_storage == 0  # the token went to the API only, never to the delivery host
    sent = job.body["input"]
    assert set(sent) == {"prompt", "start_image", "duration", "negative_prompt", "mode"}  # no seed: kling has none
    assert (sent["duration"], sent["mode"], sent["negative_prompt"]) == (5, "standard", "blurry")
    assert type(sent["duration"]) is int
    assert base64.b64decode(sent["start_image"].removeprefix("data:image/png;base64,")) == keyframe.read_bytes()
    # starting and processing are waited out (the Retry-After of none, the poll interval twice), then one download
    assert len(fake.of("poll")) == 3 and sleeps == [0.01, 0.01]
    assert fake.downloads == [job.id]
    assert (result.job_id, result.model, result.vendor, result.units) == (job.id, KLING, "replicate", 63.2)
    rec = record(tmp_path / "jobs")
    assert (rec["status"], rec["vendor_status"], rec["units"]) == ("completed", "succeeded", 63.2)
    assert "cdn" not in json.dumps(rec)  # the signed URL is a credential: never in the record
    assert_clip(tmp_path / "c.mp4", 5.0)


def test_a_build_killed_while_polling_resumes_the_same_prediction(tmp_path, keyframe):
    class Killed(BaseException):
        pass

    def killing_sleep(seconds: float) -> None:
        raise Killed

    with FakeReplicate(token=TOKEN, default=Outcome(pending_polls=3)) as fake:
        with pytest.raises(Killed):
            engine(fake, tmp_path / "jobs", sleep=killing_sleep).generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "submitted"
        result = engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 1 and result.job_id == fake.submissions[0].id
    assert len(fake.of("poll")) == 4
    assert_clip(tmp_path / "c.mp4", 5.0)


@pytest.mark.parametrize("choice", ["delete the record", "record the prediction id"])
def test_a_lost_create_reply_stops_every_run_until_the_user_decides(tmp_path, keyframe, choice):
    # Replicate has no idempotency key and no lookup by our key: the doubt is reported, not guessed away.
    # Runs stop, naming the record and the dashboard, until the user deletes the record (submit again) or
    # puts the prediction's id into it (poll that prediction).
    with FakeReplicate(token=TOKEN) as fake:
        lost_create_waits_for_the_user(fake, engine(fake, tmp_path / "jobs"), lambda: clip_job(keyframe), tmp_path / "jobs",
                                       tmp_path / "c.mp4", "replicate", choice)
    assert_clip(tmp_path / "c.mp4", 5.0)


@pytest.mark.parametrize("error", ["NSFW content detected. Try running it again, or try a different prompt.",
                                   "The input or output was flagged as sensitive. Please try again (E005)"])
def test_a_safety_refusal_stops_the_chain(tmp_path, keyframe, error):
    outcomes = {KLING: Outcome(result="failed", error={"error": error})}
    with FakeReplicate(token=TOKEN, outcomes=outcomes) as fake:
        with pytest.raises(JobRejected, match="change the scene's prompt"):
            engine(fake, tmp_path / "jobs", KLING, LITE).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert [j.model for j in fake.submissions] == [KLING]
    assert record(tmp_path / "jobs")["status"] == "rejected"


def test_an_internal_failure_falls_back_to_the_next_model_with_its_own_input_names(tmp_path, keyframe):
    outcomes = {KLING: Outcome(result="failed", error={"error": "CUDA error: an illegal memory access"})}
    with FakeReplicate(token=TOKEN, outcomes=outcomes) as fake:
        result = engine(fake, tmp_path / "jobs", KLING, LITE).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert [j.model for j in fake.submissions] == [KLING, LITE] and result.model == LITE
    sent = fake.submissions[1].body["input"]
    assert set(sent) == {"prompt", "image", "duration", "seed", "resolution"} and sent["seed"] == 7
    rec = record(tmp_path / "jobs")
    assert rec["history"][0]["error"] == "CUDA error: an illegal memory access"
    assert_clip(tmp_path / "c.mp4", 5.0)


def test_a_prediction_canceled_elsewhere_falls_back(tmp_path, keyframe):
    with FakeReplicate(token=TOKEN, default=Outcome(pending_polls=1)) as fake:
        def someone_cancels(seconds: float) -> None:  # from the dashboard, while the build waits
            fake.submissions[0].cancelled = True

        result = engine(fake, tmp_path / "jobs", KLING, LITE, sleep=someone_cancels).generate(clip_job(keyframe),
                                                                                             tmp_path / "c.mp4")
    assert result.model == LITE and record(tmp_path / "jobs")["history"][0]["vendor_status"] == "canceled"


def test_throttled_requests_are_retried_after_retry_after(tmp_path, keyframe):
    throttled = {"detail": "Request was throttled. Expected available in 1 second.", "status": 429}
    sleeps: list[float] = []
    with FakeReplicate(token=TOKEN) as fake:
        fake.fault("submit", VendorFault.http(429, throttled, retry_after=1))
        fake.fault("poll", VendorFault.http(429, throttled, retry_after=1))
        engine(fake, tmp_path / "jobs", sleep=sleeps.append).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 1 and len(fake.of("submit")) == 2  # a 429 surely was not taken: sent again
    assert sleeps.count(1.0) == 2


def test_no_credit_is_final_and_says_what_to_do(tmp_path, keyframe):
    body = {"title": "Insufficient credit", "status": 402, "detail": "You have insufficient credit to run this model."}
    with FakeReplicate(token=TOKEN) as fake:
        fake.fault("submit", VendorFault.http(402, body))
        with pytest.raises(ProviderError, match="no credit left .*add credit"):
            engine(fake, tmp_path / "jobs", KLING, LITE).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.of("submit")) == 1 and fake.submissions == []


def test_invalid_input_is_a_clear_final_error_naming_the_preset(tmp_path, keyframe):
    ultra = {KLING: {**OPTIONS[KLING], "mode": "ultra"}}  # passed through to the model, which refuses it
    with FakeReplicate(token=TOKEN) as fake:
        with pytest.raises(ProviderError) as caught:
            engine(fake, tmp_path / "jobs", options=ultra).generate(clip_job(keyframe), tmp_path / "c.mp4")
    message = str(caught.value)
    assert "refused the input" in message and "mode must be one of the following: standard, pro" in message
    assert "fields: mode" in message and PRESET in message
    assert len(fake.of("submit")) == 1 and record(tmp_path / "jobs")["status"] == "not_submitted"


def test_an_unknown_model_names_the_preset_to_edit(tmp_path, keyframe):
    with FakeReplicate(token=TOKEN) as fake:
        expected = f"does not know the model 'kwaivgi/kling-v9'.*update `model` in {PRESET}"
        with pytest.raises(ProviderError, match=expected):
            engine(fake, tmp_path / "jobs", "kwaivgi/kling-v9").generate(clip_job(keyframe), tmp_path / "c.mp4")


def test_an_expired_url_is_fetched_fresh_by_the_next_run_without_paying_again(tmp_path, keyframe):
    with FakeReplicate(token=TOKEN, url_ttl_s=-1) as fake:  # the URL is dead by the time it is fetched
        video = engine(fake, tmp_path / "jobs")
        with pytest.raises(ProviderError, match="HTTP 403"):
            video.generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "completed"
        fake.url_ttl_s = 2
        video.generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 1 and len(fake.downloads) == 1
    assert_clip(tmp_path / "c.mp4", 5.0)


def test_a_corrupt_download_is_refused(tmp_path, keyframe):
    with FakeReplicate(token=TOKEN) as fake:
        fake.fault("download", *[VendorFault(corrupt=True)] * 3)
        with pytest.raises(ProviderError, match="no valid video after 3 attempts .*not a decodable video"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert not (tmp_path / "c.mp4").exists() and record(tmp_path / "jobs")["status"] == "bad_output"


def test_a_stuck_prediction_is_canceled_at_the_timeout_and_the_next_run_submits_anew(tmp_path, keyframe):
    # Replicate answers the cancel with the prediction, now "canceled": a confirmed stop.
    with FakeReplicate(token=TOKEN, outcomes={KLING: [Outcome(result="stuck"), Outcome()]}) as fake:
        with pytest.raises(ProviderError, match="did not complete within 0.05 s and was cancelled"):
            engine(fake, tmp_path / "jobs", job_timeout_s=0.05).generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert fake.cancels == [fake.submissions[0].id] and record(tmp_path / "jobs")["status"] == "cancelled"
        result = engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 2 and result.job_id == fake.submissions[1].id


def test_a_prediction_that_ended_before_the_cancel_is_polled_again_not_paid_again(tmp_path, keyframe):
    # The cancel crossed the prediction's end: Replicate answers with it "succeeded", which is no stop.
    with FakeReplicate(token=TOKEN, default=Outcome(result="stuck")) as fake:
        fake.fault("cancel", VendorFault.http(200, {"id": "any", "status": "succeeded"}))
        with pytest.raises(ProviderError, match="could not cancel it: the next run polls the same job"):
            engine(fake, tmp_path / "jobs", job_timeout_s=0.05).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert record(tmp_path / "jobs")["status"] == "overdue" and len(fake.submissions) == 1


def _clip_spec(duration: float) -> str:
    return json.dumps({"prompt": "Mara opens the letter", "seed": 7, "camera": "static", "duration": duration,
                       "encoding": {"width": 144, "height": 256, "fps": 12, "crf": 30, "preset": "ultrafast"}})


def _produce(tmp_path: Path, keyframe: Path, overrides: list[str], duration: float = 4.0):
    cfg = load_config(["video=replicate", *overrides, "video.poll_interval_s=0.01"])
    runtime = Runtime(output_dir=tmp_path / "out", cache_dir=tmp_path / "cache", cache_enabled=False,
                      budget=BudgetConfig())
    call = Call(rule="generate_clip", step="clip", version=1, request={"duration": duration})
    billing = produce_clip(_clip_spec(duration), keyframe, call, runtime)(cfg.video, {"mp4": tmp_path / "clip.mp4"})
    assert_clip(tmp_path / "clip.mp4", duration)  # bought as 5 s, conformed to the scene
    return cfg.video, billing


def test_the_preset_composes_and_an_official_model_is_billed_from_the_price_table(tmp_path, keyframe):
    with FakeReplicate(token=TOKEN, default=Outcome(units=55.0)) as fake:
        video, billing = _produce(tmp_path, keyframe, [f"video.base_url={fake.base_url}",
                                                       f"video.fallback.base_url={fake.base_url}"])
    assert [m.model for m in video.chain()] == [KLING, LITE] and video.preset == PRESET
    assert video.api_key_env == ENV and video.pricing.per_unit == 0
    assert fake.submissions[0].body["input"]["duration"] == 5
    assert (billing.model, billing.cost_usd) == (KLING, pytest.approx(0.25))  # 5 s at $0.05, not 55 s of GPU


def test_a_hardware_billed_model_is_billed_by_its_predict_time(tmp_path, keyframe):
    options = ["video.options.image_input=image", "video.options.duration_input=''", "~video.options.mode",
               "video.options.negative_prompt_input=''", "video.options.seed_input=seed",
               "+video.options.num_frames=81"]
    with FakeReplicate(token=TOKEN, default=Outcome(units=41.5)) as fake:
        _, billing = _produce(tmp_path, keyframe, [
            f"video.base_url={fake.base_url}", f"video.model=someone/wan-i2v-community:{VERSION}",
            *options, "video.pricing.per_unit=0.000975", "~video.fallback"])
    [job] = fake.submissions
    assert job.body["version"] == VERSION and job.body["input"]["num_frames"] == 81
    assert billing.cost_usd == pytest.approx(41.5 * 0.000975, abs=1e-6) and "41.5 units" in billing.note


def test_a_missing_token_is_named_before_anything_is_sent(tmp_path, keyframe, monkeypatch):
    monkeypatch.delenv(ENV)
    with FakeReplicate(token=TOKEN) as fake:
        with pytest.raises(ProviderError, match=f"set the environment variable {ENV}"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert fake.requests == [] and not (tmp_path / "jobs").exists()


def test_a_wrong_token_is_a_clear_error(tmp_path, keyframe, monkeypatch):
    monkeypatch.setenv(ENV, "r8_wrong")
    with FakeReplicate(token=TOKEN) as fake:
        with pytest.raises(ProviderError, match=f"Replicate refused the token in {ENV} .*401"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.requests) == 1


def test_a_token_echoed_back_is_kept_out_of_errors_and_records(tmp_path, keyframe):
    body = {"detail": f"header Authorization: Bearer {TOKEN} is malformed", "status": 400}
    with FakeReplicate(token=TOKEN) as fake:
        fake.fault("submit", VendorFault.http(400, body))
        with pytest.raises(ProviderError) as caught:
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert TOKEN not in str(caught.value) and "Bearer ***" in str(caught.value)
    assert TOKEN not in (tmp_path / "jobs" / "clip-0001.json").read_text()


@pytest.mark.parametrize("options, problem", [
    ({"image_input": ""}, "image_input: an image-to-video model needs"),
    ({"seed_input": "Seed Value"}, "seed_input: the name of one of the model's inputs"),
    ({"prompt": "x"}, "prompt: this input is filled from the scene"),
    ({"image_input": "image", "image": "https://x"}, "image: this input is filled from the scene"),
    ({"Mode": "pro"}, "'Mode': input names are lower_snake_case"),
    ({"image_input": "image", "seed_input": "image"}, "each names a different input"),
])
def test_bad_options_are_refused_when_the_config_is_validated(options, problem):
    with pytest.raises(ValueError, match=problem):
        ADAPTER.validate_options(options)
    ADAPTER.validate_options({"image_input": "image", "seed_input": "", "mode": "pro", "cfg_scale": 0.5})
