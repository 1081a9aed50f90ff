"""The Seedance (Volcengine Ark) adapter through the job engine, against a fake Ark API on 127.0.0.1: the vendor
contract (tests/unit/vendor_contract.py) and what only Ark does (text commands, token usage, cancels of
queued tasks only)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from fakes.seedance_server import NOT_CANCELLABLE, PATH, FakeArk, ark_error
from fakes.vendor_base import Fault, Outcome
from fakes.vendor_checks import assert_clip, assert_delivered, record
from shortdrama.config import BudgetConfig, load_config
from shortdrama.cost.call import Call, Runtime
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors.base import JobRequest, VendorModel
from shortdrama.video.vendors.seedance import ADAPTER, aspect_ratio
from vendor_contract import CancelledAtTheTimeout, LostCreatesWaitForTheUser, RefusedAtSubmit, VendorContract

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


class TestSeedance(LostCreatesWaitForTheUser, CancelledAtTheTimeout, RefusedAtSubmit, VendorContract):
    vendor, env, preset = "seedance", {ENV: KEY}, PRESET
    models = (PRO, LITE)
    # An internal failure, or a task Ark expired after it sat queued too long (the fake answers "expired").
    failures = (("failed", Outcome(result="failed"),
                 "The service encountered an unexpected internal error. (InternalServiceError)", "failed"),
                ("expired", Outcome(result="failed", error={"status": "expired"}), "the task was expired on Ark's side",
                 "expired"))
    refusals = (("sensitive output", Outcome(result="failed", error={
        "code": "OutputVideoSensitiveContentDetected", "message": "The output video may contain sensitive content."}),
                 "OutputVideoSensitiveContentDetected"),)
    echo_fault = Fault.http(400, ark_error("InvalidParameter", f"malformed header Authorization: Bearer {KEY}"))
    unknown_model = "doubao-seedance-9"
    wrong_env = {ENV: "ark-wrong"}
    wrong_key_shows = f"Ark refused the key in {ENV} \\(AuthenticationError"
    rate_limited = {"submit": (Fault.http(429, ark_error("RateLimitExceeded", "Too many requests.", "TooManyRequests"),
                                          retry_after=0),
                               Fault.http(429, ark_error("ServerOverloaded", "The service is overloaded.",
                                                         "TooManyRequests"))),
                    "poll": (Fault.http(429, ark_error("RateLimitExceeded", "Too many requests.", "TooManyRequests")),)}
    account_refusal = Fault.http(429, ark_error("QuotaExceeded", "Your quota is exhausted."))
    account_refusal_shows = "quota or spending limit is reached \\(QuotaExceeded"
    submit_refusals = tuple((code, Fault.http(400, ark_error(code, "The request may contain sensitive content.")), None,
                             f"sensitive \\({code}")
                            for code in ("InputTextSensitiveContentDetected", "InputImageSensitiveContentDetected"))
    # Ark cancels a task still queued; a running one it refuses to (see the tests below).
    cancel_method, cancel_timeout, cancelled_while = "DELETE", 0.01, "queued"

    engine = staticmethod(engine)

    def fake(self, **options) -> FakeArk:
        return FakeArk(api_key=KEY, **options)

    def failure_saying(self, text: str) -> Outcome:
        return Outcome(result="failed", error={"code": "InternalServiceError", "message": text})


def test_a_task_is_created_with_text_commands_polled_and_downloaded_at_once(tmp_path, keyframe):
    statuses: list[str] = []
    with FakeArk(api_key=KEY, default=Outcome(pending_polls=2), url_ttl_s=2) as fake:
        def note_status(seconds: float) -> None:
            statuses.append(record(tmp_path / "jobs").get("vendor_status"))

        result = engine(fake, tmp_path / "jobs", sleep=note_status).generate(clip_job(keyframe), tmp_path / "c.mp4")
    [job] = fake.submissions
    # the fake answers 401 to anything but Bearer <key>; the key went to Ark only, never to the storage host
    rec = assert_delivered(fake, result, tmp_path / "jobs", tmp_path / "c.mp4", 5.0, "seedance", job.id, KEY)
    assert job.body["model"] == PRO
    text, image = job.body["content"]
    assert text == {"type": "text", "text": "Mara opens the letter; close-up --ratio 9:16 --resolution 720p "
                                            "--duration 5 --seed 7 --camerafixed false --watermark false"}
    assert (image["type"], image["role"]) == ("image_url", "first_frame")
    assert base64.b64decode(image["image_url"]["url"].removeprefix("data:image/png;base64,")) == keyframe.read_bytes()
    assert statuses == ["queued", "running"]
    tokens = 720 * 1280 * 24 * 5 // 1024
    assert result.units == tokens  # usage.completion_tokens: what Ark bills
    assert (rec["vendor_status"], rec["units"]) == ("succeeded", tokens)


def test_dashes_in_the_prompt_cannot_add_commands(tmp_path, keyframe):
    with FakeArk(api_key=KEY) as fake:
        engine(fake, tmp_path / "jobs").generate(clip_job(keyframe, prompt="She whispers --duration 10 -- wait"),
                                                 tmp_path / "c.mp4")
    assert fake.commands[fake.submissions[0].id]["duration"] == "5"
    assert fake.submissions[0].body["content"][0]["text"].startswith("She whispers -duration 10 - wait --ratio")


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


@pytest.mark.parametrize("when", ["running at the last poll", "started running before the cancel"])
def test_a_running_task_past_the_timeout_is_polled_again_never_paid_twice(tmp_path, keyframe, when):
    # Ark cancels only queued tasks: a running one finishes and bills, so the next run waits for it. A task
    # the last poll found running gets no DELETE (that call deletes a task that has just finished); one that
    # started running since is refused by Ark.
    with FakeArk(api_key=KEY, default=Outcome(pending_polls=8)) as fake:
        timeout = 0.5 if when == "running at the last poll" else 0.01
        if when == "started running before the cancel":
            status, code = NOT_CANCELLABLE
            fake.fault("cancel", Fault.http(status, ark_error(code, "The task is running.")))
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


def test_the_preset_composes_and_the_ledger_bills_the_reported_tokens(tmp_path, keyframe):
    with FakeArk(api_key=KEY, default=Outcome(units=112640)) as fake:
        cfg = load_config(["video=seedance", f"video.base_url={fake.base_url}",
                           f"video.fallback.base_url={fake.base_url}", "video.poll_interval_s=0.01"])
        runtime = Runtime(output_dir=tmp_path / "out", cache_dir=tmp_path / "cache", cache_enabled=False,
                          budget=BudgetConfig())
        spec = json.dumps({"prompt": "Mara opens the letter", "seed": 7, "camera": "static", "duration": 4.0,
                           "encoding": {"width": 144, "height": 256, "fps": 12, "crf": 30, "preset": "ultrafast"}})
        call = Call(rule="generate_clip", step="clip", version=1, request={"duration": 4.0})
        from shortdrama.stages.clips import ClipSpec, produce_clip

        clip = ClipSpec(**json.loads(spec), video=cfg.video.result_fields())
        billing = produce_clip(clip, keyframe, call, runtime)(cfg.video, {"mp4": tmp_path / "clip.mp4"})
    assert [m.model for m in cfg.video.chain()] == [PRO, LITE] and cfg.video.preset == PRESET
    assert fake.commands[fake.submissions[0].id]["duration"] == "5"  # a 4 s scene bought as 5 s
    assert billing.model == PRO and billing.cost_usd == pytest.approx(112640 * 0.0000021, abs=1e-6)
    assert "112640 units" in billing.note
    assert_clip(tmp_path / "clip.mp4", 4.0)


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
