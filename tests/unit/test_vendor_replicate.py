"""The Replicate adapter through the job engine, against a fake api.replicate.com on 127.0.0.1: the vendor
contract (tests/unit/vendor_contract.py) and what only Replicate does (per-model input names, versions,
predict_time billing, cancels that cross a prediction's end)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from PIL import Image

from fakes.replicate_server import VERSION, FakeReplicate
from fakes.vendor_base import Fault, Outcome
from fakes.vendor_checks import assert_clip, assert_delivered, record
from shortdrama.config import BudgetConfig, load_config
from shortdrama.cost.call import Call, Runtime
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors.base import JobRequest, VendorModel
from shortdrama.video.vendors.replicate import ADAPTER
from vendor_contract import CancelledAtTheTimeout, LostCreatesWaitForTheUser, VendorContract

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


THROTTLED = {"detail": "Request was throttled. Expected available in 1 second.", "status": 429}


class TestReplicate(LostCreatesWaitForTheUser, CancelledAtTheTimeout, VendorContract):
    vendor, env, preset = "replicate", {ENV: TOKEN}, PRESET
    models = (KLING, LITE)
    failures = (("internal", Outcome(result="failed", error={"error": "CUDA error: an illegal memory access"}),
                 "CUDA error: an illegal memory access", "failed"),)
    refusals = (("nsfw", Outcome(result="failed", error={
                    "error": "NSFW content detected. Try running it again, or try a different prompt."}), "NSFW"),
                ("flagged E005", Outcome(result="failed", error={
                    "error": "The input or output was flagged as sensitive. Please try again (E005)"}), r"\(E005\)"))
    echo_fault = Fault.http(400, {"detail": f"header Authorization: Bearer {TOKEN} is malformed", "status": 400})
    unknown_model = "kwaivgi/kling-v9"
    wrong_env = {ENV: "r8_wrong"}
    wrong_key_shows = f"Replicate refused the token in {ENV} .*401"
    # a 429 surely was not taken: sent again, after the Retry-After
    rate_limited = {"submit": (Fault.http(429, THROTTLED, retry_after=1),),
                    "poll": (Fault.http(429, THROTTLED, retry_after=1),)}
    account_refusal = Fault.http(402, {"title": "Insufficient credit", "status": 402,
                                       "detail": "You have insufficient credit to run this model."})
    account_refusal_shows = "no credit left .*add credit"
    # Replicate answers the cancel with the prediction, now "canceled": a confirmed stop.
    cancel_method = "POST"

    engine = staticmethod(engine)

    def fake(self, **options) -> FakeReplicate:
        return FakeReplicate(token=TOKEN, **options)

    def failure_saying(self, text: str) -> Outcome:
        return Outcome(result="failed", error={"error": text})

    def check_backoff(self, sleeps: list[float]) -> None:
        assert sleeps.count(1.0) == 2


def test_a_prediction_is_created_polled_and_its_clip_downloaded_at_once(tmp_path, keyframe):
    sleeps: list[float] = []
    with FakeReplicate(token=TOKEN, default=Outcome(pending_polls=2, units=63.2), url_ttl_s=2) as fake:
        result = engine(fake, tmp_path / "jobs", sleep=sleeps.append).generate(clip_job(keyframe), tmp_path / "c.mp4")
    [job] = fake.submissions
    assert [r.path for r in fake.of("submit")] == ["/v1/models/kwaivgi/kling-v2.1/predictions"]
    # Bearer <token> (the fake answers 401 to anything else) to the API only, never to the delivery host; the
    # signed URL is a credential: never in the record
    rec = assert_delivered(fake, result, tmp_path / "jobs", tmp_path / "c.mp4", 5.0, "replicate", job.id, TOKEN)
    sent = job.body["input"]
    assert set(sent) == {"prompt", "start_image", "duration", "negative_prompt", "mode"}  # no seed: kling has none
    assert (sent["duration"], sent["mode"], sent["negative_prompt"]) == (5, "standard", "blurry")
    assert type(sent["duration"]) is int
    assert base64.b64decode(sent["start_image"].removeprefix("data:image/png;base64,")) == keyframe.read_bytes()
    # starting and processing are waited out (the Retry-After of none, the poll interval twice), then one download
    assert len(fake.of("poll")) == 3 and sleeps == [0.01, 0.01]
    assert (result.model, result.units) == (KLING, 63.2)
    assert (rec["vendor_status"], rec["units"]) == ("succeeded", 63.2)


def test_the_fallback_model_is_sent_its_own_input_names(tmp_path, keyframe):
    outcomes = {KLING: Outcome(result="failed", error={"error": "CUDA error: an illegal memory access"})}
    with FakeReplicate(token=TOKEN, outcomes=outcomes) as fake:
        result = engine(fake, tmp_path / "jobs", KLING, LITE).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert [j.model for j in fake.submissions] == [KLING, LITE] and result.model == LITE
    sent = fake.submissions[1].body["input"]
    assert set(sent) == {"prompt", "image", "duration", "seed", "resolution"} and sent["seed"] == 7


def test_a_prediction_canceled_elsewhere_falls_back(tmp_path, keyframe):
    with FakeReplicate(token=TOKEN, default=Outcome(pending_polls=1)) as fake:
        def someone_cancels(seconds: float) -> None:  # from the dashboard, while the build waits
            fake.submissions[0].cancelled = True

        result = engine(fake, tmp_path / "jobs", KLING, LITE, sleep=someone_cancels).generate(clip_job(keyframe),
                                                                                             tmp_path / "c.mp4")
    assert result.model == LITE and record(tmp_path / "jobs")["history"][0]["vendor_status"] == "canceled"


def test_invalid_input_is_a_clear_final_error_naming_the_preset(tmp_path, keyframe):
    ultra = {KLING: {**OPTIONS[KLING], "mode": "ultra"}}  # passed through to the model, which refuses it
    with FakeReplicate(token=TOKEN) as fake:
        with pytest.raises(ProviderError) as caught:
            engine(fake, tmp_path / "jobs", options=ultra).generate(clip_job(keyframe), tmp_path / "c.mp4")
    message = str(caught.value)
    assert "refused the input" in message and "mode must be one of the following: standard, pro" in message
    assert "fields: mode" in message and PRESET in message
    assert len(fake.of("submit")) == 1 and record(tmp_path / "jobs")["status"] == "not_submitted"


def test_a_prediction_that_ended_before_the_cancel_is_polled_again_not_paid_again(tmp_path, keyframe):
    # The cancel crossed the prediction's end: Replicate answers with it "succeeded", which is no stop.
    with FakeReplicate(token=TOKEN, default=Outcome(result="stuck")) as fake:
        fake.fault("cancel", Fault.http(200, {"id": "any", "status": "succeeded"}))
        with pytest.raises(ProviderError, match="could not cancel it: the next run polls the same job"):
            engine(fake, tmp_path / "jobs", job_timeout_s=0.05).generate(clip_job(keyframe), tmp_path / "c.mp4")
    assert record(tmp_path / "jobs")["status"] == "overdue" and len(fake.submissions) == 1


def _clip_spec(duration: float) -> str:
    return json.dumps({"prompt": "Mara opens the letter", "seed": 7, "camera": "static", "duration": duration,
                       "encoding": {"width": 144, "height": 256, "fps": 12, "crf": 30, "preset": "ultrafast"}})


def _produce(tmp_path: Path, keyframe: Path, overrides: list[str], duration: float = 4.0):
    from shortdrama.stages.clips import ClipSpec, produce_clip

    cfg = load_config(["video=replicate", *overrides, "video.poll_interval_s=0.01"])
    runtime = Runtime(output_dir=tmp_path / "out", cache_dir=tmp_path / "cache", cache_enabled=False,
                      budget=BudgetConfig())
    call = Call(rule="generate_clip", step="clip", version=1, request={"duration": duration})
    clip = ClipSpec(**json.loads(_clip_spec(duration)), video=cfg.video.result_fields())
    billing = produce_clip(clip, keyframe, call, runtime)(cfg.video, {"mp4": tmp_path / "clip.mp4"})
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
