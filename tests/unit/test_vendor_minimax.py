"""The MiniMax (Hailuo) adapter through the job engine, against a fake api.minimax.io on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from PIL import Image

from fakes.minimax_server import FakeMiniMax, base_resp
from fakes.vendor_checks import assert_clip, lost_create_waits_for_the_user, record
from fakes.vendor_base import Outcome, VendorFault
from shortdrama.calls import produce_clip
from shortdrama.config import BudgetConfig, load_config
from shortdrama.cost.call import Call, Runtime
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors.base import JobRejected, JobRequest, VendorModel
from shortdrama.video.vendors.minimax import ADAPTER

KEY = "eyJhbGciOiJSUzI1NiJ9.minimax-test-key"
ENV = "MINIMAX_API_KEY"
PRESET = "conf/video/minimax.yaml"
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_total_s=20, request_timeout_s=2.0)
HAILUO, FAST_MODEL = "MiniMax-Hailuo-02", "MiniMax-Hailuo-2.3-Fast"
OPTIONS = {"resolution": "768P", "prompt_optimizer": True}


@pytest.fixture(autouse=True)
def key_env(monkeypatch):
    monkeypatch.setenv(ENV, KEY)


@pytest.fixture
def keyframe(tmp_path) -> Path:
    path = tmp_path / "key.jpg"
    Image.new("RGB", (9, 16), "orange").save(path)
    return path


def engine(fake: FakeMiniMax, job_dir: Path, *models: str, sleep=lambda s: None, options=OPTIONS,
           **changes) -> JobEngine:
    chain = [ChainEntry(ADAPTER, VendorModel(fake.base_url, m, ENV, options=options, preset=PRESET))
             for m in (models or (HAILUO,))]
    values = dict(poll_interval_s=0.01, job_timeout_s=10.0, retry=FAST, duration_tolerance_s=0.25)
    values.update(changes)
    return JobEngine(chain, EngineSettings(**values), job_dir, sleep=sleep)


def clip_job(keyframe: Path, duration: float = 6.0) -> JobRequest:
    return JobRequest(key="clip-0001", prompt="Mara opens the letter; close-up", duration=duration, width=720,
                      height=1280, fps=24, seed=7, reference_image=keyframe, negative_prompt="blurry")


def test_a_task_is_created_polled_and_its_file_downloaded_at_once(tmp_path, keyframe):
    statuses: list[str] = []
    with FakeMiniMax(api_key=KEY, default=Outcome(pending_polls=3), url_ttl_s=2) as fake:
        def note_status(seconds: float) -> None:
            statuses.append(record(tmp_path / "jobs").get("vendor_status"))

        result = engine(fake, tmp_path / "jobs", sleep=note_status).generate(clip_job(keyframe), tmp_path / "c.mp4")
    [job] = fake.submissions
    assert all(r.authorized for r in fake.requests)  # the fake answers code 1004 to anything but Bearer <key>
    assert fake.credentials_at_storage == 0  # the key went to the API only, never to the storage host
    body = job.body
    assert set(body) == {"model", "prompt", "first_frame_image", "duration", "resolution", "prompt_optimizer"}
    assert (body["model"], body["duration"], body["resolution"], body["prompt_optimizer"]) == (HAILUO, 6, "768P", True)
    assert type(body["duration"]) is int  # no negative prompt, no seed: MiniMax has neither
    assert base64.b64decode(body["first_frame_image"].removeprefix("data:image/jpeg;base64,")) == keyframe.read_bytes()
    assert statuses == ["Preparing", "Queueing", "Processing"]  # waited out, one poll interval each
    assert [len(fake.of(route)) for route in ("poll", "retrieve")] == [4, 1]
    assert fake.downloads == [job.id] and result.units is None  # MiniMax reports no cost: the price table
    rec = record(tmp_path / "jobs")
    assert (rec["status"], rec["vendor_status"], rec["job_id"]) == ("completed", "Success", job.id)
    assert "cdn" not in json.dumps(rec)
    assert_clip(tmp_path / "c.mp4", 6.0)


def test_a_build_killed_while_polling_resumes_the_same_task(tmp_path, keyframe):
    class Killed(BaseException):
        pass

    def killing_sleep(seconds: float) -> None:
        raise Killed

    with FakeMiniMax(api_key=KEY, default=Outcome(pending_polls=3)) as fake:
        with pytest.raises(Killed):
            engine(fake, tmp_path / "jobs", sleep=killing_sleep).generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "submitted"
        result = engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 1 and result.job_id == fake.submissions[0].id
    assert len(fake.of("poll")) == 4
    assert_clip(tmp_path / "c.mp4", 6.0)


@pytest.mark.parametrize("choice", ["delete the record", "record the task id"])
def test_a_lost_create_reply_stops_every_run_until_the_user_decides(tmp_path, keyframe, choice):
    # MiniMax takes no idempotency key and cannot find tasks by ours: sending the create again could pay
    # twice. Runs stop, naming the record and the dashboard, until the user deletes the record (submit
    # again) or puts the task's id into it (poll that task).
    with FakeMiniMax(api_key=KEY) as fake:
        lost_create_waits_for_the_user(fake, engine(fake, tmp_path / "jobs"), lambda: clip_job(keyframe), tmp_path / "jobs",
                                       tmp_path / "c.mp4", "minimax", choice)
    assert_clip(tmp_path / "c.mp4", 6.0)


@pytest.mark.parametrize("code, message", [(1000, "unknown error"), (1001, "request timeout"),
                                           (1013, "internal service error")])
def test_an_unsure_error_code_on_create_is_a_doubt_not_a_refusal(tmp_path, keyframe, code, message):
    # Unlike the rate limit, these codes do not say the task was not made: it may exist (and bill).
    with FakeMiniMax(api_key=KEY) as fake:
        fake.fault("submit", VendorFault.http(200, {"task_id": "", **base_resp(code, message)}))
        video = engine(fake, tmp_path / "jobs")
        with pytest.raises(ProviderError, match=f"code {code} .*whether it created the task is unknown.*dashboard"):
            video.generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "submitting"
        with pytest.raises(ProviderError, match="dashboard"):
            video.generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.of("submit")) == 1  # neither retried nor sent again by the next run


def test_a_task_minimax_no_longer_knows_is_lost_and_submitted_anew(tmp_path, keyframe):
    class Killed(BaseException):
        pass

    def killing_sleep(seconds: float) -> None:
        raise Killed

    with FakeMiniMax(api_key=KEY, default=Outcome(pending_polls=2)) as fake:
        with pytest.raises(Killed):
            engine(fake, tmp_path / "jobs", sleep=killing_sleep).generate(clip_job(keyframe), tmp_path / "c.mp4")
        fake.forget(fake.submissions[0].id)  # answered with HTTP 200, base_resp 2013 "task not found"
        with pytest.raises(ProviderError, match="MiniMax no longer knows it .*2013"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "lost"
        result = engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 2 and result.job_id == fake.submissions[1].id
    assert_clip(tmp_path / "c.mp4", 6.0)


def test_a_file_minimax_no_longer_has_is_lost_and_submitted_anew(tmp_path, keyframe):
    with FakeMiniMax(api_key=KEY, url_ttl_s=-1) as fake:
        with pytest.raises(ProviderError, match="HTTP 403"):  # the first download URL had expired
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
        fake.url_ttl_s = 60
        fake.expire_files()  # answered with HTTP 200, base_resp 2013 "file not found"
        with pytest.raises(ProviderError, match="MiniMax no longer knows it .*file not found"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "lost"
        result = engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 2 and result.job_id == fake.submissions[1].id


def test_a_task_past_the_timeout_is_polled_again_never_paid_twice(tmp_path, keyframe):
    # MiniMax has no cancel call: a task we stop waiting for may still finish and bill.
    with FakeMiniMax(api_key=KEY, default=Outcome(pending_polls=5)) as fake:
        with pytest.raises(ProviderError, match="could not cancel it: the next run polls the same job"):
            engine(fake, tmp_path / "jobs", job_timeout_s=0.03).generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "overdue"
        result = engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 1 and result.job_id == fake.submissions[0].id
    assert_clip(tmp_path / "c.mp4", 6.0)


def test_a_sensitive_output_stops_the_chain(tmp_path, keyframe):
    outcomes = {HAILUO: Outcome(result="failed", error={"status_code": 1027, "status_msg": "output video sensitive"})}
    with FakeMiniMax(api_key=KEY, outcomes=outcomes) as fake:
        with pytest.raises(JobRejected, match=r"output video sensitive \(code 1027\)"):
            engine(fake, tmp_path / "jobs", HAILUO, FAST_MODEL).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert [j.model for j in fake.submissions] == [HAILUO] and record(tmp_path / "jobs")["status"] == "rejected"


def test_a_sensitive_prompt_is_refused_at_submit_without_fallback(tmp_path, keyframe):
    with FakeMiniMax(api_key=KEY) as fake:
        fake.fault("submit", VendorFault.http(200, {"task_id": "", **base_resp(1026, "input new_sensitive")}))
        with pytest.raises(JobRejected, match="flagged the prompt or keyframe as sensitive .*1026"):
            engine(fake, tmp_path / "jobs", HAILUO, FAST_MODEL).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.of("submit")) == 1 and record(tmp_path / "jobs")["status"] == "not_submitted"


def test_a_failed_task_falls_back_to_hailuo_fast(tmp_path, keyframe):
    outcomes = {HAILUO: Outcome(result="failed")}  # base_resp 1000 "unknown error"
    with FakeMiniMax(api_key=KEY, outcomes=outcomes) as fake:
        result = engine(fake, tmp_path / "jobs", HAILUO, FAST_MODEL).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert [j.model for j in fake.submissions] == [HAILUO, FAST_MODEL] and result.model == FAST_MODEL
    assert record(tmp_path / "jobs")["history"][0]["error"] == "unknown error (code 1000)"
    assert_clip(tmp_path / "c.mp4", 6.0)


def test_the_rate_limit_code_in_a_200_reply_is_retried(tmp_path, keyframe):
    limited = base_resp(1002, "rate limit exceeded(RPM)")
    with FakeMiniMax(api_key=KEY) as fake:
        fake.fault("submit", VendorFault.http(200, limited), VendorFault.http(429, {}, retry_after=0))
        fake.fault("poll", VendorFault.http(200, limited))
        fake.fault("retrieve", VendorFault.http(200, limited))
        engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.of("submit")) == 3 and len(fake.submissions) == 1
    assert_clip(tmp_path / "c.mp4", 6.0)


def test_an_empty_balance_is_final_and_clear(tmp_path, keyframe):
    with FakeMiniMax(api_key=KEY) as fake:
        fake.fault("submit", VendorFault.http(200, {"task_id": "", **base_resp(1008, "insufficient balance")}))
        with pytest.raises(ProviderError, match="balance is used up .*1008.*top it up"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.of("submit")) == 1 and record(tmp_path / "jobs")["status"] == "not_submitted"


def test_an_unknown_model_names_the_preset_to_edit(tmp_path, keyframe):
    with FakeMiniMax(api_key=KEY) as fake:
        with pytest.raises(ProviderError, match=f"does not know the model 'Hailuo-9'.*update `model` in {PRESET}"):
            engine(fake, tmp_path / "jobs", "Hailuo-9").generate(clip_job(keyframe), tmp_path / "c.mp4")


def test_invalid_parameters_are_a_clear_final_error(tmp_path, keyframe):
    with FakeMiniMax(api_key=KEY) as fake:  # Hailuo 2.3 Fast has no 512P
        video = engine(fake, tmp_path / "jobs", FAST_MODEL, options={"resolution": "512P"})
        with pytest.raises(ProviderError, match=f"refused the parameters .*2013.*512P.*check the options in {PRESET}"):
            video.generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.of("submit")) == 1


@pytest.mark.parametrize("duration, options, problem", [
    (5.0, OPTIONS, "MiniMax sells 6 s and 10 s clips, not 5 s: set pricing.billing_seconds"),
    (10.0, {"resolution": "1080P"}, "1080P clips of 6 s only"),
])
def test_a_length_minimax_does_not_sell_is_refused_before_sending(tmp_path, keyframe, duration, options, problem):
    with FakeMiniMax(api_key=KEY) as fake:
        with pytest.raises(ProviderError, match=problem):
            engine(fake, tmp_path / "jobs", options=options).generate(clip_job(keyframe, duration), tmp_path / "c.mp4")
    assert fake.requests == [] and record(tmp_path / "jobs")["status"] == "not_submitted"


def test_an_expired_url_is_retrieved_afresh_by_the_next_run_without_paying_again(tmp_path, keyframe):
    with FakeMiniMax(api_key=KEY, url_ttl_s=-1) as fake:
        video = engine(fake, tmp_path / "jobs")
        with pytest.raises(ProviderError, match="HTTP 403"):
            video.generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "completed"
        fake.url_ttl_s = 2
        video.generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.submissions) == 1 and len(fake.of("retrieve")) == 2 and len(fake.downloads) == 1
    assert_clip(tmp_path / "c.mp4", 6.0)


def test_a_corrupt_download_is_refused(tmp_path, keyframe):
    with FakeMiniMax(api_key=KEY) as fake:
        fake.fault("download", *[VendorFault(corrupt=True)] * 3)
        with pytest.raises(ProviderError, match="no valid video after 3 attempts .*not a decodable video"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert record(tmp_path / "jobs")["status"] == "bad_output"


def test_the_preset_composes_and_bills_the_sold_length_from_the_price_table(tmp_path, keyframe):
    with FakeMiniMax(api_key=KEY) as fake:
        cfg = load_config(["video=minimax", f"video.base_url={fake.base_url}",
                           f"video.fallback.base_url={fake.base_url}", "video.poll_interval_s=0.01"])
        runtime = Runtime(output_dir=tmp_path / "out", cache_dir=tmp_path / "cache", cache_enabled=False,
                          budget=BudgetConfig())
        spec = json.dumps({"prompt": "Mara opens the letter", "seed": 7, "camera": "static", "duration": 4.0,
                           "encoding": {"width": 144, "height": 256, "fps": 12, "crf": 30, "preset": "ultrafast"}})
        call = Call(rule="generate_clip", step="clip", version=1, request={"duration": 4.0})
        billing = produce_clip(spec, keyframe, call, runtime)(cfg.video, {"mp4": tmp_path / "clip.mp4"})
    assert [m.model for m in cfg.video.chain()] == [HAILUO, FAST_MODEL] and cfg.video.preset == PRESET
    assert cfg.video.pricing.billing_seconds == [6, 10] and fake.submissions[0].body["duration"] == 6
    assert (billing.model, billing.cost_usd) == (HAILUO, pytest.approx(6 * 0.056))  # a 4 s scene is bought as 6 s
    assert_clip(tmp_path / "clip.mp4", 4.0)


def test_a_missing_key_is_named_before_anything_is_sent(tmp_path, keyframe, monkeypatch):
    monkeypatch.delenv(ENV)
    with FakeMiniMax(api_key=KEY) as fake:
        with pytest.raises(ProviderError, match=f"set the environment variable {ENV}"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert fake.requests == []


def test_a_wrong_key_answered_with_http_200_is_a_clear_error(tmp_path, keyframe, monkeypatch):
    monkeypatch.setenv(ENV, "wrong-key")
    with FakeMiniMax(api_key=KEY) as fake:
        with pytest.raises(ProviderError, match=f"MiniMax refused the key in {ENV} \\(code 1004: login fail"):
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.requests) == 1 and record(tmp_path / "jobs")["status"] == "not_submitted"


def test_a_key_echoed_back_is_kept_out_of_errors_and_records(tmp_path, keyframe):
    echo = base_resp(2013, f"invalid params, header Authorization: Bearer {KEY}")
    with FakeMiniMax(api_key=KEY) as fake:
        fake.fault("submit", VendorFault.http(200, echo))
        with pytest.raises(ProviderError) as caught:
            engine(fake, tmp_path / "jobs").generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert KEY not in str(caught.value) and "Bearer ***" in str(caught.value)
    assert KEY not in (tmp_path / "jobs" / "clip-0001.json").read_text()


@pytest.mark.parametrize("options, problem", [
    ({"resolution": "720P"}, "minimax option resolution"),
    ({"prompt_optimizer": "yes"}, "minimax option prompt_optimizer"),
    ({"seed": 3}, "minimax option seed: Extra inputs are not permitted"),
])
def test_bad_options_are_refused_when_the_config_is_validated(options, problem):
    with pytest.raises(ValueError, match=problem):
        ADAPTER.validate_options(options)
    ADAPTER.validate_options({"resolution": "1080P", "prompt_optimizer": False})
