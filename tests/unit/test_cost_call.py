"""provider_call: the one path every provider call takes (cache, budget, ledger, slots)."""

import multiprocessing
from pathlib import Path

import pytest

from shortdrama.config import BudgetConfig, VideoConfig
from shortdrama.cost.budget import BudgetExceeded
from shortdrama.cost.call import Call, Runtime, provider_call

PREMIUM = {"provider": "fake_paid", "model": "pro", "pricing": {"per_call": 0.6},
           "fallback": {"provider": "fake_paid", "model": "lite", "pricing": {"per_call": 0.2}}}


def runtime(tmp: Path, cap: float | None = 1.0, on_cap: str = "stop") -> Runtime:
    return Runtime(output_dir=tmp / "out", cache_dir=tmp / "cache", cache_enabled=True,
                   budget=BudgetConfig(series_usd=cap, on_cap=on_cap), providers={"video": PREMIUM})


def call(n: int) -> Call:
    return Call(rule="generate_clip", step="clip", version=1, request={"n": n}, episode=1, scene=n)


def run(rt: Runtime, n: int, produced: list) -> None:
    def produce(provider, outputs):
        produced.append(provider.model)
        outputs["mp4"].write_text(f"clip {n} by {provider.model}")

    provider = VideoConfig.model_validate(PREMIUM)
    provider_call(rt, call(n), provider, lambda p: p.pricing.per_call, produce, {"mp4": rt.output_dir / f"sc{n}.mp4"})


def test_second_identical_call_is_a_free_hit(tmp_path):
    rt, produced = runtime(tmp_path), []
    run(rt, 1, produced)
    (rt.output_dir / "sc1.mp4").unlink()
    run(rt, 1, produced)
    assert produced == ["pro"]
    assert (rt.output_dir / "sc1.mp4").read_text() == "clip 1 by pro"
    entries = rt.ledger.entries()
    assert [(e.cache, e.cost_usd) for e in entries] == [("miss", 0.6), ("hit", 0.0)]


def test_cap_stops_and_downgrade_falls_back(tmp_path):
    rt, produced = runtime(tmp_path / "stop", cap=1.0), []
    run(rt, 1, produced)
    with pytest.raises(BudgetExceeded, match=r"series cap \$1.00 reached: spent \$0.60"):
        run(rt, 2, produced)
    assert not (rt.output_dir / "sc2.mp4").exists()
    soft = runtime(tmp_path / "soft", cap=1.0, on_cap="downgrade")
    run(soft, 1, produced)
    run(soft, 2, produced)
    assert (soft.output_dir / "sc2.mp4").read_text() == "clip 2 by lite"
    assert soft.ledger.spent() == pytest.approx(0.8)


def test_failed_call_releases_its_reservation(tmp_path):
    rt = runtime(tmp_path, cap=1.0)

    def broken(provider, outputs):
        raise RuntimeError("provider exploded")

    provider = VideoConfig.model_validate(PREMIUM)
    with pytest.raises(RuntimeError):
        provider_call(rt, call(1), provider, lambda p: 0.6, broken, {"mp4": rt.output_dir / "sc1.mp4"})
    assert rt.guard.reserved() == 0
    assert [e.outcome for e in rt.ledger.entries()] == ["failed"]
    run(rt, 2, [])  # the money was never spent, so the next call still fits


def _race(tmp: str, n: int, barrier, results) -> None:
    rt = runtime(Path(tmp), cap=1.0)
    barrier.wait()
    try:
        run(rt, n, [])
        results.put("ok")
    except BudgetExceeded:
        results.put("refused")


def test_two_jobs_racing_for_the_last_dollar(tmp_path):
    for attempt in range(3):
        folder = tmp_path / f"race{attempt}"
        ctx = multiprocessing.get_context("fork")
        barrier, results = ctx.Barrier(2), ctx.Queue()
        jobs = [ctx.Process(target=_race, args=(str(folder), n, barrier, results)) for n in (1, 2)]
        for job in jobs:
            job.start()
        for job in jobs:
            job.join(30)
        outcomes = sorted(results.get(timeout=5) for _ in jobs)
        assert outcomes == ["ok", "refused"]
        assert runtime(folder).ledger.spent() == pytest.approx(0.6)
