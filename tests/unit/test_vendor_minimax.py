"""The MiniMax (Hailuo) adapter through the job engine, against a fake api.minimax.io on 127.0.0.1: the vendor
contract (tests/unit/vendor_contract.py) and what only MiniMax does (errors in HTTP 200 replies, file
retrieval, the lengths it sells)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from PIL import Image

from fakes.minimax_server import FakeMiniMax, base_resp
from fakes.vendor_base import Fault, Outcome
from fakes.vendor_checks import assert_clip, assert_delivered, record
from shortdrama.config import BudgetConfig, load_config
from shortdrama.cost.call import Call, Runtime
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors.base import JobRequest, VendorModel
from shortdrama.video.vendors.minimax import ADAPTER
from vendor_contract import (ForgottenJobsAreLost, LostCreatesWaitForTheUser, PolledAgainAfterTheTimeout,
                             RefusedAtSubmit, RefusedBeforeSending, VendorContract)

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


LIMITED = base_resp(1002, "rate limit exceeded(RPM)")


class TestMiniMax(LostCreatesWaitForTheUser, PolledAgainAfterTheTimeout, RefusedAtSubmit, RefusedBeforeSending,
                  ForgottenJobsAreLost, VendorContract):
    vendor, env, preset = "minimax", {ENV: KEY}, PRESET
    models = (HAILUO, FAST_MODEL)
    duration = 6.0  # MiniMax sells 6 s and 10 s clips
    keyframe_name = "key.jpg"
    failures = (("unknown error", Outcome(result="failed"),  # base_resp 1000 "unknown error"
                 "unknown error (code 1000)", "Fail"),)
    refusals = (("sensitive output", Outcome(result="failed", error={"status_code": 1027,
                                                                     "status_msg": "output video sensitive"}),
                 r"output video sensitive \(code 1027\)"),)
    echo_fault = Fault.http(200, base_resp(2013, f"invalid params, header Authorization: Bearer {KEY}"))
    unknown_model = "Hailuo-9"
    wrong_env = {ENV: "wrong-key"}  # answered with HTTP 200 and code 1004
    wrong_key_shows = f"MiniMax refused the key in {ENV} \\(code 1004: login fail"
    fresh_url_routes = ("poll", "retrieve")
    # The rate-limit code in a 200 reply, on every route, and a plain 429.
    rate_limited = {"submit": (Fault.http(200, LIMITED), Fault.http(429, {}, retry_after=0)),
                    "poll": (Fault.http(200, LIMITED),), "retrieve": (Fault.http(200, LIMITED),)}
    account_refusal = Fault.http(200, {"task_id": "", **base_resp(1008, "insufficient balance")})
    account_refusal_shows = "balance is used up .*1008.*top it up"
    submit_refusals = (("sensitive prompt", Fault.http(200, {"task_id": "", **base_resp(1026, "input new_sensitive")}),
                        None, "flagged the prompt or keyframe as sensitive .*1026"),)
    unsendable = (("5 s", {}, {"duration": 5.0},
                   "MiniMax sells 6 s and 10 s clips, not 5 s: set pricing.billing_seconds"),
                  ("1080P 10 s", {"options": {"resolution": "1080P"}}, {"duration": 10.0}, "1080P clips of 6 s only"))
    forgotten_shows = "MiniMax no longer knows it .*2013"  # HTTP 200, base_resp 2013 "task not found"

    engine = staticmethod(engine)

    def fake(self, **options) -> FakeMiniMax:
        return FakeMiniMax(api_key=KEY, **options)

    def failure_saying(self, text: str) -> Outcome:
        return Outcome(result="failed", error={"status_code": 1000, "status_msg": text})


def test_a_task_is_created_polled_and_its_file_downloaded_at_once(tmp_path, keyframe):
    statuses: list[str] = []
    with FakeMiniMax(api_key=KEY, default=Outcome(pending_polls=3), url_ttl_s=2) as fake:
        def note_status(seconds: float) -> None:
            statuses.append(record(tmp_path / "jobs").get("vendor_status"))

        result = engine(fake, tmp_path / "jobs", sleep=note_status).generate(clip_job(keyframe), tmp_path / "c.mp4")
    [job] = fake.submissions
    # the fake answers code 1004 to anything but Bearer <key>; the key went to the API only, never to the storage host
    rec = assert_delivered(fake, result, tmp_path / "jobs", tmp_path / "c.mp4", 6.0, "minimax", job.id, KEY)
    body = job.body
    assert set(body) == {"model", "prompt", "first_frame_image", "duration", "resolution", "prompt_optimizer"}
    assert (body["model"], body["duration"], body["resolution"], body["prompt_optimizer"]) == (HAILUO, 6, "768P", True)
    assert type(body["duration"]) is int  # no negative prompt, no seed: MiniMax has neither
    assert base64.b64decode(body["first_frame_image"].removeprefix("data:image/jpeg;base64,")) == keyframe.read_bytes()
    assert statuses == ["Preparing", "Queueing", "Processing"]  # waited out, one poll interval each
    assert [len(fake.of(route)) for route in ("poll", "retrieve")] == [4, 1]
    assert result.units is None and rec["vendor_status"] == "Success"  # MiniMax reports no cost: the price table


@pytest.mark.parametrize("code, message", [(1000, "unknown error"), (1001, "request timeout"),
                                           (1013, "internal service error")])
def test_an_unsure_error_code_on_create_is_a_doubt_not_a_refusal(tmp_path, keyframe, code, message):
    # Unlike the rate limit, these codes do not say the task was not made: it may exist (and bill).
    with FakeMiniMax(api_key=KEY) as fake:
        fake.fault("submit", Fault.http(200, {"task_id": "", **base_resp(code, message)}))
        video = engine(fake, tmp_path / "jobs")
        with pytest.raises(ProviderError, match=f"code {code} .*whether it created the task is unknown.*dashboard"):
            video.generate(clip_job(keyframe), tmp_path / "c.mp4")
        assert record(tmp_path / "jobs")["status"] == "submitting"
        with pytest.raises(ProviderError, match="dashboard"):
            video.generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.of("submit")) == 1  # neither retried nor sent again by the next run


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


def test_invalid_parameters_are_a_clear_final_error(tmp_path, keyframe):
    with FakeMiniMax(api_key=KEY) as fake:  # Hailuo 2.3 Fast has no 512P
        video = engine(fake, tmp_path / "jobs", FAST_MODEL, options={"resolution": "512P"})
        with pytest.raises(ProviderError, match=f"refused the parameters .*2013.*512P.*check the options in {PRESET}"):
            video.generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert len(fake.of("submit")) == 1


def test_the_preset_composes_and_bills_the_sold_length_from_the_price_table(tmp_path, keyframe):
    with FakeMiniMax(api_key=KEY) as fake:
        cfg = load_config(["video=minimax", f"video.base_url={fake.base_url}",
                           f"video.fallback.base_url={fake.base_url}", "video.poll_interval_s=0.01"])
        runtime = Runtime(output_dir=tmp_path / "out", cache_dir=tmp_path / "cache", cache_enabled=False,
                          budget=BudgetConfig())
        spec = json.dumps({"prompt": "Mara opens the letter", "seed": 7, "camera": "static", "duration": 4.0,
                           "encoding": {"width": 144, "height": 256, "fps": 12, "crf": 30, "preset": "ultrafast"}})
        call = Call(rule="generate_clip", step="clip", version=1, request={"duration": 4.0})
        from shortdrama.stages.clips import ClipSpec, produce_clip

        clip = ClipSpec(**json.loads(spec), video=cfg.video.result_fields())
        billing = produce_clip(clip, keyframe, call, runtime)(cfg.video, {"mp4": tmp_path / "clip.mp4"})
    assert [m.model for m in cfg.video.chain()] == [HAILUO, FAST_MODEL] and cfg.video.preset == PRESET
    assert cfg.video.pricing.billing_seconds == [6, 10] and fake.submissions[0].body["duration"] == 6
    assert (billing.model, billing.cost_usd) == (HAILUO, pytest.approx(6 * 0.056))  # a 4 s scene is bought as 6 s
    assert_clip(tmp_path / "clip.mp4", 4.0)


@pytest.mark.parametrize("options, problem", [
    ({"resolution": "720P"}, "minimax option resolution"),
    ({"prompt_optimizer": "yes"}, "minimax option prompt_optimizer"),
    ({"seed": 3}, "minimax option seed: Extra inputs are not permitted"),
])
def test_bad_options_are_refused_when_the_config_is_validated(options, problem):
    with pytest.raises(ValueError, match=problem):
        ADAPTER.validate_options(options)
    ADAPTER.validate_options({"resolution": "1080P", "prompt_optimizer": False})
