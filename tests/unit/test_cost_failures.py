"""A paid call that fails is ledgered with what it cost, and the profile's retry in the same build
does not buy the same failure again (cost/call.py: PaidFailure, the failure record)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakes.chat_server import FakeChatServer, schema_invalid
from shortdrama.stages import writing
from shortdrama.config import BudgetConfig, LLMConfig, VideoConfig, load_config
from shortdrama.cost import pricing as price
from shortdrama.cost.budget import BudgetExceeded
from shortdrama.cost.call import (BUILD_ID_ENV, AlreadyFailed, Billing, Call, PaidFailure, Runtime, call_key,
                                  failure_path, provider_call)
from shortdrama.cost.report import costs_report
from shortdrama.errors import ShortDramaError
from shortdrama.schemas import write_document
from shortdrama.writers.base import SeriesBrief
from shortdrama.writers.offline import OfflineWriter

PAID = {"provider": "fake_paid", "model": "pro", "pricing": {"per_call": 0.5}}
REASON = "episode 1: no valid reply from fake after 2 repair rounds: scene 1: camera: Input should be one of ..."


def runtime(tmp: Path, cap: float | None = 10.0) -> Runtime:
    return Runtime(output_dir=tmp / "out", cache_dir=tmp / "cache", cache_enabled=True,
                   budget=BudgetConfig(series_usd=cap), providers={"video": PAID})


def a_call(n: int = 1) -> Call:
    return Call(rule="generate_clip", step="clip", version=1, request={"n": n}, episode=1, scene=n)


class Provider:
    """A produce function that records its calls and fails (billed or free) or succeeds on cue."""

    def __init__(self, *outcomes: str):
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self, provider, outputs):
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if outcome == "paid failure":
            raise PaidFailure(REASON, Billing(cost_usd=0.0123, tokens_in=3000, tokens_out=900, model="fake-model"))
        if outcome == "free failure":
            raise ShortDramaError("llm fake: ConnectError")
        outputs["mp4"].write_text("a clip")
        return Billing(cost_usd=0.25)


def attempt(rt: Runtime, produce: Provider, n: int = 1, estimate: float = 0.5) -> None:
    provider_call(rt, a_call(n), VideoConfig.model_validate(PAID), lambda p: estimate, produce,
                  {"mp4": rt.output_dir / f"sc{n}.mp4"})


@pytest.fixture
def build(monkeypatch):
    """Set the build id, as rules/common.smk does for every job of one `snakemake` invocation."""
    def set_build(build_id: str) -> None:
        monkeypatch.setenv(BUILD_ID_ENV, build_id)
    set_build("build-1")
    return set_build


def test_a_paid_failure_is_ledgered_with_its_cost_and_remembered(tmp_path, build):
    rt, produce = runtime(tmp_path), Provider("paid failure")
    with pytest.raises(PaidFailure, match="no valid reply"):
        attempt(rt, produce)
    [line] = rt.ledger.entries()
    assert (line.outcome, line.cache, line.cost_usd, line.estimate_usd) == ("failed", "miss", 0.0123, 0.5)
    assert (line.tokens_in, line.tokens_out, line.model) == (3000, 900, "fake-model")
    assert line.message == REASON
    assert rt.ledger.spent() == pytest.approx(0.0123) and rt.ledger.spent(episode=1) == pytest.approx(0.0123)
    assert rt.guard.reserved() == 0, "the reservation was settled with the real cost"
    record = json.loads(failure_path(rt, line.key).read_text())
    assert record["build"] == "build-1" and record["cost_usd"] == 0.0123
    assert record["message"] == REASON and record["call"] == "generate_clip ep01 sc01" and record["time"]
    report = costs_report(rt.ledger.entries(), 1, 0.0, "ledger")
    assert "1 provider calls, 0 served by the cache, 0 made, 0 refused, 1 failed" in report
    assert "spent $0.01;" in report


def test_the_same_build_does_not_pay_for_the_same_failure_again(tmp_path, build):
    rt, produce = runtime(tmp_path), Provider("paid failure", "ok")
    with pytest.raises(PaidFailure):
        attempt(rt, produce)
    with pytest.raises(AlreadyFailed) as caught:  # Snakemake's retry of the job, in a new process
        attempt(rt, produce)
    assert produce.calls == 1, "the retry sent nothing to the provider"
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("generate_clip ep01 sc01 already failed in this build after costing $0.0123 "
                              f"({REASON[:77]}...)"), "the first failure's reason, shortened: it was shown in full"
    assert message.endswith("not paid for again: fix the cause and run the build again")
    assert [(e.outcome, e.cost_usd) for e in rt.ledger.entries()] == [("failed", 0.0123)], "the retry adds no line"
    assert rt.ledger.spent() == pytest.approx(0.0123)


def test_a_new_build_tries_again_and_a_success_forgets_the_failure(tmp_path, build):
    rt, produce = runtime(tmp_path), Provider("paid failure", "ok")
    with pytest.raises(PaidFailure):
        attempt(rt, produce)
    key = rt.ledger.entries()[0].key
    build("build-2")
    attempt(rt, produce)
    assert produce.calls == 2
    assert [(e.outcome, e.cost_usd) for e in rt.ledger.entries()] == [("failed", 0.0123), ("ok", 0.25)]
    assert (rt.output_dir / "sc1.mp4").read_text() == "a clip"
    assert not failure_path(rt, key).exists()
    assert rt.ledger.spent() == pytest.approx(0.2623)


def test_a_failure_that_cost_nothing_is_retried(tmp_path, build):
    rt, produce = runtime(tmp_path), Provider("free failure", "ok")
    with pytest.raises(ShortDramaError, match="ConnectError"):
        attempt(rt, produce)
    key = rt.ledger.entries()[0].key
    assert not failure_path(rt, key).exists()
    attempt(rt, produce)  # the same build's retry
    assert produce.calls == 2
    assert [(e.outcome, e.cost_usd) for e in rt.ledger.entries()] == [("failed", 0.0), ("ok", 0.25)]


def test_outside_a_build_nothing_is_remembered(tmp_path, monkeypatch):
    monkeypatch.delenv(BUILD_ID_ENV, raising=False)
    rt, produce = runtime(tmp_path), Provider("paid failure", "ok")
    with pytest.raises(PaidFailure):
        attempt(rt, produce)
    assert not (rt.cache_dir / ".failures").exists()
    attempt(rt, produce)
    assert produce.calls == 2


def test_an_answer_that_fails_its_checks_was_paid_for(tmp_path, build):
    rt, produced = runtime(tmp_path), []

    def produce(provider, outputs):
        produced.append(1)
        outputs["mp4"].write_text("not a clip")
        return Billing(cost_usd=0.3)

    def validate(files):
        raise ShortDramaError("the answer is not a clip")

    for expected in (ShortDramaError, AlreadyFailed):
        with pytest.raises(expected, match="not a clip"):
            provider_call(rt, a_call(), VideoConfig.model_validate(PAID), lambda p: 0.5, produce,
                          {"mp4": rt.output_dir / "sc1.mp4"}, validate=validate)
    assert produced == [1]
    assert [(e.outcome, e.cost_usd) for e in rt.ledger.entries()] == [("failed", 0.3)]


def test_failed_spend_counts_against_the_budget(tmp_path, build):
    rt = runtime(tmp_path, cap=0.5)

    def expensive_failure(provider, outputs):
        raise PaidFailure("the writer gave up", Billing(cost_usd=0.3))

    with pytest.raises(PaidFailure):
        provider_call(rt, a_call(1), VideoConfig.model_validate(PAID), lambda p: 0.4, expensive_failure,
                      {"mp4": rt.output_dir / "sc1.mp4"})
    with pytest.raises(BudgetExceeded, match=r"spent \$0.30 \+ reserved \$0.00 \+ this call \$0.25"):
        attempt(rt, Provider("ok"), n=2, estimate=0.25)


# -- the hosted writer through its stage (stages/writing.py) ------------------------------------------------------------

KEY = "sk-test-failures-DO-NOT-LEAK"


def test_a_hosted_writer_that_gives_up_bills_every_answer_and_is_not_asked_again(tmp_path, monkeypatch, build):
    monkeypatch.setenv("DEEPSEEK_API_KEY", KEY)
    with FakeChatServer(expected_key=KEY) as server:
        server.always(schema_invalid(), kind="scenes")
        cfg = load_config(["llm=deepseek", f"llm.base_url={server.base_url}", "llm.repair_rounds=1",
                           "llm.critic_rounds=1", "series.episodes=1", "series.scenes_per_episode.min=2",
                           "series.scenes_per_episode.max=2"])
        rt = Runtime(output_dir=tmp_path / "results", cache_dir=tmp_path / "cache", cache_enabled=True,
                     budget=BudgetConfig(series_usd=5.0), providers={"llm": cfg.llm.model_dump(mode="json")})
        outline = tmp_path / "outline.json"
        write_document(OfflineWriter().write_outline(SeriesBrief.from_config(cfg)), outline)
        spec = writing.ScriptSpec.of(cfg, 1)
        call, llm = writing.script_call(spec, outline, 1, rt)

        def write() -> None:
            provider_call(rt, call, llm, writing.script_estimate(call), writing.produce_script(spec, outline, 1),
                          {"script": tmp_path / "results/ep01/script.json"},
                          validate=lambda files: writing.check_episode_script(spec, 1, files["script"]))

        with pytest.raises(PaidFailure, match=r"episode 1: no valid reply from deepseek-flash after 1 repair rounds"):
            write()
        sent = server.usage_sent()
        assert [(r.kind, r.repair) for r in server.requests] == [("scenes", False), ("scenes", True)]
        with pytest.raises(AlreadyFailed):
            write()
        assert len(server.requests) == 2, "the retry sent nothing"
    [line] = rt.ledger.entries()
    paid = price.token_cost(LLMConfig.model_validate(cfg.llm.model_dump()).pricing, sent["prompt_tokens"],
                            sent["completion_tokens"], sent["calls"])
    assert paid > 0
    assert (line.outcome, line.cost_usd) == ("failed", pytest.approx(paid, abs=1e-6))
    assert (line.tokens_in, line.tokens_out) == (sent["prompt_tokens"], sent["completion_tokens"])
    assert line.key == call_key(call, llm)
