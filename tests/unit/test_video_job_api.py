"""The hosted video job client against a real, misbehaving HTTP gateway on 127.0.0.1: the contract every hosted
service passes (tests/unit/vendor_contract.py) and the engine's handling of a misbehaving network, downloads and
URLs, driven through the seed gateway's protocol."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from fakes.vendor_base import Outcome
from fakes.vendor_checks import assert_clip, assert_delivered, record
from fakes.video_server import Behaviour, Fault, FakeVideoServer, Script
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
from shortdrama.video.vendors.base import JobRequest, VendorModel
from shortdrama.video.vendors.gateway import ADAPTER as GATEWAY
from vendor_contract import HostedVideoContract, PolledAgainAfterTheTimeout

KEY = "sk-test-5f3b9c1d2e"
ENV = "FAKE_VIDEO_API_KEY"
FAST = RetryPolicy(max_attempts=5, base_delay_s=0.01, max_delay_s=0.05, max_total_s=20, request_timeout_s=2.0)


@pytest.fixture(autouse=True)
def key_env(monkeypatch):
    monkeypatch.setenv(ENV, KEY)


def make_settings(server: FakeVideoServer, *models: str, **changes) -> tuple[tuple[ChainEntry, ...], EngineSettings]:
    chain = tuple(ChainEntry(GATEWAY, VendorModel(server.base_url, model, ENV)) for model in (models or ("model-a",)))
    values = dict(poll_interval_s=0.01, job_timeout_s=10.0, retry=FAST, duration_tolerance_s=0.25)
    values.update(changes)
    return chain, EngineSettings(**values)


def JobApiVideo(settings: tuple, job_dir: Path, **options) -> JobEngine:  # noqa: N802 - the engine on the gateway
    chain, engine_settings = settings
    return JobEngine(chain, engine_settings, job_dir, **options)


def make_job(key: str = "clip-0001", duration: float = 2.0, reference: Path | None = None) -> JobRequest:
    return JobRequest(key=key, prompt="Mara opens the letter; close-up", duration=duration, width=720, height=1280,
                      fps=24, seed=7, reference_image=reference, negative_prompt="blurry, extra fingers")


class TestGateway(PolledAgainAfterTheTimeout, HostedVideoContract):
    vendor, env = "job_api", {ENV: KEY}
    models = ("model-a", "model-b", "model-c")
    duration = 2.0
    failures = (("content filter", Behaviour(outcome="failed", error="content filter"), "content filter", "failed"),)
    echo_fault = Fault.http(400, echo_auth=True)  # the gateway echoes our headers into its error

    def fake(self, outcomes=None, default=None, url_ttl_s=None) -> FakeVideoServer:
        return FakeVideoServer(Script(models=outcomes or {}, default=default or Behaviour()), api_key=KEY)

    def engine(self, server, job_dir, *models, sleep=lambda s: None, **changes) -> JobEngine:
        return JobApiVideo(make_settings(server, *models, **changes), job_dir, sleep=sleep)

    def failure_saying(self, text: str) -> Outcome:
        return Behaviour(outcome="failed", error=text)


def test_submits_the_gateway_protocol_and_delivers_a_checked_clip(tmp_path):
    keyframe = tmp_path / "key.png"
    Image.new("RGB", (9, 16), "red").save(keyframe)
    with FakeVideoServer(Script(default=Behaviour(processing_polls=2)), api_key=KEY) as server:
        video = JobApiVideo(make_settings(server), tmp_path / "jobs")
        result = video.generate(make_job(reference=keyframe), tmp_path / "out" / "clip.mp4")
    assert (result.model, result.attempts) == ("model-a", 1)
    [sub] = server.submissions
    assert sub.authorization == "present"
    rec = assert_delivered(server, result, tmp_path / "jobs", tmp_path / "out" / "clip.mp4", 2.0, "job_api", sub.id,
                           KEY)
    body = sub.body
    assert body["model"] == "model-a" and body["negative_prompt"] == "blurry, extra fingers"
    assert (body["aspect_ratio"], body["resolution"], body["fps"], body["seed"], body["duration"]) == ("9:16", "720p", 24, 7, 2.0)
    assert body["reference_image"].startswith("data:image/png;base64,")
    assert server.polls == [result.job_id] * 3
    assert (rec["status"], rec["job_id"], rec["model"], rec["key"]) == ("completed", result.job_id, "model-a", "clip-0001")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["clip.mp4"]  # no temporary left behind


def test_reference_image_is_omitted_without_a_keyframe(tmp_path):
    with FakeVideoServer() as server:
        JobApiVideo(make_settings(server), tmp_path / "jobs").generate(make_job(), tmp_path / "clip.mp4")
    assert "reference_image" not in server.submissions[0].body


def test_429_with_retry_after_is_honoured(tmp_path):
    sleeps: list[float] = []
    with FakeVideoServer(Script(submit=[Fault.http(429, retry_after=1.5)])) as server:
        video = JobApiVideo(make_settings(server), tmp_path / "jobs", sleep=sleeps.append)
        video.generate(make_job(), tmp_path / "clip.mp4")
    assert sleeps[0] == 1.5  # the server's Retry-After, not the 10 ms backoff
    assert len(server.submissions) == 1
    assert [r.fault.status if r.fault else None for r in server.requests if r.method == "POST"] == [429, None]
    assert_clip(tmp_path / "clip.mp4", 2.0)


def test_bursts_of_5xx_and_dropped_connections_are_retried(tmp_path):
    script = Script(submit=[Fault.http(503)] * 2, poll=[Fault.http(500)] * 3 + [Fault.disconnect()],
                    download=[Fault.http(500)])
    with FakeVideoServer(script) as server:
        result = JobApiVideo(make_settings(server), tmp_path / "jobs").generate(make_job(), tmp_path / "clip.mp4")
    assert len(server.submissions) == 1 and result.attempts == 1
    assert not script.submit and not script.poll and not script.download  # every fault was met
    assert_clip(tmp_path / "clip.mp4", 2.0)


def test_a_reply_slower_than_the_timeout_is_retried(tmp_path):
    policy = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_total_s=20, request_timeout_s=0.3)
    script = Script(poll=[Fault.slow(1.0)], download=[Fault.slow(1.0)])
    with FakeVideoServer(script) as server:
        JobApiVideo(make_settings(server, retry=policy), tmp_path / "jobs").generate(make_job(), tmp_path / "clip.mp4")
    # Each slow request was abandoned at the 0.3 s timeout and sent again (had the client waited, the slow
    # reply would have been good and there would be no second request).
    gets = [r for r in server.requests if r.method == "GET"]
    assert [bool(r.fault and r.fault.delay) for r in gets] == [True, False, True, False]
    assert_clip(tmp_path / "clip.mp4", 2.0)


def test_a_slow_submit_retried_is_still_one_job(tmp_path):
    # The first POST is accepted but answered after the client gave up; the Idempotency-Key makes the retry
    # return the same job instead of a second bill.
    policy = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_total_s=20, request_timeout_s=0.3)
    with FakeVideoServer(Script(submit=[Fault.slow(0.8)])) as server:
        result = JobApiVideo(make_settings(server, retry=policy), tmp_path / "jobs").generate(make_job(), tmp_path / "clip.mp4")
        time.sleep(0.8)  # until the slow handler has woken and answered its (abandoned) request
    assert result.job_id == "job-0001"
    assert len([r for r in server.requests if r.method == "POST"]) == 2
    assert len(server.submissions) == 1


def test_every_model_failing_names_each_error(tmp_path):
    script = Script(models={"model-a": Behaviour(outcome="failed", error="nsfw detected"),
                            "model-b": Behaviour(outcome="failed", error="capacity exhausted")})
    with FakeVideoServer(script) as server:
        video = JobApiVideo(make_settings(server, "model-a", "model-b"), tmp_path / "jobs")
        with pytest.raises(ProviderError) as caught:
            video.generate(make_job(), tmp_path / "clip.mp4")
    message = str(caught.value)
    assert "model-a" in message and "nsfw detected" in message
    assert "model-b" in message and "capacity exhausted" in message
    assert "\n" not in message
    assert not (tmp_path / "clip.mp4").exists()


def test_a_stuck_job_ends_even_when_the_injected_sleep_does_not_sleep(tmp_path):
    with FakeVideoServer(Script(default=Behaviour(outcome="stuck"))) as server:
        video = JobApiVideo(make_settings(server, poll_interval_s=2.0, job_timeout_s=10.0), tmp_path / "jobs",
                            sleep=lambda s: None)
        with pytest.raises(ProviderError, match="did not complete within 10 s"):
            video.generate(make_job(), tmp_path / "clip.mp4")
    # The schedule's polls within 10 s: at 0, 1, 2.5, 4.5, 6.5 and 8.5 s (1 s first, backing off to 2 s).
    assert server.poll_count("job-0001") == 6


@pytest.mark.parametrize("fault", [Fault.truncated(), Fault.short_body()], ids=["broken-off", "silently-short"])
def test_a_truncated_download_is_fetched_again(tmp_path, fault):
    with FakeVideoServer(Script(download=[fault])) as server:
        JobApiVideo(make_settings(server), tmp_path / "jobs").generate(make_job(duration=3.0), tmp_path / "clip.mp4")
    assert server.downloads == ["job-0001", "job-0001"]
    assert len(server.submissions) == 1
    assert_clip(tmp_path / "clip.mp4", 3.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "jobs"]


def test_a_clip_of_the_wrong_duration_is_refused(tmp_path):
    with FakeVideoServer(Script(default=Behaviour(video_duration=4.0))) as server:
        video = JobApiVideo(make_settings(server, max_download_attempts=2), tmp_path / "jobs")
        with pytest.raises(ProviderError, match=r"4.00 s long, 2 s requested"):
            video.generate(make_job(), tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()


def test_a_download_over_the_size_limit_is_aborted(tmp_path):
    with FakeVideoServer() as server:
        video = JobApiVideo(make_settings(server, max_download_bytes=1000), tmp_path / "jobs")
        with pytest.raises(ProviderError, match="1000-byte limit"):
            video.generate(make_job(), tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs"]


def test_a_build_killed_by_sigkill_resumes_the_same_job(tmp_path):
    child = textwrap.dedent("""
        import sys
        from pathlib import Path
        from shortdrama.http import RetryPolicy
        from shortdrama.video.jobs import ChainEntry, EngineSettings, JobEngine
        from shortdrama.video.vendors.base import JobRequest, VendorModel
        from shortdrama.video.vendors.gateway import ADAPTER
        base_url, job_dir, out = sys.argv[1:]
        chain = (ChainEntry(ADAPTER, VendorModel(base_url, "model-a", "FAKE_VIDEO_API_KEY")),)
        settings = EngineSettings(poll_interval_s=0.05, retry=RetryPolicy(request_timeout_s=2))
        JobEngine(chain, settings, Path(job_dir)).generate(
            JobRequest("clip-0001", "p", 2.0, 720, 1280, 24, 7, None), Path(out))
    """)
    job_dir = tmp_path / "jobs"
    with FakeVideoServer(Script(default=Behaviour(processing_polls=40)), api_key=KEY) as server:
        process = subprocess.Popen([sys.executable, "-c", child, server.base_url, str(job_dir), str(tmp_path / "clip.mp4")],
                                   env={**os.environ}, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while not server.polls and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.01)
            assert server.polls, process.stderr.read().decode() if process.poll() is not None else "never polled"
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        assert record(job_dir)["status"] == "submitted"
        before = server.poll_count("job-0001")
        assert before < 40

        result = JobApiVideo(make_settings(server), job_dir).generate(make_job(), tmp_path / "clip.mp4")
    assert result.job_id == "job-0001" and len(server.submissions) == 1
    assert server.poll_count("job-0001") == 41
    assert_clip(tmp_path / "clip.mp4", 2.0)


def test_a_completed_job_whose_clip_was_lost_is_fetched_again_without_paying(tmp_path):
    with FakeVideoServer() as server:
        video = JobApiVideo(make_settings(server), tmp_path / "jobs")
        video.generate(make_job(), tmp_path / "clip.mp4")
        (tmp_path / "clip.mp4").unlink()
        result = video.generate(make_job(), tmp_path / "clip.mp4")
    assert result.job_id == "job-0001" and len(server.submissions) == 1
    assert server.downloads == ["job-0001", "job-0001"]
    assert_clip(tmp_path / "clip.mp4", 2.0)


def test_the_key_is_not_sent_to_another_host(tmp_path):
    with FakeVideoServer() as storage:
        url = f"{storage.base_url}/files/job-0001.mp4"
        with FakeVideoServer(Script(default=Behaviour(video_url=url)), api_key=KEY) as server:
            with pytest.raises(ProviderError, match="HTTP 404"):
                JobApiVideo(make_settings(server), tmp_path / "jobs").generate(make_job(), tmp_path / "clip.mp4")
    assert [r.authorization for r in storage.requests] == ["absent"]
    assert record(tmp_path / "jobs")["status"] == "lost"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/clip.mp4", "/etc/passwd"])
def test_only_http_video_urls_are_followed(tmp_path, url):
    with FakeVideoServer(Script(default=Behaviour(video_url=url))) as server:
        video = JobApiVideo(make_settings(server), tmp_path / "jobs")
        if url.startswith("/"):  # relative to the gateway: an http URL that the gateway answers 404
            with pytest.raises(ProviderError, match="HTTP 404"):
                video.generate(make_job(), tmp_path / "clip.mp4")
        else:
            with pytest.raises(ProviderError, match="refusing a non-http"):
                video.generate(make_job(), tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()
    assert server.downloads == []


def test_a_relative_video_url_is_resolved_against_the_base_url(tmp_path):
    with FakeVideoServer(Script(default=Behaviour(relative_url=True))) as server:
        JobApiVideo(make_settings(server), tmp_path / "jobs").generate(make_job(), tmp_path / "clip.mp4")
    assert server.downloads == ["job-0001"]
    assert_clip(tmp_path / "clip.mp4", 2.0)


def test_a_key_that_could_escape_the_job_dir_is_refused(tmp_path):
    with FakeVideoServer() as server:
        video = JobApiVideo(make_settings(server), tmp_path / "jobs")
        with pytest.raises(ProviderError, match="safe file name"):
            video.generate(make_job(key="../escape"), tmp_path / "clip.mp4")
    assert server.requests == []


def test_each_model_of_the_chain_is_asked_for_a_length_it_sells(tmp_path):
    # A 3 s scene: the first model sells 5 and 10 s clips, its fallback (another vendor) 6 and 10 s.
    script = Script(models={"model-a": Behaviour(outcome="failed")})
    with FakeVideoServer(script) as server:
        chain, settings = make_settings(server, "model-a", "model-b")
        chain = (replace(chain[0], sellable=(5.0, 10.0)), replace(chain[1], sellable=(6.0, 10.0)))
        result = JobEngine(chain, settings, tmp_path / "jobs").generate(make_job(duration=3.0), tmp_path / "clip.mp4")
    assert [s.body["duration"] for s in server.submissions] == [5.0, 6.0] and result.model == "model-b"
    assert_clip(tmp_path / "clip.mp4", 6.0)


def test_polls_soon_then_less_often_up_to_the_poll_interval(tmp_path):
    """A fast job is seen done within about a second; a slow one costs a poll every poll_interval_s."""
    sleeps: list[float] = []
    with FakeVideoServer(Script(default=Behaviour(processing_polls=7)), api_key=KEY) as server:
        chain, settings = make_settings(server, poll_first_s=1.0, poll_interval_s=4.0, job_timeout_s=60.0)
        JobEngine(chain, settings, tmp_path / "jobs", sleep=sleeps.append).generate(make_job(), tmp_path / "c.mp4")
        assert len(server.polls) == 8
    assert sleeps == [1.0, 1.5, 2.25, 3.375, 4.0, 4.0, 4.0]


def test_a_retry_after_on_a_pending_poll_is_the_next_wait(tmp_path):
    sleeps: list[float] = []
    script = Script(default=Behaviour(processing_polls=2, poll_retry_after=7))
    with FakeVideoServer(script, api_key=KEY) as server:
        chain, settings = make_settings(server, poll_first_s=1.0, poll_interval_s=4.0)
        JobEngine(chain, settings, tmp_path / "jobs", sleep=sleeps.append).generate(make_job(), tmp_path / "c.mp4")
    assert sleeps == [7.0, 7.0]  # the gateway's hint, also where it exceeds poll_interval_s


def test_a_job_with_a_fixed_latency_is_collected_soon_after_it_is_done(tmp_path):
    """Real sleeps: a 2 s job is downloaded within a poll step of being done (not at the next 5 s poll)."""
    with FakeVideoServer(Script(default=Behaviour(latency_s=2.0)), api_key=KEY) as server:
        chain, settings = make_settings(server, poll_first_s=0.25, poll_interval_s=5.0)
        started = time.monotonic()
        JobEngine(chain, settings, tmp_path / "jobs").generate(make_job(), tmp_path / "c.mp4")
        took = time.monotonic() - started
    assert 2.0 <= took < 3.5, took
