"""The profile's retry (profiles/local: `retries: 1`) does not buy a failed paid step again: the real
Snakemake build with the real profile, against the fake chat server answering one episode unusably."""

import json

import pytest

from builds import REPO, run_snakemake
from fakes.chat_server import FakeChatServer, schema_invalid
from shortdrama.config import load_config
from shortdrama.cost import pricing as price
from shortdrama.cost.ledger import Ledger

pytestmark = pytest.mark.slow

KEY = "sk-llm-retries-0123456789"
REPAIR_ROUNDS = 1
WRITER = ["llm=deepseek", f"llm.repair_rounds={REPAIR_ROUNDS}", "llm.critic_rounds=1", "render=480p",
          "series.episodes=1", "series.scenes_per_episode.min=2", "series.scenes_per_episode.max=2",
          "series.scene_duration.min=3", "series.scene_duration.max=3"]


def test_a_failing_writer_job_is_paid_once_not_once_per_retry(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPSEEK_API_KEY", KEY)
    monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SHORTDRAMA_BUILD_ID", raising=False)  # each snakemake run is its own build
    work = tmp_path / "work"
    with FakeChatServer(expected_key=KEY) as chat:
        chat.always(schema_invalid(), kind="scenes")  # the episode writer never answers a usable script
        overrides = [*WRITER, f"llm.base_url={chat.base_url}"]
        proc = run_snakemake(work, f"overrides={json.dumps(overrides)}",
                             extra=("--profile", str(REPO / "profiles/local")), check=False)
        first_build = chat.requests
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr

    # One attempt of the episode writer: its scenes request and REPAIR_ROUNDS repairs (the scenes fit
    # in one batch, and the critic is never reached). Before, the retry sent them all again.
    assert [(r.kind, r.repair) for r in first_build] == \
        [("outline", False), ("scenes", False)] + [("scenes", True)] * REPAIR_ROUNDS
    assert all(r.status == 200 and r.usage for r in first_build)

    # The ledger holds the failed attempt once, with what its answers cost.
    pricing = load_config(["llm=deepseek"]).llm.pricing
    scenes = [r.usage for r in first_build if r.kind == "scenes"]
    paid = price.token_cost(pricing, sum(u["prompt_tokens"] for u in scenes),
                            sum(u["completion_tokens"] for u in scenes), len(scenes))
    entries = Ledger(work / "results/demo/ledger.jsonl").entries()
    writer = [(e.step, e.outcome) for e in entries if e.step in ("outline", "episode_script")]
    assert writer == [("outline", "ok"), ("episode_script", "failed")]
    [failed] = [e for e in entries if e.outcome == "failed"]
    assert failed.cost_usd == pytest.approx(paid, abs=1e-6) and paid > 0
    assert failed.tokens_in == sum(u["prompt_tokens"] for u in scenes)
    error = failed.message
    assert error.startswith(f"episode 1: no valid reply from deepseek-flash after {REPAIR_ROUNDS} repair rounds")

    # The error is shown once in full; the retry says in one line that it was not paid again.
    assert output.count(error) == 1, output[-4000:]
    retry = [line for line in output.splitlines() if "already failed in this build" in line]
    assert len(retry) == 1, output[-4000:]
    assert f"after costing ${paid:.4f}".rstrip("0") in retry[0] and "not paid for again" in retry[0]
    assert retry[0].startswith("shortdrama: write_episode_script")

    # The next build (another snakemake run) tries again for real, and pays once more.
    with FakeChatServer(expected_key=KEY) as chat:
        chat.always(schema_invalid(), kind="scenes")
        overrides = [*WRITER, f"llm.base_url={chat.base_url}"]
        proc = run_snakemake(work, f"overrides={json.dumps(overrides)}",
                             extra=("--profile", str(REPO / "profiles/local")), check=False)
        second_build = chat.requests
    assert proc.returncode != 0
    assert [(r.kind, r.repair) for r in second_build] == [("scenes", False)] + [("scenes", True)] * REPAIR_ROUNDS
    failures = [e for e in Ledger(work / "results/demo/ledger.jsonl").entries() if e.outcome == "failed"]
    assert len(failures) == 2 and all(e.cost_usd > 0 for e in failures)
