from shortdrama.cost.ledger import LedgerEntry
from shortdrama.cost.report import costs_report


def entry(step, cache, cost, estimate, episode=1, outcome="ok", model="m"):
    return LedgerEntry(time="2026-11-28T00:00:00+00:00", rule=step, step=step, provider="p", model=model, key="k",
                       cache=cache, estimate_usd=estimate, cost_usd=cost, duration_s=0.1, outcome=outcome,
                       episode=episode)


def test_breakdown_and_traditional_comparison():
    entries = [entry("clip", "miss", 0.5, 0.5), entry("clip", "hit", 0.0, 0.5), entry("clip", "miss", 0.0, 0.5, outcome="refused"),
               entry("outline", "miss", 0.05, 0.05, episode=None)]
    report = costs_report(entries, episodes=2, traditional_per_episode=800.0, source="ledger")
    assert report.splitlines()[0] == "ledger: 4 provider calls, 1 served by the cache, 2 made, 1 refused, 0 failed"
    clip_row = next(l for l in report.splitlines() if l.startswith("clip "))
    assert clip_row.split() == ["clip", "3", "1", "1", "1", "$0.50", "$0.50"]
    assert "series " in report and "ep01 " in report
    assert "spent $0.55; the cache saved $0.50" in report
    assert "traditional production of 2 episode(s) at $800.00 each: $1,600.00; this build: $0.55 (0.03% of it, 2,909x cheaper)" in report
