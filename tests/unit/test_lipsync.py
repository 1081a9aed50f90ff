"""Lip-sync: the fal lip-sync adapter through the shared job engine against a fake fal queue on 127.0.0.1
(sync.so's documented input: the clip and the dialogue track as data URIs), which scenes are synced, what
the render reads, and what the sync request's key holds."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from fakes.fal_lipsync_server import SYNCED, FakeFalLipsync
from fakes.vendor_base import Fault, Outcome, video_bytes
from fakes.vendor_checks import record
from shortdrama.audio.wav import write_wav
from shortdrama.config import load_config
from shortdrama.cost.call import Runtime, call_key
from shortdrama.errors import ConfigError, ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.lipsync.fal import ADAPTER, LipsyncOptions
from shortdrama.schemas import Scene
from shortdrama.stages.lipsync import LipsyncSpec, lipsync_call, speaks_on_screen
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors.base import JobRejected, JobRequest, VendorModel

KEY = "fal-key-id-lips:fal-secret-77aa"
ENV = "FAL_KEY"
MODEL = "fal-ai/sync-lipsync"
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_total_s=20, request_timeout_s=2.0)


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv(ENV, KEY)


@pytest.fixture
def inputs(tmp_path) -> tuple[Path, Path]:
    clip, track = tmp_path / "sc01.mp4", tmp_path / "sc01.wav"
    clip.write_bytes(video_bytes(3.0))
    t = np.arange(48000 * 3) / 48000
    write_wav(track, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000)
    return clip, track


def engine(fake: FakeFalLipsync, job_dir: Path, options=None, model: str = MODEL) -> JobEngine:
    entry = ChainEntry(ADAPTER, VendorModel(fake.base_url, model, ENV, options=options or {"sync_mode": "cut_off"},
                                            preset="conf/lipsync/fal_sync.yaml"))
    return JobEngine([entry], EngineSettings(poll_interval_s=0.01, job_timeout_s=10.0, retry=FAST,
                                             duration_tolerance_s=0.3), job_dir, sleep=lambda s: None)


def job(clip: Path, track: Path, key: str = "lips-0001") -> JobRequest:
    return JobRequest(key=key, prompt="", duration=3.0, width=480, height=854, fps=24, seed=0, reference_image=None,
                      source_video=clip, audio=track)


def test_a_clip_and_its_track_go_to_fal_as_data_uris_and_the_synced_clip_comes_back(tmp_path, inputs):
    clip, track = inputs
    with FakeFalLipsync(api_key=KEY, default=Outcome(pending_polls=2)) as fal:
        out = tmp_path / "synced.mp4"
        result = engine(fal, tmp_path / "jobs").generate(job(clip, track), out)
        [submitted] = fal.submissions
        assert submitted.model == MODEL and submitted.body["sync_mode"] == "cut_off"
        assert fal.received[submitted.id] == (clip.read_bytes(), track.read_bytes()), "the bytes on disk, as sent"
        assert all(r.authorized for r in fal.requests) and fal.credentials_at_storage == 0
        assert result.vendor == "fal_lipsync" and record(tmp_path / "jobs", "lips-0001")["status"] == "completed"
        import av

        with av.open(str(out)) as container:
            frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
        assert np.abs(frame.mean(axis=(0, 1)) - [int(SYNCED[i:i + 2], 16) for i in (0, 2, 4)]).max() < 12


class Killed(BaseException):
    """The build's process dying mid-poll: nothing in the engine gets to handle it."""


def test_a_job_killed_while_polling_is_polled_again_not_bought_again(tmp_path, inputs):
    clip, track = inputs
    with FakeFalLipsync(api_key=KEY, default=Outcome(pending_polls=6)) as fal:
        jobs = tmp_path / "jobs"
        first = engine(fal, jobs)
        waits = []

        def die_on_third_wait(seconds: float) -> None:
            waits.append(seconds)
            if len(waits) == 3:
                raise Killed

        first._sleep = die_on_third_wait
        with pytest.raises(Killed):
            first.generate(job(clip, track), tmp_path / "synced.mp4")
        assert len(fal.submissions) == 1 and record(jobs, "lips-0001")["status"] == "submitted"
        engine(fal, jobs).generate(job(clip, track), tmp_path / "synced.mp4")
        assert len(fal.submissions) == 1, "the recorded job was polled again, not submitted again"
        assert (tmp_path / "synced.mp4").exists() and record(jobs, "lips-0001")["status"] == "completed"


def test_fal_refusals_are_clear_and_nothing_is_sent_without_inputs(tmp_path, inputs):
    clip, track = inputs
    with FakeFalLipsync(api_key=KEY) as fal:
        with pytest.raises(JobRejected, match="needs the scene's clip and its dialogue track"):
            engine(fal, tmp_path / "jobs").generate(dataclasses.replace(job(clip, track), audio=None), tmp_path / "o.mp4")
        with pytest.raises(JobRejected, match="is not a fal model id like fal-ai/sync-lipsync"):
            engine(fal, tmp_path / "jobs0", model="sync lipsync").generate(job(clip, track, "k0"), tmp_path / "o.mp4")
        with pytest.raises(ProviderError, match="does not know the model"):
            engine(fal, tmp_path / "jobs2", model="fal-ai/sync-lipsync-v0").generate(job(clip, track, "k2"), tmp_path / "o.mp4")
        fal.fault("submit", Fault.http(401, {"detail": "No user found for Key ID and Secret"}))
        with pytest.raises(ProviderError, match=f"fal rejected the key.*{ENV}") as error:
            engine(fal, tmp_path / "jobs3").generate(job(clip, track, "k3"), tmp_path / "o.mp4")
        assert KEY not in str(error.value)
        assert fal.submissions == []


def test_a_failed_sync_says_why(tmp_path, inputs):
    clip, track = inputs
    failing = Outcome(result="failed", error={"status_code": 500, "detail": "no face detected in the video"})
    with FakeFalLipsync(api_key=KEY, default=failing) as fal:
        with pytest.raises(ProviderError, match="no face detected"):
            engine(fal, tmp_path / "jobs").generate(job(clip, track), tmp_path / "o.mp4")


def test_options_are_checked_when_the_config_is_read():
    assert LipsyncOptions().sync_mode == "cut_off"
    with pytest.raises(ConfigError, match="sync_mode"):
        load_config(["lipsync=fal_sync", "lipsync.options.sync_mode=stretch"])
    with pytest.raises(ConfigError):
        load_config(["lipsync.options.sync_mode=cut_off"])  # lipsync=none takes no options


def _scene(characters: list[str], dialogue: list[tuple[str, str]]) -> Scene:
    return Scene.model_validate({
        "location": {"setting": "INT", "description": "a rooftop"}, "duration": 3, "characters": characters,
        "dialogue": [{"speaker": who, "text": text} for who, text in dialogue], "action": "She waits.",
        "camera": "static"})


def test_only_scenes_where_someone_on_screen_speaks_are_synced():
    assert speaks_on_screen(_scene(["Lin"], [("Lin", "You came.")]))
    assert not speaks_on_screen(_scene(["Lin"], []))
    assert not speaks_on_screen(_scene(["Lin"], [("Wei", "She never looks back.")])), "a voice-over has no mouth"


def test_the_render_reads_synced_clips_only_where_lipsync_is_on_and_someone_speaks(tmp_path):
    from shortdrama.workflow import Workflow

    def jobs(overrides: list[str]) -> tuple[list[str], list[str]]:
        cfg = load_config(["series.episodes=1", *overrides])
        wf = Workflow(cfg, [], checkout=tmp_path, workdir=tmp_path / "work")
        lin, wei = [c.name for c in cfg.series.cast.values()][:2]
        scenes = [_scene([lin], [(lin, "You came.")]), _scene([lin], [(wei, "She never looks back.")]),
                  _scene([lin, wei], [])]
        script = {"episode": 1, "title": "Rooftop", "language": "en", "mood": "tense",
                  "scenes": [s.model_dump(mode="json", exclude_none=True) for s in scenes]}
        path = wf.at(wf.paths.script("01"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(script))
        listed = wf.episode_jobs(wf.paths.script("01"))
        render = next(j for j in listed if j.rule == "render_episode")
        return list(render.inputs["clips"]), [j.outputs["mp4"] for j in listed if j.rule == "sync_lips"]

    clips, synced = jobs([])
    assert synced == [] and clips == [f"results/demo/ep01/clips/sc{n:02d}.mp4" for n in (1, 2, 3)]
    clips, synced = jobs(["lipsync=fal_sync"])
    assert synced == ["results/demo/ep01/lipsync/sc01.mp4"], "only the scene whose speaker is on screen"
    assert clips == ["results/demo/ep01/lipsync/sc01.mp4", "results/demo/ep01/clips/sc02.mp4",
                     "results/demo/ep01/clips/sc03.mp4"]


def test_the_sync_request_holds_what_changes_the_answer(tmp_path, inputs):
    clip, track = inputs
    cfg = load_config(["lipsync=fal_sync"])
    runtime = Runtime.from_config(cfg, tmp_path / "results/x", tmp_path / "cache")
    spec = LipsyncSpec.of(cfg, _scene(["Lin"], [("Lin", "You came.")]))
    call, provider = lipsync_call(spec, clip, track, 1, 1, runtime)
    base = call_key(call, provider)
    assert set(call.request) == {"duration", "encoding"} and provider.result_fields()["model"] == MODEL
    other = tmp_path / "other.wav"
    write_wav(other, np.zeros(48000 * 3, dtype=np.float32) + 0.1, 48000)
    changed_line, _ = lipsync_call(spec, clip, other, 1, 1, runtime)
    assert call_key(changed_line, provider) != base, "a new dialogue track is a new request"
    longer, _ = lipsync_call(dataclasses.replace(spec, duration=4.0), clip, track, 1, 1, runtime)
    assert call_key(longer, provider) != base
    version = load_config(["lipsync=fal_sync", "+lipsync.options.model=lipsync-1.8.0"]).lipsync
    assert call_key(call, version) != base, "another sync model version is another answer"
    cheaper = load_config(["lipsync=fal_sync", "lipsync.pricing.per_second=0.5", "lipsync.concurrency=2"]).lipsync
    assert call_key(call, cheaper) == base, "price and concurrency are operational"
