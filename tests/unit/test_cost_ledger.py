import json
import logging
import multiprocessing

import pytest

from shortdrama.cost.ledger import Ledger, LedgerEntry, LedgerError, utc_now

FORK = multiprocessing.get_context("fork")


def entry(**changes) -> LedgerEntry:
    fields = dict(time=utc_now(), rule="generate_clip", step="video", provider="kling", model="v2", key="ab" * 32,
                  cache="miss", estimate_usd=0.35, cost_usd=0.35, duration_s=12.5, outcome="ok", episode=1, scene=2)
    fields.update(changes)
    return LedgerEntry(**fields)


def test_entry_round_trips_through_one_json_line():
    original = entry(message="rate limited\nretry later", episode=None)
    line = original.to_json()
    assert "\n" not in line
    assert LedgerEntry.from_dict(json.loads(line)) == original
    assert LedgerEntry.from_dict({**json.loads(line), "added_later": 1}) == original


def test_entry_rejects_unknown_outcomes_and_missing_fields():
    with pytest.raises(LedgerError):
        entry(outcome="maybe")
    with pytest.raises(LedgerError):
        entry(cost_usd=float("nan"))
    with pytest.raises(LedgerError):
        LedgerEntry.from_dict({"time": utc_now()})


def test_missing_ledger_is_empty(tmp_path):
    ledger = Ledger(tmp_path / "results" / "s" / "ledger.jsonl")
    assert ledger.entries() == [] and ledger.spent() == 0


def _append_many(path, writer, count):
    ledger = Ledger(path)
    for n in range(count):
        ledger.append(entry(rule=f"writer{writer}", scene=n, message="x" * (n % 7) * 50))


def test_parallel_appends_never_interleave(tmp_path):
    path = tmp_path / "results" / "s" / "ledger.jsonl"
    workers = [FORK.Process(target=_append_many, args=(path, w, 200)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(20)
    assert [w.exitcode for w in workers] == [0] * 4
    # Forked on one node, they all share this node's file: the one place lines could interleave.
    assert path.read_bytes() == b"" and [p.name for p in Ledger(path).writers_dir.glob("*.jsonl")] == [
        Ledger(path).writer_path.name]
    lines = Ledger(path).writer_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 800
    parsed = [LedgerEntry.from_dict(json.loads(line)) for line in lines]
    for w in range(4):
        assert sorted(e.scene for e in parsed if e.rule == f"writer{w}") == list(range(200))
    assert len(Ledger(path).entries()) == 800


def test_spent_counts_billed_outcomes_by_episode(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append(entry(episode=1, cost_usd=0.50))
    ledger.append(entry(episode=1, cost_usd=0.25, outcome="failed"))  # billed although it failed
    ledger.append(entry(episode=1, cost_usd=0.0, outcome="refused"))
    ledger.append(entry(episode=2, cost_usd=1.00))
    ledger.append(entry(episode=None, cost_usd=0.10))
    ledger.append(entry(episode=2, cost_usd=0.0, cache="hit"))
    assert ledger.spent() == pytest.approx(1.85)
    assert ledger.spent(1) == pytest.approx(0.75)
    assert ledger.spent(2) == pytest.approx(1.00)
    assert ledger.spent(3) == 0


def test_a_truncated_last_line_is_skipped_and_the_next_append_survives(tmp_path, caplog):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append(entry(cost_usd=0.5))
    with open(ledger.path, "ab") as f:
        f.write(entry(cost_usd=9.0).to_json().encode()[:40])  # a writer died mid-line
    with caplog.at_level(logging.WARNING, logger="shortdrama.cost.ledger"):
        assert len(ledger.entries()) == 1
    assert "malformed" in caplog.text
    ledger.append(entry(cost_usd=0.25))
    assert [e.cost_usd for e in ledger.entries()] == [0.5, 0.25]
    assert ledger.spent() == pytest.approx(0.75)
