"""Runway's own API through the shared job engine, against a fake Runway on 127.0.0.1: the vendor contract
(tests/unit/vendor_contract.py) and what only Runway does (version header, SAFETY codes, ratios, prompt length)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from fakes.runway_server import VERSION, FakeRunway, runway_error
from fakes.vendor_base import Fault, Outcome
from fakes.vendor_checks import assert_delivered
from shortdrama.config import BudgetConfig, load_config
from shortdrama.cost.call import Call, Runtime
from shortdrama.errors import ConfigError
from shortdrama.http import RetryPolicy
from shortdrama.media import probe
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors import adapter
from shortdrama.video.vendors.base import JobRequest, VendorModel
from shortdrama.video.vendors.runway import ADAPTER, failure_kind, nearest_ratio, truncate_prompt
from vendor_contract import CancelledAtTheTimeout, LostCreatesWaitForTheUser, VendorContract

KEY = "key_runway_test_4f2a9c71"
ENV = "RUNWAYML_API_SECRET"
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_total_s=20, request_timeout_s=2.0)
PRESET = "conf/video/runway.yaml"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv(ENV, KEY)


@pytest.fixture
def keyframe(tmp_path) -> Path:
    path = tmp_path / "keyframe.png"
    Image.new("RGB", (9, 16), "navy").save(path)
    return path


def engine(fake: FakeRunway, job_dir: Path, *models: str, sleep=lambda s: None, options=None, **changes) -> JobEngine:
    chain = [ChainEntry(ADAPTER, VendorModel(fake.base_url, model, ENV, options=options or {}, preset=PRESET))
             for model in (models or ("gen4_turbo",))]
    values = dict(poll_interval_s=0.01, job_timeout_s=10.0, retry=FAST, duration_tolerance_s=0.3)
    values.update(changes)
    return JobEngine(chain, EngineSettings(**values), job_dir, sleep=sleep)


def job(keyframe: Path, key: str = "clip-0001", prompt: str = "Mara opens the letter; slow push-in",
        width: int = 720, height: int = 1280) -> JobRequest:
    return JobRequest(key=key, prompt=prompt, duration=5.0, width=width, height=height, fps=24, seed=7,
                      reference_image=keyframe, negative_prompt="blurry, watermark")


class TestRunway(LostCreatesWaitForTheUser, CancelledAtTheTimeout, VendorContract):
    vendor, env, preset = "runway", {ENV: KEY}, PRESET
    models = ("gen4_turbo", "gen4.5")
    failures = (("internal", Outcome(result="failed", error={"failure": "An unexpected error occurred.",
                                                             "failureCode": "INTERNAL.BAD_OUTPUT.CODE01"}),
                 "An unexpected error occurred. (INTERNAL.BAD_OUTPUT.CODE01)", "FAILED"),)
    refusals = (("moderation", Outcome(result="failed", error={"failure": "The prompt did not pass moderation.",
                                                               "failureCode": "SAFETY.INPUT.TEXT"}),
                 r"SAFETY\.INPUT\.TEXT"),)
    echo_fault = Fault.http(400, runway_error(f"Bad request from Authorization: Bearer {KEY}"))
    unknown_model = "gen3a_turbo"  # retired: Runway answers it like a name it never knew
    wrong_env = {ENV: "key_not_the_right_one"}
    wrong_key_shows = f"Runway rejected the API key.*check {ENV}"
    rate_limited = {"submit": (Fault.http(429, runway_error("Too many requests"), retry_after=0.5),)}
    account_refusal = Fault.http(429, runway_error(
        "You have exceeded the daily task limit for your organization's tier."))
    account_refusal_shows = "daily task limit for the organisation is reached.*no retry within this run helps"
    # Runway's DELETE stops a pending or running task (204): a confirmed stop, nothing more is billed.
    cancel_method = "DELETE"

    engine = staticmethod(engine)

    def fake(self, **options) -> FakeRunway:
        return FakeRunway(api_key=KEY, **options)

    def job_id(self, fake: FakeRunway, job) -> str:
        return fake.task_id(job)  # Runway's task ids are UUIDs

    def failure_saying(self, text: str) -> Outcome:
        return Outcome(result="failed", error={"failure": text})

    def check_backoff(self, sleeps: list[float]) -> None:
        assert sleeps[0] == 0.5  # the Retry-After, not the 0.01 s base delay


def test_a_clip_is_made_with_runway_s_own_protocol(tmp_path, keyframe):
    with FakeRunway(api_key=KEY, default=Outcome(pending_polls=3)) as runway:
        result = engine(runway, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    [task] = runway.submissions
    body = task.body
    assert (body["model"], body["ratio"], body["duration"], body["seed"], body["promptText"]) == \
        ("gen4_turbo", "720:1280", 5, 7, "Mara opens the letter; slow push-in")
    assert "negative_prompt" not in json.dumps(body) and "contentModeration" not in body
    head, data = body["promptImage"].split(",", 1)
    assert head == "data:image/png;base64" and base64.b64decode(data) == keyframe.read_bytes()
    # "Bearer <key>" and the version header on every request, or no task; the key never at the storage host
    rec = assert_delivered(runway, result, tmp_path / "jobs", tmp_path / "clip.mp4", 5.0, "runway",
                           runway.task_id(task), KEY)
    # PENDING, THROTTLED (Runway's queue, not an error), RUNNING, then SUCCEEDED: polled through all of them.
    assert len(runway.of("poll")) == 4 and result.units is None
    assert (rec["vendor_status"], rec["units"]) == ("SUCCEEDED", None)


def test_the_fake_insists_on_the_version_header_and_bearer_key(keyframe):
    with FakeRunway(api_key=KEY) as runway:
        url = f"{runway.base_url}/v1/image_to_video"
        missing = httpx.post(url, json={}, headers={"Authorization": f"Bearer {KEY}"})
        wrong_key = httpx.post(url, json={}, headers={"Authorization": f"Key {KEY}", "X-Runway-Version": VERSION})
    assert missing.status_code == 400 and "X-Runway-Version" in missing.json()["error"]
    assert wrong_key.status_code == 401 and "error" in wrong_key.json()


@pytest.mark.parametrize("code, kind", [
    ("SAFETY.INPUT.TEXT", "fail"), ("SAFETY.INPUT.IMAGE", "fail"), ("SAFETY.OUTPUT.VIDEO", "fail"),
    ("INPUT_PREPROCESSING.SAFETY.TEXT", "fail"), ("INTERNAL.BAD_OUTPUT.CODE01", "fallback"),
    ("ASSET.INVALID", "fallback"), ("", "fallback")])
def test_failure_codes_map_onto_stop_or_fall_back(code, kind):
    assert failure_kind(code) == kind


def test_prompts_are_cut_to_1000_utf16_units_at_a_word(tmp_path, keyframe):
    long = "雨の夜 " * 100 + "a smile 🙂 " * 200  # CJK and astral characters count as Runway counts them
    cut = truncate_prompt(long)
    assert len(cut.encode("utf-16-le")) // 2 <= 1000 and long.startswith(cut) and not cut.endswith(" ")
    assert len(cut) > 900 and truncate_prompt("  short  ") == "short"
    with FakeRunway(api_key=KEY) as runway:
        engine(runway, tmp_path / "jobs").generate(job(keyframe, prompt=long), tmp_path / "c.mp4")
    assert runway.submissions[0].body["promptText"] == cut


def test_the_ratio_is_the_accepted_size_nearest_the_render(tmp_path, keyframe):
    assert nearest_ratio("gen4_turbo", 720, 1280) == "720:1280"
    assert nearest_ratio("gen4_turbo", 1080, 1920) == "720:1280"
    assert nearest_ratio("gen4_turbo", 1920, 1080) == "1280:720"
    assert nearest_ratio("gen4_turbo", 1080, 1350) == "832:1104"
    assert nearest_ratio("gen3a_turbo", 720, 1280) == "768:1280"
    with FakeRunway(api_key=KEY) as runway:
        engine(runway, tmp_path / "jobs", options={"ratio": "832:1104", "public_figure_threshold": "low"}).generate(
            job(keyframe), tmp_path / "c.mp4")
    body = runway.submissions[0].body
    assert body["ratio"] == "832:1104" and body["contentModeration"] == {"publicFigureThreshold": "low"}


def test_the_preset_composes_and_prices_a_clip_through_calls(tmp_path, keyframe, monkeypatch):
    from shortdrama.stages.clips import ClipSpec, hosted_clip
    with FakeRunway(api_key=KEY, default=Outcome(pending_polls=1)) as runway:
        monkeypatch.setenv("RUNWAY_BASE_URL", runway.base_url)
        video = load_config(["video=runway", "video.poll_interval_s=0.01"]).video
        assert (video.provider, video.api_key_env, video.preset, video.model) == ("runway", ENV, PRESET, "gen4_turbo")
        assert video.checked and video.pricing.per_unit == 0 and video.negative_prompt == ""
        assert adapter("runway") is ADAPTER
        encoding = {"width": 720, "height": 1280, "fps": 24, "crf": 23, "preset": "veryfast"}
        data = {"prompt": "Mara opens the letter", "seed": 7, "camera": "static", "duration": 4.0, "encoding": encoding}
        call = Call(rule="generate_clip", step="clip", version=1, request=data, inputs={"keyframe": keyframe})
        runtime = Runtime(output_dir=tmp_path / "out", cache_dir=tmp_path / "cache", cache_enabled=True,
                          budget=BudgetConfig())
        billing = hosted_clip(ClipSpec(**data, video=video.result_fields()), keyframe, call, video, runtime,
                              tmp_path / "clip.mp4")
    # A 4 s scene is bought as Runway's 5 s clip at $0.05/s; conform trims it to the scene.
    assert billing.cost_usd == pytest.approx(0.25) and billing.model == "gen4_turbo"
    assert runway.submissions[0].body["duration"] == 5
    assert abs(probe(tmp_path / "clip.mp4").duration - 4.0) < 0.1


def test_options_are_checked_when_the_configuration_is_validated():
    with pytest.raises(ConfigError, match="runway option ratio"):
        load_config(["video=runway", "video.options.ratio=wide"])
    with pytest.raises(ConfigError, match="runway option sharpness"):
        load_config(["video=runway", "+video.options.sharpness=3"])
