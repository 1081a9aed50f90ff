"""Kling's own API through the shared job engine, against a fake Kling on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from PIL import Image

from fakes.kling_server import FakeKling, kling_error
from fakes.vendor_base import Outcome, VendorFault
from fakes.vendor_checks import record
from shortdrama.config import load_config
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.media import probe
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors import adapter
from shortdrama.video.vendors.base import JobRejected, JobRequest, VendorModel
from shortdrama.video.vendors.kling import ADAPTER, jwt_token

ACCESS, SECRET = "ak-test-0a1b2c3d", "sk-test-secret-9z8y7x"
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_total_s=20, request_timeout_s=2.0)
PRESET = "conf/video/kling.yaml"


@pytest.fixture(autouse=True)
def keys(monkeypatch):
    monkeypatch.setenv("KLING_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("KLING_SECRET_KEY", SECRET)


@pytest.fixture
def keyframe(tmp_path) -> Path:
    path = tmp_path / "keyframe.png"
    Image.new("RGB", (9, 16), "navy").save(path)
    return path


def engine(fake: FakeKling, job_dir: Path, *models: str, sleep=lambda s: None, **changes) -> JobEngine:
    chain = [ChainEntry(ADAPTER, VendorModel(fake.base_url, model, "KLING_ACCESS_KEY", "KLING_SECRET_KEY",
                                             options={"mode": "std"}, preset=PRESET))
             for model in (models or ("kling-v2-1",))]
    values = dict(poll_interval_s=0.01, job_timeout_s=10.0, retry=FAST, duration_tolerance_s=0.3)
    values.update(changes)
    return JobEngine(chain, EngineSettings(**values), job_dir, sleep=sleep)


def job(keyframe: Path, key: str = "clip-0001", prompt: str = "Mara opens the letter; slow push-in") -> JobRequest:
    return JobRequest(key=key, prompt=prompt, duration=5.0, width=720, height=1280, fps=24, seed=7,
                      reference_image=keyframe, negative_prompt="blurry, watermark")


def test_a_clip_is_made_with_kling_s_own_protocol_and_units(tmp_path, keyframe):
    with FakeKling(access_key=ACCESS, secret_key=SECRET, default=Outcome(pending_polls=2, units=1.5)) as kling:
        result = engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    [task] = kling.submissions
    body = task.body
    assert (body["model_name"], body["duration"], body["mode"], body["negative_prompt"]) == \
        ("kling-v2-1", "5", "std", "blurry, watermark")
    assert "aspect_ratio" not in body and base64.b64decode(body["image"]) == keyframe.read_bytes()
    assert body["external_task_id"] == record(tmp_path / "jobs")["idempotency_key"]
    assert all(r.authorized for r in kling.requests) and not kling.auth_failures
    assert kling.credentials_at_storage == 0, "the JWT never travels to the storage host"
    assert len(kling.of("poll")) == 3 and kling.downloads == [task.id]
    assert (result.job_id, result.vendor, result.units) == (task.id, "kling", 1.5)
    assert abs(probe(tmp_path / "clip.mp4").duration - 5.0) < 0.3
    rec = record(tmp_path / "jobs")
    assert (rec["status"], rec["vendor_status"], rec["units"]) == ("completed", "succeed", 1.5)
    assert ACCESS not in json.dumps(rec) and SECRET not in json.dumps(rec)


def test_the_jwt_is_hs256_over_iss_exp_nbf():
    head, claims, _ = jwt_token("ak", "sk", now=1_000_000).split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    assert decode(head) == {"alg": "HS256", "typ": "JWT"}
    assert decode(claims) == {"iss": "ak", "exp": 1_001_800, "nbf": 999_995}


def test_a_build_killed_while_polling_resumes_the_same_task(tmp_path, keyframe):
    class Killed(Exception):
        pass

    def killing_sleep(seconds):
        raise Killed

    with FakeKling(access_key=ACCESS, secret_key=SECRET, default=Outcome(pending_polls=3)) as kling:
        with pytest.raises(Killed):
            engine(kling, tmp_path / "jobs", sleep=killing_sleep).generate(job(keyframe), tmp_path / "clip.mp4")
        assert record(tmp_path / "jobs")["status"] == "submitted"
        result = engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    assert len(kling.submissions) == 1 and result.job_id == kling.submissions[0].id


def test_a_lost_submit_reply_is_found_by_external_task_id_not_paid_twice(tmp_path, keyframe):
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        kling.fault("submit", VendorFault(answer_then_reset=True))
        result = engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    assert len(kling.submissions) == 1 and len(kling.of("submit")) == 1
    assert result.job_id == kling.submissions[0].id and record(tmp_path / "jobs")["recovered"] is True


def test_a_build_killed_while_submitting_looks_the_task_up_first(tmp_path, keyframe):
    jobs = tmp_path / "jobs"
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        # The first run died between sending the submit and saving the task id: only "submitting" is on disk.
        kling.fault("submit", VendorFault(answer_then_reset=True))
        kling.fault("poll", VendorFault.http(500, kling_error(5000, "internal error")))  # the lookup fails too
        with pytest.raises(ProviderError):
            engine(kling, jobs, retry=RetryPolicy(max_attempts=1, request_timeout_s=2.0)).generate(
                job(keyframe), tmp_path / "clip.mp4")
        assert record(jobs)["status"] == "submitting" and len(kling.submissions) == 1
        result = engine(kling, jobs).generate(job(keyframe), tmp_path / "clip.mp4")
    assert len(kling.submissions) == 1 and result.job_id == kling.submissions[0].id


def test_a_build_killed_before_its_submit_arrived_submits_once(tmp_path, keyframe):
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        (jobs / "clip-0001.json").write_text(json.dumps({
            "key": "clip-0001", "vendor": "kling", "model": "kling-v2-1", "base_url": kling.base_url,
            "status": "submitting", "idempotency_key": "sd-clip0001-klingv21-0"}))
        engine(kling, jobs).generate(job(keyframe), tmp_path / "clip.mp4")
        assert len(kling.of("poll")) >= 2  # the lookup by external_task_id came first, and found nothing
    assert [t.external_id for t in kling.submissions] == ["sd-clip0001-klingv21-0"]


def test_parallel_task_limit_429_is_retried_but_arrears_are_final(tmp_path, keyframe):
    sleeps: list[float] = []
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        kling.fault("submit", VendorFault.http(429, kling_error(1303, "parallel task over resource pack limit")),
                    VendorFault.http(429, kling_error(1302, "rate limit")))
        engine(kling, tmp_path / "jobs", sleep=sleeps.append).generate(job(keyframe), tmp_path / "clip.mp4")
        assert len(kling.submissions) == 1 and len(kling.of("submit")) == 3 and len(sleeps) >= 2
        assert 0.5 <= sleeps[0] <= 1.0, "the parallel-task limit backs off from 1 s, not the 0.01 s base delay"
        kling.fault("submit", VendorFault.http(429, kling_error(1101, "account in arrears")))
        with pytest.raises(ProviderError, match="code 1101.*KLING_ACCESS_KEY"):
            engine(kling, tmp_path / "jobs2").generate(job(keyframe, key="clip-0002"), tmp_path / "c2.mp4")
    assert len(kling.of("submit")) == 4  # the arrears answer was not retried


def test_risk_control_failure_stops_the_chain_internal_failure_falls_back(tmp_path, keyframe):
    refused = Outcome(result="failed", error={"task_status_msg": "Failure to pass the risk control system"})
    with FakeKling(access_key=ACCESS, secret_key=SECRET, outcomes={"kling-v2-1": refused}) as kling:
        with pytest.raises(JobRejected, match="risk control"):
            engine(kling, tmp_path / "jobs", "kling-v2-1", "kling-v1-6").generate(job(keyframe), tmp_path / "c.mp4")
    assert [t.model for t in kling.submissions] == ["kling-v2-1"] and record(tmp_path / "jobs")["status"] == "rejected"
    broken = Outcome(result="failed", error={"task_status_msg": "internal error, please retry"})
    with FakeKling(access_key=ACCESS, secret_key=SECRET, outcomes={"kling-v2-1": broken}) as kling:
        result = engine(kling, tmp_path / "jobs2", "kling-v2-1", "kling-v1-6").generate(job(keyframe), tmp_path / "c.mp4")
    assert [t.model for t in kling.submissions] == ["kling-v2-1", "kling-v1-6"] and result.model == "kling-v1-6"


def test_an_unsafe_prompt_refused_at_submit_is_a_clear_error(tmp_path, keyframe):
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        with pytest.raises(JobRejected, match="code 1301"):
            engine(kling, tmp_path / "jobs", "kling-v2-1", "kling-v1-6").generate(
                job(keyframe, prompt="an unsafe scene"), tmp_path / "c.mp4")
    assert kling.submissions == [] and len(kling.of("submit")) == 1
    assert record(tmp_path / "jobs")["status"] == "not_submitted"


def test_a_retired_model_names_the_preset_to_update(tmp_path, keyframe):
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        with pytest.raises(ProviderError, match=r"kling-v0-9.*update `model` in conf/video/kling.yaml"):
            engine(kling, tmp_path / "jobs", "kling-v0-9").generate(job(keyframe), tmp_path / "c.mp4")
    assert record(tmp_path / "jobs")["status"] == "not_submitted", "a refused create is not a job to look for"


def test_both_keys_come_from_the_environment_before_any_request(tmp_path, keyframe, monkeypatch):
    monkeypatch.delenv("KLING_SECRET_KEY")
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        with pytest.raises(ProviderError, match="set the environment variable KLING_SECRET_KEY"):
            engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
    assert kling.requests == []
    monkeypatch.setenv("KLING_SECRET_KEY", "not-the-secret")
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        with pytest.raises(ProviderError, match="credentials.*KLING_ACCESS_KEY and KLING_SECRET_KEY") as caught:
            engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
    assert "not-the-secret" not in str(caught.value) and kling.submissions == []


def test_the_signed_url_is_fetched_at_once_and_a_corrupt_video_refused(tmp_path, keyframe):
    with FakeKling(access_key=ACCESS, secret_key=SECRET, url_ttl_s=2.0) as kling:
        engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
        kling.fault("download", *[VendorFault(corrupt=True)] * 3)
        with pytest.raises(ProviderError, match="not a decodable video"):
            engine(kling, tmp_path / "jobs").generate(job(keyframe, key="clip-0002"), tmp_path / "c2.mp4")
    assert record(tmp_path / "jobs", "clip-0002")["status"] == "bad_output"
    assert not (tmp_path / "c2.mp4").exists()


def test_the_preset_composes_and_its_options_are_checked():
    config = load_config(["video=kling"])
    video = config.video
    assert (video.provider, video.api_key_env, video.secret_key_env, video.preset) == \
        ("kling", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", PRESET)
    assert video.checked and video.pricing.per_unit > 0 and video.fallback.provider == "kling"
    assert adapter("kling") is ADAPTER
    with pytest.raises(Exception, match="kling option mode"):
        load_config(["video=kling", "video.options.mode=ultra"])


def test_an_expired_download_url_is_asked_for_again_not_paid_again(tmp_path, keyframe):
    with FakeKling(access_key=ACCESS, secret_key=SECRET, url_ttl_s=-1.0) as kling:
        with pytest.raises(ProviderError, match="HTTP 403"):
            engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
        assert record(tmp_path / "jobs")["status"] == "completed"
        kling.url_ttl_s = 60.0
        polls = len(kling.of("poll"))
        result = engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    assert len(kling.submissions) == 1 and result.job_id == kling.submissions[0].id
    assert len(kling.of("poll")) == polls + 1, "the finished task was asked once for a fresh URL"


def test_a_task_past_the_timeout_is_polled_again_never_paid_twice(tmp_path, keyframe):
    # Kling has no cancel call: a task we stop waiting for may still finish and bill.
    with FakeKling(access_key=ACCESS, secret_key=SECRET, outcomes={"kling-v2-1": [Outcome(result="stuck")]}) as kling:
        with pytest.raises(ProviderError, match="could not cancel it: the next run polls the same job"):
            engine(kling, tmp_path / "jobs", job_timeout_s=0.05, poll_interval_s=0.01).generate(
                job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "overdue"
        polls = len(kling.of("poll"))
        with pytest.raises(ProviderError, match="did not complete"):
            engine(kling, tmp_path / "jobs", job_timeout_s=0.05, poll_interval_s=0.01).generate(
                job(keyframe), tmp_path / "c.mp4")
    assert len(kling.submissions) == 1 and len(kling.of("poll")) > polls


def test_a_task_kling_forgot_is_lost_not_an_unknown_model(tmp_path, keyframe):
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        kling.fault("poll", VendorFault.http(404, kling_error(1203, "task does not exist")))
        with pytest.raises(ProviderError, match="HTTP 404") as caught:
            engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
        assert "model" not in str(caught.value) and record(tmp_path / "jobs")["status"] == "lost"
        engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
    assert len(kling.submissions) == 2, "a lost task is submitted anew"


def test_a_request_refused_before_sending_records_no_job(tmp_path):
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        with pytest.raises(ProviderError, match="needs the scene's keyframe"):
            engine(kling, tmp_path / "jobs").generate(
                JobRequest("clip-0001", "p", 5.0, 720, 1280, 24, 7, None), tmp_path / "c.mp4")
    assert kling.requests == [] and record(tmp_path / "jobs")["status"] == "not_submitted"


def test_a_server_echoing_the_jwt_never_gets_it_into_errors_or_records(tmp_path, keyframe):
    leaky = VendorFault(status=400, body={"code": 1200, "message": "bad request"}, echo_auth=True)
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        kling.fault("submit", leaky)
        with pytest.raises(ProviderError) as caught:
            engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
    assert "received_authorization" in str(caught.value) and "Bearer ***" in str(caught.value)
    assert "eyJ" not in str(caught.value) and "eyJ" not in json.dumps(record(tmp_path / "jobs"))
