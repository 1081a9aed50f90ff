"""A whole series through hosted providers: the real Snakemake build talking HTTP to a fake chat
server and a fake video job gateway on 127.0.0.1."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from builds import REPO, SNAKEMAKE, run_snakemake
from fakes.chat_server import FakeChatServer
from fakes.video_server import Behaviour, FakeVideoServer, Script
from shortdrama.cost.ledger import Ledger
from shortdrama.media import probe, read_subtitles

pytestmark = pytest.mark.slow

LLM_KEY, VIDEO_KEY = "sk-llm-test-0123456789", "sk-video-test-9876543210"
HOSTED = ["llm=deepseek", "video=gateway_kling", "render=480p", "series.episodes=1", "series.scenes_per_episode.min=2",
          "series.scenes_per_episode.max=2", "series.scene_duration.min=3", "series.scene_duration.max=3",
          "video.poll_interval_s=0.05", "video.fallback.poll_interval_s=0.05", "video.job_timeout_s=120"]


@pytest.fixture
def servers(tmp_path, monkeypatch):
    def start(script: Script):
        chat = FakeChatServer(expected_key=LLM_KEY).__enter__()
        video = FakeVideoServer(script, api_key=VIDEO_KEY).__enter__()
        started.extend([chat, video])
        monkeypatch.setenv("DEEPSEEK_API_KEY", LLM_KEY)
        monkeypatch.setenv("VIDEO_GATEWAY_API_KEY", VIDEO_KEY)
        monkeypatch.setenv("VIDEO_GATEWAY_URL", video.base_url)
        monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
        return chat, video, [*HOSTED, f"llm.base_url={chat.base_url}"]

    started: list = []
    yield start
    for server in reversed(started):
        server.__exit__(None, None, None)


def _config(overrides: list[str]) -> str:
    return f"overrides={json.dumps(overrides)}"


def test_full_series_through_both_fake_servers(tmp_path, servers):
    chat, video, overrides = servers(Script())
    work = tmp_path / "work"
    run_snakemake(work, _config(overrides))
    script = json.loads((work / "results/demo/ep01/script.json").read_text())
    final = work / "results/demo/episode_01_final.mp4"
    info = probe(final)
    assert (info.first("video").codec, info.first("video").width, info.first("video").height) == ("h264", 480, 854)
    assert info.first("audio").codec == "aac" and info.first("subtitle").codec == "mov_text"
    assert info.duration == pytest.approx(sum(s["duration"] for s in script["scenes"]), abs=0.25)
    lines = [line["text"] for s in script["scenes"] for line in s["dialogue"]]
    assert [text for _, _, text in read_subtitles(final)] == lines

    assert len(video.submissions) == len(script["scenes"]), "one paid job per clip"
    assert all(s.body["reference_image"].startswith("data:image/png;base64,") for s in video.submissions)
    assert [s.body["duration"] for s in video.submissions] == [5, 5], "3 s scenes are bought as the 5 s clips sold"
    assert all(s.body["prompt"].count("..") == 0 and "On screen:" in s.body["prompt"] for s in video.submissions)
    assert all(s.authorization == "present" for s in video.submissions)
    entries = Ledger(work / "results/demo/ledger.jsonl").entries()
    writer = [e for e in entries if e.step in ("outline", "episode_script")]
    assert writer and all(e.tokens_in > 0 and e.tokens_out > 0 and e.cost_usd > 0 for e in writer)
    clips = [e for e in entries if e.step == "clip"]
    assert [e.cost_usd for e in clips] == pytest.approx([0.5, 0.5]), "kling-v1-6: 3 s billed as 5 s x $0.10"

    for folder in (work / "results", work / "logs", work / ".snakemake", tmp_path / "cache"):
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert LLM_KEY.encode() not in data and VIDEO_KEY.encode() not in data, f"a key leaked into {path}"


def test_missing_key_stops_the_build_before_any_job(tmp_path, servers, monkeypatch):
    chat, video, overrides = servers(Script())
    monkeypatch.delenv("DEEPSEEK_API_KEY")
    monkeypatch.delenv("VIDEO_GATEWAY_API_KEY")
    work = tmp_path / "work"
    proc = run_snakemake(work, _config(overrides), check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("shortdrama: error:")]
    assert errors == [
        "shortdrama: error: llm=deepseek (conf/llm/deepseek.yaml) needs the environment variable DEEPSEEK_API_KEY; "
        "video=gateway_kling (conf/video/gateway_kling.yaml) needs the environment variable VIDEO_GATEWAY_API_KEY: "
        "set them in the environment (the values never go into any file)"]
    assert "Traceback" not in proc.stderr
    # Checked once the DAG was built (the jobs are listed) but before the first one started.
    assert "rule write_outline" not in proc.stdout + proc.stderr and "Finished job" not in proc.stderr
    assert not chat.requests and not video.submissions
    results = work / "results"
    assert not results.exists() or not [p for p in results.rglob("*") if p.is_file()], "no job wrote anything"
    assert not (work / "results/demo/.ledger.jsonl.d").exists() and not (work / "results/demo/ledger.jsonl").exists()

    # A dry run needs no key: it only shows the jobs.
    dry = run_snakemake(work, _config(overrides), extra=("--dry-run",), check=False)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "write_outline" in dry.stdout + dry.stderr and "shortdrama: error" not in dry.stderr

    # With the keys set, the same build runs.
    monkeypatch.setenv("DEEPSEEK_API_KEY", LLM_KEY)
    monkeypatch.setenv("VIDEO_GATEWAY_API_KEY", VIDEO_KEY)
    run_snakemake(work, _config(overrides))
    assert (work / "results/demo/episode_01_final.mp4").exists() and len(video.submissions) == 2


def test_killed_while_polling_resumes_the_same_job(tmp_path, servers):
    # Every job answers "processing" for a while, long enough to kill the build mid-poll.
    chat, video, overrides = servers(Script(default=Behaviour(processing_polls=80)))
    work = tmp_path / "work"
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(work), "--cores", "2", "--config", _config(overrides)]
    build = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                             env={**os.environ})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (video.submissions and len(video.polls) >= 5):
        time.sleep(0.1)
    assert video.submissions, "the build never submitted a clip"
    os.killpg(build.pid, signal.SIGKILL)
    build.wait()
    submitted = {s.id for s in video.submissions}
    polls_before = len(video.polls)

    run_snakemake(work, extra=("--unlock",))
    run_snakemake(work, _config(overrides))
    script = json.loads((work / "results/demo/ep01/script.json").read_text())
    assert len(video.submissions) == len(script["scenes"]), "no clip was submitted (and paid) twice"
    assert submitted <= set(video.polls[polls_before:]), "the jobs of the killed build were polled again, not resubmitted"
    assert (work / "results/demo/episode_01_final.mp4").exists()


def _interleaved(polls: list[str]) -> bool:
    """True when some job was polled again after another job's polls had started."""
    finished: set[str] = set()
    current = None
    for job in polls:
        if job != current:
            if job in finished:
                return True
            if current is not None:
                finished.add(current)
            current = job
    return False


@pytest.mark.parametrize("video_api, overlap", [(1, False), (2, True)])
def test_snakemake_resources_cap_concurrent_video_jobs(tmp_path, servers, video_api, overlap):
    # Jobs long enough (60 polls) that two clips would overlap if allowed; cores are not the limit.
    chat, video, overrides = servers(Script(default=Behaviour(processing_polls=60)))
    run_snakemake(tmp_path / "work", _config(overrides), extra=("--cores", "4", "--resources", f"video_api={video_api}"))
    assert len(video.submissions) == 2
    assert _interleaved(list(video.polls)) is overlap


def test_waiting_clips_hold_no_core_and_their_cap_is_the_presets_concurrency(tmp_path, servers):
    """`shortdrama build --cores 1` with video.concurrency=2: two hosted jobs wait on the API at once (each
    clip job holding the one core would mean one at a time), never three, and every clip is made."""
    chat, video, overrides = servers(Script(default=Behaviour(latency_s=8.0)))
    overrides = [*overrides, "series.scenes_per_episode.min=4", "series.scenes_per_episode.max=4",
                 "video.concurrency=2", "video.poll_interval_s=0.5"]
    work = tmp_path / "work"
    shortdrama = str(Path(SNAKEMAKE).with_name("shortdrama"))
    proc = subprocess.run([shortdrama, "build", "-d", str(work), "--cores", "1", *overrides],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(video.submissions) == 4 and all(job.fetched for job in video.submissions)
    assert video.most_in_flight() == 2
    assert len(list((work / "results/demo/ep01/clips").glob("sc*.mp4"))) == 4
