"""The real build on a real Slurm (single node, brought up by ci/slurm/up.sh): every generation job is a Slurm
job, the finals match a local build, a second run submits nothing, an edit submits only what it must, and the
API keys never reach a file. Skipped, with the reason, where no Slurm is reachable."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from builds import REPO, SNAKEMAKE, run_snakemake
from fakes.chat_server import FakeChatServer
from shortdrama.cost.ledger import Ledger
from shortdrama.media import probe


def _slurm_state() -> str | None:
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        return "no Slurm client on PATH (bring one up with ci/slurm/up.sh)"
    try:
        states = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    if not re.search(r"idle|mixed|allocated", states):
        return f"no Slurm node is up (sinfo: {states.strip() or 'nothing'}; run ci/slurm/up.sh)"
    return None


_UNREACHABLE = _slurm_state()
if _UNREACHABLE and os.environ.get("SHORTDRAMA_REQUIRE_SLURM"):  # .ci/run: a Slurm that did not come up fails
    raise RuntimeError(f"SHORTDRAMA_REQUIRE_SLURM is set but {_UNREACHABLE}")
pytestmark = [pytest.mark.slow, pytest.mark.slurm, pytest.mark.skipif(_UNREACHABLE is not None, reason=str(_UNREACHABLE))]

SENTINEL = "sk-sentinel-7c1e94d2b8a6f035"
SERIES = ["llm=deepseek", "render=480p", "video=still", "series.episodes=1", "series.scenes_per_episode.min=2",
          "series.scenes_per_episode.max=2", "series.scene_duration.min=2", "series.scene_duration.max=2"]
SLURM_ARGS = ("--profile", str(REPO / "profiles" / "slurm"), "--jobs", "4", "--slurm-init-seconds-before-status-checks",
              "2", "--slurm-keep-successful-logs", "--latency-wait", "5")


def slurm_build(workdir: Path, overrides: list[str]):
    env_path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), *SLURM_ARGS,
           "--config", f"overrides={json.dumps(overrides)}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PATH": env_path})
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def submitted(proc) -> list[str]:
    """The rules of the Slurm jobs this run submitted (a group job lists its rules)."""
    return re.findall(r"Job \S+ has been submitted with SLURM jobid \d+", proc.stdout + proc.stderr)


@pytest.fixture
def chat(tmp_path, monkeypatch):
    with FakeChatServer(expected_key=SENTINEL) as server:
        monkeypatch.setenv("DEEPSEEK_API_KEY", SENTINEL)
        monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
        yield server


def test_tiny_series_on_slurm(tmp_path, chat):
    overrides = [*SERIES, f"llm.base_url={chat.base_url}"]
    work = tmp_path / "slurm"
    first = slurm_build(work, overrides)
    jobs = submitted(first)
    assert jobs, "no Slurm job was submitted"

    # Every provider call of a cluster rule ran inside a Slurm job and says which; the writers are local
    # rules (they wait on their LLM's API: a Slurm job would only add its start-up and a status check).
    entries = Ledger(work / "results/demo/ledger.jsonl").entries()
    writers = {"write_outline", "write_episode_script"}
    on_cluster = [e for e in entries if e.rule not in writers]
    assert on_cluster and all(e.slurm_job_id for e in on_cluster), [(e.rule, e.slurm_job_id) for e in entries]
    assert {e.rule for e in entries} >= writers and not any(e.slurm_job_id for e in entries if e.rule in writers)

    # The same config built locally (its own cache, so nothing is replayed) gives the same streams.
    local = tmp_path / "local"
    os.environ["SHORTDRAMA_CACHE_DIR"] = str(tmp_path / "cache-local")
    run_snakemake(local, f"overrides={json.dumps(overrides)}")
    for final in ("episode_01_final.mp4",):
        on_slurm, here = probe(work / "results/demo" / final), probe(local / "results/demo" / final)
        assert [(s.kind, s.codec, s.width, s.height) for s in on_slurm.streams] == \
               [(s.kind, s.codec, s.width, s.height) for s in here.streams]
        assert on_slurm.duration == pytest.approx(here.duration, abs=0.05)
    os.environ["SHORTDRAMA_CACHE_DIR"] = str(tmp_path / "cache")
    # The configuration recorded (a local rule, on the head node) is what the local build recorded.
    assert (work / "results/demo/config.yaml").read_text() == (local / "results/demo/config.yaml").read_text()

    # Nothing to do: nothing submitted.
    assert submitted(slurm_build(work, overrides)) == []

    # One dialogue line edited: only that episode's audio/subtitles/render group is submitted.
    script_path = work / "results/demo/ep01/script.json"
    script = json.loads(script_path.read_text())
    scene = next(s for s in script["scenes"] if s["dialogue"])
    scene["dialogue"][0]["text"] = "A line rewritten by hand."
    script_path.write_text(json.dumps(script, ensure_ascii=False, indent=2))
    edit = submitted(slurm_build(work, overrides))
    assert len(edit) == 1, edit  # the episode_finish group: speak, subtitles, mix, render in one Slurm job

    # The key reached the jobs (the fake server checked it) but no file the build or Slurm wrote.
    leaks = grep_tree(SENTINEL, [work, Path("/var/log/slurm")])
    records = subprocess.run(["scontrol", "show", "job", "--details"], capture_output=True, text=True).stdout
    assert not leaks and SENTINEL not in records, leaks


def grep_tree(needle: str, roots: list[Path]) -> list[str]:
    found = []
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*"):
            try:
                if path.is_file() and needle.encode() in path.read_bytes():
                    found.append(str(path))
            except OSError:
                continue
    return found
