import json
import logging
import multiprocessing
import subprocess
import sys

import pytest

from shortdrama.cost import ledger as ledger_module
from shortdrama.cost.ledger import MIGRATED_FILE, Ledger, LedgerEntry, LedgerError, utc_now

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
    assert [p.name for p in Ledger(path).writers_dir.glob("*.jsonl")] == [Ledger(path).writer_path.name]
    # The view was written by the first append only: it holds one whole line, not an empty file.
    [first] = path.read_bytes().splitlines()
    assert LedgerEntry.from_dict(json.loads(first)).rule.startswith("writer")
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
    with open(ledger.writer_path, "ab") as f:
        f.write(entry(cost_usd=9.0).to_json().encode()[:40])  # a writer died mid-line
    with caplog.at_level(logging.WARNING, logger="shortdrama.cost.ledger"):
        assert len(ledger.entries()) == 1
    assert "malformed" in caplog.text
    ledger.append(entry(cost_usd=0.25))
    assert [e.cost_usd for e in ledger.entries()] == [0.5, 0.25]
    assert ledger.spent() == pytest.approx(0.75)
    # The damaged line is left out of the view too, and the view holds the two good lines whole.
    assert [LedgerEntry.from_dict(json.loads(line)).cost_usd for line in _view_lines(ledger)] == [0.5]
    ledger.refresh_view()
    assert [LedgerEntry.from_dict(json.loads(line)).cost_usd for line in _view_lines(ledger)] == [0.5, 0.25]


# -- ledger.jsonl, the merged view -------------------------------------------------------------


def _view_lines(ledger: Ledger) -> list[bytes]:
    return ledger.path.read_bytes().splitlines()


def _append_as(path, host: str, rows: list[tuple[str, float]]) -> None:
    """Append from another process that calls itself `host` (each node writes its own file)."""
    code = ("import sys, json; from shortdrama.cost.ledger import Ledger, LedgerEntry\n"
            "for time, cost in json.loads(sys.argv[2]):\n"
            "    Ledger(sys.argv[1]).append(LedgerEntry(time=time, rule='generate_clip', step='clip', provider='p',"
            " model='m', key='k', cache='miss', estimate_usd=cost, cost_usd=cost, duration_s=1.0, outcome='ok'))\n")
    env = {"SHORTDRAMA_HOSTNAME": host, "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code, str(path), json.dumps(rows)], check=True, env=env)


def _at(second: int) -> str:
    return f"2025-03-01T10:00:{second:02d}.000+00:00"


def test_the_view_is_every_nodes_lines_merged_by_time(tmp_path):
    path = tmp_path / "results" / "s" / "ledger.jsonl"
    _append_as(path, "node-a", [(_at(1), 0.10), (_at(4), 0.40)])
    _append_as(path, "node-b", [(_at(2), 0.20), (_at(3), 0.30), (_at(5), 0.50)])
    ledger = Ledger(path)
    files = sorted(p.name.split(".")[0] for p in ledger.writers_dir.glob("*.jsonl"))
    assert files == ["node-a", "node-b"], "each host appended to its own file"
    # Until refreshed, the view is what the first append wrote: that one line, not an empty file.
    assert [json.loads(line)["time"] for line in _view_lines(ledger)] == [_at(1)]

    entries = ledger.refresh_view()
    assert [(e.time, e.cost_usd, e.host) for e in entries] == [
        (_at(1), 0.10, "node-a"), (_at(2), 0.20, "node-b"), (_at(3), 0.30, "node-b"), (_at(4), 0.40, "node-a"),
        (_at(5), 0.50, "node-b")]
    view = [LedgerEntry.from_dict(json.loads(line)) for line in _view_lines(ledger)]
    assert view == ledger.entries() == entries
    # Byte for byte the lines the nodes wrote, merged: nothing re-serialised, nothing added.
    node_lines = {line for p in ledger.writers_dir.glob("*.jsonl") for line in p.read_bytes().splitlines()}
    assert set(_view_lines(ledger)) == node_lines and len(_view_lines(ledger)) == 5


def test_the_view_is_never_read_back_as_lines(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append(entry(time=_at(1), cost_usd=0.5))
    ledger.append(entry(time=_at(2), cost_usd=0.25))
    before = ledger.entries()
    for _ in range(3):
        ledger.refresh_view()
    assert ledger.entries() == before and [e.cost_usd for e in before] == [0.5, 0.25]
    assert ledger.spent() == pytest.approx(0.75)
    assert len(_view_lines(ledger)) == 2
    # Even with writers.json lost (and this process's memo of it), the view's lines are not taken
    # for new ones: each is already in a node's file.
    (ledger.writers_dir / "writers.json").unlink()
    ledger_module._views.clear()
    assert ledger.entries() == before
    assert not (ledger.writers_dir / MIGRATED_FILE).exists()
    assert json.loads((ledger.writers_dir / "writers.json").read_text())["view"] is True


def test_an_old_single_file_ledger_is_migrated_once(tmp_path):
    path = tmp_path / "ledger.jsonl"
    old = [entry(time=_at(s), cost_usd=c, message=f"old {s}") for s, c in ((1, 0.5), (3, 0.25))]
    # Written by the first versions: every line in ledger.jsonl itself, some without host fields.
    legacy = {k: v for k, v in json.loads(old[0].to_json()).items() if k not in ("host", "slurm_job_id")}
    text = json.dumps(legacy) + "\n" + old[1].to_json() + "\n"
    path.write_text(text)
    ledger = Ledger(path)
    ledger.append(entry(time=_at(2), cost_usd=1.0, message="new"))

    migrated = ledger.writers_dir / MIGRATED_FILE
    assert migrated.read_text() == text, "the old lines, moved byte for byte"
    assert [(e.time, e.cost_usd, e.message, e.host) for e in ledger.entries()] == [
        (_at(1), 0.5, "old 1", ""), (_at(2), 1.0, "new", old[1].host), (_at(3), 0.25, "old 3", old[1].host)]
    assert ledger.spent() == pytest.approx(1.75)

    ledger.refresh_view()
    assert [json.loads(line)["message"] for line in _view_lines(ledger)] == ["old 1", "new", "old 3"]
    # Migrating again (a reader in a fresh process, writers.json lost) moves nothing a second time.
    for lose_writers_json in (False, True):
        if lose_writers_json:
            (ledger.writers_dir / "writers.json").unlink()
        ledger_module._views.clear()
        assert [e.message for e in ledger.entries()] == ["old 1", "new", "old 3"]
        assert migrated.read_text() == text
        assert ledger.spent() == pytest.approx(1.75)


def test_the_view_is_written_whole_by_rename(tmp_path, monkeypatch):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append(entry(time=_at(1)))
    ledger.append(entry(time=_at(2)))
    replaced = []
    real_replace = ledger_module.os.replace
    monkeypatch.setattr(ledger_module.os, "replace", lambda src, dst: (replaced.append((src, dst)), real_replace(src, dst)))
    ledger.refresh_view()
    assert any(str(dst) == str(ledger.path) and str(src) != str(ledger.path) for src, dst in replaced)
    assert len(_view_lines(ledger)) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "no temporary file is left behind"


def test_no_ledger_gets_no_view(tmp_path):
    ledger = Ledger(tmp_path / "results" / "s" / "ledger.jsonl")
    assert ledger.refresh_view() == [] and not ledger.exists()
    assert not (tmp_path / "results").exists()


def test_shortdrama_costs_reads_every_node_and_refreshes_the_view(tmp_path, capsys):
    from shortdrama.cli import main

    path = tmp_path / "results" / "demo" / "ledger.jsonl"
    _append_as(path, "node-a", [(_at(1), 0.10)])
    _append_as(path, "node-b", [(_at(2), 0.20)])  # a build killed before its hooks: the view lags
    assert len(_view_lines(Ledger(path))) == 1
    assert main(["costs", "-d", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: 2 provider calls") and "spent $0.30" in out
    assert [json.loads(line)["host"] for line in _view_lines(Ledger(path))] == ["node-a", "node-b"]
    assert main(["costs", "-d", str(tmp_path / "elsewhere")]) == 2
    assert "shortdrama: error: no ledger at" in capsys.readouterr().err
