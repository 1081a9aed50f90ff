"""Kling's own API through the shared job engine, against a fake Kling on 127.0.0.1: the vendor contract
(tests/unit/vendor_contract.py) and what only Kling does (JWT, external_task_id lookups, units)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from PIL import Image

from fakes.kling_server import FakeKling, kling_error
from fakes.vendor_base import Fault, Outcome
from fakes.vendor_checks import assert_delivered, record
from shortdrama.config import load_config
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors import adapter
from shortdrama.video.vendors.base import JobRequest, VendorModel
from shortdrama.video.vendors.kling import ADAPTER, jwt_token
from vendor_contract import (ForgottenJobsAreLost, PolledAgainAfterTheTimeout, RefusedAtSubmit, RefusedBeforeSending,
                             VendorContract)

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


class TestKling(PolledAgainAfterTheTimeout, RefusedAtSubmit, RefusedBeforeSending, ForgottenJobsAreLost,
                VendorContract):
    vendor, preset = "kling", PRESET
    env = {"KLING_ACCESS_KEY": ACCESS, "KLING_SECRET_KEY": SECRET}
    models = ("kling-v2-1", "kling-v1-6")
    leak_markers = ("eyJ",)  # the JWT signed with the secret: no variable holds it, it is a credential all the same
    failures = (("internal error", Outcome(result="failed", error={"task_status_msg": "internal error, please retry"}),
                 "internal error, please retry", "failed"),)
    refusals = (("risk control", Outcome(result="failed", error={
        "task_status_msg": "Failure to pass the risk control system"}), "risk control"),)
    echo_fault = Fault(status=400, body={"code": 1200, "message": "bad request"}, echo_auth=True)
    echo_shows = ("received_authorization",)
    transient_fault = Fault.http(429, kling_error(1302, "rate limit"))
    unknown_model = "kling-v0-9"
    wrong_env = {"KLING_SECRET_KEY": "not-the-secret"}
    wrong_key_shows = "credentials.*KLING_ACCESS_KEY and KLING_SECRET_KEY"
    # Kling's parallel-task limit and its plain rate limit; arrears cannot be waited out.
    rate_limited = {"submit": (Fault.http(429, kling_error(1303, "parallel task over resource pack limit")),
                               Fault.http(429, kling_error(1302, "rate limit")))}
    account_refusal = Fault.http(429, kling_error(1101, "account in arrears"))
    account_refusal_shows = "code 1101.*KLING_ACCESS_KEY"
    submit_refusals = (("unsafe prompt", None, "an unsafe scene", "code 1301"),)
    unsendable = (("no keyframe", {}, {"reference_image": None}, "needs the scene's keyframe"),)
    forgotten_shows = "HTTP 404"  # code 1203: the task does not exist

    engine = staticmethod(engine)

    def fake(self, **options) -> FakeKling:
        return FakeKling(access_key=ACCESS, secret_key=SECRET, **options)

    def failure_saying(self, text: str) -> Outcome:
        return Outcome(result="failed", error={"task_status_msg": text})

    def check_backoff(self, sleeps: list[float]) -> None:
        assert len(sleeps) >= 2
        assert 0.5 <= sleeps[0] <= 1.0, "the parallel-task limit backs off from 1 s, not the 0.01 s base delay"


def test_a_clip_is_made_with_kling_s_own_protocol_and_units(tmp_path, keyframe):
    with FakeKling(access_key=ACCESS, secret_key=SECRET, default=Outcome(pending_polls=2, units=1.5)) as kling:
        result = engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    [task] = kling.submissions
    body = task.body
    assert (body["model_name"], body["duration"], body["mode"], body["negative_prompt"]) == \
        ("kling-v2-1", "5", "std", "blurry, watermark")
    assert "aspect_ratio" not in body and base64.b64decode(body["image"]) == keyframe.read_bytes()
    # the JWT never travels to the storage host; neither key nor the signed URL is in the record
    rec = assert_delivered(kling, result, tmp_path / "jobs", tmp_path / "clip.mp4", 5.0, "kling", task.id,
                           ACCESS, SECRET)
    assert body["external_task_id"] == rec["idempotency_key"] and not kling.auth_failures
    assert len(kling.of("poll")) == 3 and result.units == 1.5
    assert (rec["vendor_status"], rec["units"]) == ("succeed", 1.5)


def test_the_jwt_is_hs256_over_iss_exp_nbf():
    head, claims, _ = jwt_token("ak", "sk", now=1_000_000).split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    assert decode(head) == {"alg": "HS256", "typ": "JWT"}
    assert decode(claims) == {"iss": "ak", "exp": 1_001_800, "nbf": 999_995}


def test_a_lost_submit_reply_is_found_by_external_task_id_not_paid_twice(tmp_path, keyframe):
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        kling.fault("submit", Fault(answer_then_reset=True))
        result = engine(kling, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    assert len(kling.submissions) == 1 and len(kling.of("submit")) == 1
    assert result.job_id == kling.submissions[0].id and record(tmp_path / "jobs")["recovered"] is True


def test_a_build_killed_while_submitting_looks_the_task_up_first(tmp_path, keyframe):
    jobs = tmp_path / "jobs"
    with FakeKling(access_key=ACCESS, secret_key=SECRET) as kling:
        # The first run died between sending the submit and saving the task id: only "submitting" is on disk.
        kling.fault("submit", Fault(answer_then_reset=True))
        kling.fault("poll", Fault.http(500, kling_error(5000, "internal error")))  # the lookup fails too
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


def test_the_preset_composes_and_its_options_are_checked():
    config = load_config(["video=kling"])
    video = config.video
    assert (video.provider, video.api_key_env, video.secret_key_env, video.preset) == \
        ("kling", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", PRESET)
    assert video.checked and video.pricing.per_unit > 0 and video.fallback.provider == "kling"
    assert adapter("kling") is ADAPTER
    with pytest.raises(Exception, match="kling option mode"):
        load_config(["video=kling", "video.options.mode=ultra"])
