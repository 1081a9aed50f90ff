"""Runway's own API through the shared job engine, against a fake Runway on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from fakes.runway_server import VERSION, FakeRunway, runway_error
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
from shortdrama.video.vendors.base import JobRejected, JobRequest, VendorModel
from shortdrama.video.vendors.runway import ADAPTER, failure_kind, nearest_ratio, truncate_prompt

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
    assert all(r.authorized for r in runway.requests)  # "Bearer <key>" and the version header, or no task
    assert runway.credentials_at_storage == 0  # the key went to the API only, never to the storage host
    # PENDING, THROTTLED (Runway's queue, not an error), RUNNING, then SUCCEEDED: polled through all of them.
    assert len(runway.of("poll")) == 4 and runway.downloads == [task.id]
    assert (result.job_id, result.vendor, result.units) == (runway.task_id(task), "runway", None)
    assert abs(probe(tmp_path / "clip.mp4").duration - 5.0) < 0.3
    rec = record(tmp_path / "jobs")
    assert (rec["status"], rec["vendor_status"], rec["units"]) == ("completed", "SUCCEEDED", None)
    assert KEY not in json.dumps(rec)


def test_the_fake_insists_on_the_version_header_and_bearer_key(keyframe):
    with FakeRunway(api_key=KEY) as runway:
        url = f"{runway.base_url}/v1/image_to_video"
        missing = httpx.post(url, json={}, headers={"Authorization": f"Bearer {KEY}"})
        wrong_key = httpx.post(url, json={}, headers={"Authorization": f"Key {KEY}", "X-Runway-Version": VERSION})
    assert missing.status_code == 400 and "X-Runway-Version" in missing.json()["error"]
    assert wrong_key.status_code == 401 and "error" in wrong_key.json()


def test_a_build_killed_while_polling_resumes_the_same_task(tmp_path, keyframe):
    class Killed(Exception):
        pass

    def killing_sleep(seconds):
        raise Killed

    with FakeRunway(api_key=KEY, default=Outcome(pending_polls=3)) as runway:
        with pytest.raises(Killed):
            engine(runway, tmp_path / "jobs", sleep=killing_sleep).generate(job(keyframe), tmp_path / "clip.mp4")
        assert record(tmp_path / "jobs")["status"] == "submitted"
        result = engine(runway, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    assert len(runway.submissions) == 1 and result.job_id == runway.task_id(runway.submissions[0])


@pytest.mark.parametrize("choice", ["delete the record", "record the task id"])
def test_a_lost_submit_reply_stops_every_run_until_the_user_decides(tmp_path, keyframe, choice):
    # Runway takes no idempotency key and lists no tasks by ours: the task the lost reply named cannot be
    # found, and sending the create again could pay twice. Runs stop, naming the record and the dashboard,
    # until the user deletes the record (submit again) or puts the task's id into it (poll that task).
    with FakeRunway(api_key=KEY) as runway:
        lost_create_waits_for_the_user(runway, engine(runway, tmp_path / "jobs"), lambda: job(keyframe), tmp_path / "jobs",
                                       tmp_path / "clip.mp4", "runway", choice, runway.task_id)
    assert abs(probe(tmp_path / "clip.mp4").duration - 5.0) < 0.3


def test_a_safety_failure_stops_the_chain_an_internal_failure_falls_back(tmp_path, keyframe):
    refused = Outcome(result="failed", error={"failure": "The prompt did not pass moderation.",
                                              "failureCode": "SAFETY.INPUT.TEXT"})
    with FakeRunway(api_key=KEY, outcomes={"gen4_turbo": refused}) as runway:
        with pytest.raises(JobRejected, match=r"SAFETY\.INPUT\.TEXT"):
            engine(runway, tmp_path / "jobs", "gen4_turbo", "gen4.5").generate(job(keyframe), tmp_path / "c.mp4")
    assert [t.model for t in runway.submissions] == ["gen4_turbo"] and record(tmp_path / "jobs")["status"] == "rejected"

    broken = Outcome(result="failed", error={"failure": "An unexpected error occurred.",
                                             "failureCode": "INTERNAL.BAD_OUTPUT.CODE01"})
    with FakeRunway(api_key=KEY, outcomes={"gen4_turbo": broken}) as runway:
        result = engine(runway, tmp_path / "jobs2", "gen4_turbo", "gen4.5").generate(job(keyframe), tmp_path / "c.mp4")
    assert [t.model for t in runway.submissions] == ["gen4_turbo", "gen4.5"] and result.model == "gen4.5"
    [earlier] = record(tmp_path / "jobs2")["history"]
    assert earlier["status"] == "failed" and "INTERNAL.BAD_OUTPUT.CODE01" in earlier["error"]


@pytest.mark.parametrize("code, kind", [
    ("SAFETY.INPUT.TEXT", "fail"), ("SAFETY.INPUT.IMAGE", "fail"), ("SAFETY.OUTPUT.VIDEO", "fail"),
    ("INPUT_PREPROCESSING.SAFETY.TEXT", "fail"), ("INTERNAL.BAD_OUTPUT.CODE01", "fallback"),
    ("ASSET.INVALID", "fallback"), ("", "fallback")])
def test_failure_codes_map_onto_stop_or_fall_back(code, kind):
    assert failure_kind(code) == kind


def test_a_rate_limit_429_is_retried_but_the_daily_cap_is_final(tmp_path, keyframe):
    sleeps: list[float] = []
    with FakeRunway(api_key=KEY) as runway:
        runway.fault("submit", VendorFault.http(429, runway_error("Too many requests"), retry_after=0.5))
        engine(runway, tmp_path / "jobs", sleep=sleeps.append).generate(job(keyframe), tmp_path / "clip.mp4")
        assert len(runway.submissions) == 1 and len(runway.of("submit")) == 2 and sleeps[0] == 0.5

        runway.fault("submit", VendorFault.http(429, runway_error(
            "You have exceeded the daily task limit for your organization's tier.")))
        capped = "daily task limit for the organisation is reached.*no retry within this run helps"
        with pytest.raises(ProviderError, match=capped):
            engine(runway, tmp_path / "jobs2").generate(job(keyframe, key="clip-0002"), tmp_path / "c2.mp4")
    assert len(runway.of("submit")) == 3  # the cap was not retried
    assert record(tmp_path / "jobs2", "clip-0002")["status"] == "not_submitted"


def test_a_retired_model_names_the_preset_to_update(tmp_path, keyframe):
    with FakeRunway(api_key=KEY) as runway:
        with pytest.raises(ProviderError, match=r"Runway does not know the model 'gen3a_turbo'.*conf/video/runway"):
            engine(runway, tmp_path / "jobs", "gen3a_turbo").generate(job(keyframe), tmp_path / "c.mp4")
    assert runway.submissions == [] and record(tmp_path / "jobs")["status"] == "not_submitted"


def test_the_key_comes_from_the_environment_and_never_leaks(tmp_path, keyframe, monkeypatch):
    monkeypatch.delenv(ENV)
    with FakeRunway(api_key=KEY) as runway:
        with pytest.raises(ProviderError, match=f"set the environment variable {ENV}"):
            engine(runway, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
        assert runway.requests == [] and not (tmp_path / "jobs").exists()

    monkeypatch.setenv(ENV, "key_not_the_right_one")
    with FakeRunway(api_key=KEY) as runway:
        with pytest.raises(ProviderError, match=f"Runway rejected the API key.*check {ENV}") as caught:
            engine(runway, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
    assert "key_not_the_right_one" not in str(caught.value) and runway.submissions == []

    monkeypatch.setenv(ENV, KEY)
    echoed = runway_error(f"Bad request from Authorization: Bearer {KEY}")
    leaky = Outcome(result="failed", error={"failure": f"header was Bearer {KEY}"})
    with FakeRunway(api_key=KEY, default=leaky) as runway:
        runway.fault("submit", VendorFault.http(400, echoed))
        with pytest.raises(ProviderError) as caught:
            engine(runway, tmp_path / "jobs2").generate(job(keyframe), tmp_path / "c.mp4")
        assert KEY not in str(caught.value) and "Bearer ***" in str(caught.value)
        with pytest.raises(ProviderError) as caught:  # now the task itself fails with the key in its message
            engine(runway, tmp_path / "jobs2").generate(job(keyframe), tmp_path / "c.mp4")
    assert KEY not in str(caught.value) and KEY not in (tmp_path / "jobs2" / "clip-0001.json").read_text()


def test_the_expiring_url_is_fetched_at_once_and_a_corrupt_video_refused(tmp_path, keyframe):
    with FakeRunway(api_key=KEY, url_ttl_s=2.0) as runway:
        engine(runway, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
        runway.fault("download", *[VendorFault(corrupt=True)] * 3)
        with pytest.raises(ProviderError, match="not a decodable video"):
            engine(runway, tmp_path / "jobs").generate(job(keyframe, key="clip-0002"), tmp_path / "c2.mp4")
    assert record(tmp_path / "jobs", "clip-0002")["status"] == "bad_output"
    assert not (tmp_path / "c2.mp4").exists()


def test_an_expired_output_url_is_asked_for_again_not_paid_again(tmp_path, keyframe):
    with FakeRunway(api_key=KEY, url_ttl_s=-1.0) as runway:
        with pytest.raises(ProviderError, match="HTTP 403"):
            engine(runway, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
        assert record(tmp_path / "jobs")["status"] == "completed"
        runway.url_ttl_s = 60.0
        result = engine(runway, tmp_path / "jobs").generate(job(keyframe), tmp_path / "clip.mp4")
    assert len(runway.submissions) == 1 and result.job_id == runway.task_id(runway.submissions[0])


def test_a_task_past_the_timeout_is_cancelled_and_the_next_run_submits_anew(tmp_path, keyframe):
    # Runway's DELETE stops a pending or running task (204): a confirmed stop, nothing more is billed.
    with FakeRunway(api_key=KEY, outcomes={"gen4_turbo": [Outcome(result="stuck"), Outcome()]}) as runway:
        with pytest.raises(ProviderError, match="did not complete within 0.05 s and was cancelled"):
            engine(runway, tmp_path / "jobs", job_timeout_s=0.05).generate(job(keyframe), tmp_path / "c.mp4")
        assert len(runway.of("cancel")) == 1 and runway.submissions[0].cancelled
        assert record(tmp_path / "jobs")["status"] == "cancelled"
        result = engine(runway, tmp_path / "jobs").generate(job(keyframe), tmp_path / "c.mp4")
    assert len(runway.submissions) == 2 and result.job_id == runway.task_id(runway.submissions[1])


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
        billing = calls._hosted_clip(data, keyframe, call, video, runtime, tmp_path / "clip.mp4")
    # A 4 s scene is bought as Runway's 5 s clip at $0.05/s; conform trims it to the scene.
    assert billing.cost_usd == pytest.approx(0.25) and billing.model == "gen4_turbo"
    assert runway.submissions[0].body["duration"] == 5
    assert abs(probe(tmp_path / "clip.mp4").duration - 4.0) < 0.1


def test_options_are_checked_when_the_configuration_is_validated():
    with pytest.raises(ConfigError, match="runway option ratio"):
        load_config(["video=runway", "video.options.ratio=wide"])
    with pytest.raises(ConfigError, match="runway option sharpness"):
        load_config(["video=runway", "+video.options.sharpness=3"])
