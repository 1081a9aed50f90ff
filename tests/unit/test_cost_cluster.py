"""The cost state shared by jobs on several nodes of a cluster: real processes, each told which node
it is on through $SHORTDRAMA_HOSTNAME, racing on one folder."""

import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from shortdrama.config import BudgetConfig, VideoConfig
from shortdrama.cost.budget import BudgetError, BudgetExceeded
from shortdrama.cost.cache import CallCache, file_digest, request_key
from shortdrama.cost.call import Call, Runtime, provider_call
from shortdrama.cost.ledger import Ledger, LedgerEntry
from shortdrama.cost.locking import HOSTNAME_ENV, exclusive_lock, host_name, try_lock

from cluster_workers import append_as, make_guard, paid, reserve_and_exit, spend_until_refused

SPAWN = multiprocessing.get_context("spawn")
FORK = multiprocessing.get_context("fork")
HEAD = "headnode"
KEY = request_key({"step": "generate_clip", "prompt": "rain on a night market"})


@pytest.fixture(autouse=True)
def on_the_head_node(monkeypatch):
    monkeypatch.setenv(HOSTNAME_ENV, HEAD)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)


def wait_all(workers, timeout=20):
    for w in workers:
        w.join(timeout)
    assert [w.exitcode for w in workers] == [0] * len(workers)


# -- the ledger ---------------------------------------------------------------------------------


def test_eight_processes_on_four_nodes_lose_no_ledger_line(tmp_path, caplog):
    path = tmp_path / "results" / "s" / "ledger.jsonl"
    barrier = SPAWN.Barrier(8)
    workers = [SPAWN.Process(target=append_as, args=(path, f"node{w % 4}", str(9000 + w), w, 25, barrier))
               for w in range(8)]
    for w in workers:
        w.start()
    wait_all(workers)
    ledger = Ledger(path)
    with caplog.at_level(logging.WARNING, logger="shortdrama.cost.ledger"):
        entries = ledger.entries()
    assert "malformed" not in caplog.text
    assert len(entries) == 200
    for w in range(8):
        mine = [e for e in entries if e.rule == f"writer{w}"]
        assert sorted(e.scene for e in mine) == list(range(25))
        assert {(e.host, e.slurm_job_id) for e in mine} == {(f"node{w % 4}", str(9000 + w))}
    # One file per node, each named in writers.json; ledger.jsonl is the merged view of them all.
    files = sorted(p.name for p in ledger.writers_dir.glob("*.jsonl"))
    assert len(files) == 4 and all(name.startswith(f"node{n}.") for n, name in enumerate(files))
    assert json.loads((ledger.writers_dir / "writers.json").read_text())["writers"] == files
    ledger.refresh_view()
    assert [LedgerEntry.from_dict(json.loads(line)) for line in path.read_text().splitlines()] == entries
    assert [e.time for e in entries] == sorted(e.time for e in entries)
    assert ledger.spent() == pytest.approx(2.00)


def test_legacy_single_file_and_node_files_are_read_together(tmp_path):
    path = tmp_path / "ledger.jsonl"
    old = {k: v for k, v in json.loads(paid(0.5, time="2025-01-01T00:00:00.000+00:00").to_json()).items()
           if k not in ("host", "slurm_job_id")}
    path.write_text(json.dumps(old) + "\n")  # a ledger written before hosts were recorded
    ledger = Ledger(path)
    ledger.append(paid(0.25))
    entries = ledger.entries()
    assert [(e.cost_usd, e.host, e.slurm_job_id) for e in entries] == [(0.5, "", None), (0.25, HEAD, None)]
    assert ledger.spent() == pytest.approx(0.75)
    assert path.read_text() == json.dumps(old) + "\n"  # old lines stay where they were


def test_a_line_cut_short_in_this_nodes_file_costs_only_that_line(tmp_path, caplog):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append(paid(0.5))
    with open(ledger.writer_path, "ab") as f:
        f.write(paid(9.0).to_json().encode()[:40])  # another process of this node died mid-line
    ledger.append(paid(0.25))
    with caplog.at_level(logging.WARNING, logger="shortdrama.cost.ledger"):
        assert [e.cost_usd for e in ledger.entries()] == [0.5, 0.25]
    assert "malformed" in caplog.text


def test_each_node_names_its_file_in_writers_json(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append(paid(0.4))
    # writers.json is what lets a reader with a stale directory listing find a new node's file.
    assert json.loads((ledger.writers_dir / "writers.json").read_text())["writers"] == [ledger.writer_path.name]
    assert ledger.writer_path.name in ledger._listed_writers()


def test_slurm_job_id_and_host_land_in_the_ledger_of_a_provider_call(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    premium = {"provider": "fake_paid", "model": "pro", "pricing": {"per_call": 0.6}}
    rt = Runtime(output_dir=tmp_path / "out", cache_dir=tmp_path / "cache", cache_enabled=True,
                 budget=BudgetConfig(series_usd=1.0), providers={"video": premium})

    def produce(provider, outputs):
        outputs["mp4"].write_text("clip")

    call = Call(rule="generate_clip", step="clip", version=1, request={"n": 1}, episode=1, scene=1)
    provider_call(rt, call, VideoConfig.model_validate(premium), lambda p: p.pricing.per_call, produce,
                  {"mp4": rt.output_dir / "sc1.mp4"})
    [entry] = Ledger(rt.output_dir / "ledger.jsonl").entries()
    assert (entry.host, entry.slurm_job_id, entry.cost_usd) == (HEAD, "4242", 0.6)
    line = json.loads(Ledger(rt.output_dir / "ledger.jsonl").writer_path.read_text())
    assert (line["host"], line["slurm_job_id"]) == (HEAD, "4242")


# -- the budget guard ---------------------------------------------------------------------------


def test_nodes_racing_for_one_purse_never_pass_the_cap(tmp_path):
    hosts = [HEAD, "nodeB", "nodeC", "nodeD"] * 2
    barrier, results, done = SPAWN.Barrier(len(hosts)), SPAWN.Queue(), SPAWN.Event()
    workers = [SPAWN.Process(target=spend_until_refused, args=(tmp_path, h, barrier, results, done)) for h in hosts]
    for w in workers:
        w.start()
    try:
        answers = [results.get(timeout=20) for _ in workers]
        guard = make_guard(tmp_path)
        assert sum(made for _, made, _ in answers) == 10  # exactly the $1.00 cap in $0.10 calls
        assert guard.ledger.spent() + guard.reserved() == pytest.approx(1.00)
    finally:
        done.set()
    wait_all(workers)
    # Every worker is gone now. This node's can be probed, so their money comes back; the other
    # nodes' pids mean nothing here, so theirs stays reserved until settled or their lease ends.
    in_flight = {h: 0.0 for h in hosts}
    for host, made, settled in answers:
        in_flight[host] += 0.10 * (made - settled)
    assert guard.reserved() == pytest.approx(sum(v for h, v in in_flight.items() if h != HEAD))
    kept = json.loads(guard.reservations_path.read_text())["reservations"]
    assert {r["host"] for r in kept} <= {"nodeB", "nodeC", "nodeD"} and all(r["lease_until"] for r in kept)
    assert guard.ledger.spent() + guard.reserved() <= 1.00 + 1e-9


def test_a_foreign_reservation_outlives_its_dead_pid_until_its_lease_ends(tmp_path):
    worker = SPAWN.Process(target=reserve_and_exit, args=(tmp_path, "nodeB", 0.80, 1.5))
    worker.start()
    wait_all([worker])
    guard = make_guard(tmp_path)
    [held] = json.loads(guard.reservations_path.read_text())["reservations"]
    assert (held["host"], held["slurm_job_id"], held["pid"]) == ("nodeB", "777", worker.pid)
    assert guard.reserved() == pytest.approx(0.80)  # its pid is dead here, but it is not ours to probe
    with pytest.raises(BudgetExceeded):
        guard.reserve(0.50, 1, "too much while nodeB's call may be running")
    until = datetime.fromisoformat(held["lease_until"])
    time.sleep(max(0.0, (until - datetime.now(timezone.utc)).total_seconds()) + 0.05)
    assert guard.reserved() == 0  # the lease ran out: nodeB died, its money is back
    guard.reserve(1.00, 1, "the whole purse")


def test_renew_keeps_a_long_call_reserved_and_fails_once_it_is_gone(tmp_path):
    guard = make_guard(tmp_path, lease_s=0.3)
    reservation = guard.reserve(0.5, 1, "a long render")
    renewed = guard.renew(reservation, lease_s=60)
    assert renewed.lease_until > reservation.lease_until
    time.sleep(0.35)
    assert guard.reserved() == pytest.approx(0.5)
    guard.release(renewed)
    with pytest.raises(BudgetError, match="no longer held"):
        guard.renew(renewed)
    with pytest.raises(BudgetError):
        make_guard(tmp_path, lease_s=0)


def test_old_format_reservations_are_read_as_made_on_this_node(tmp_path):
    guard = make_guard(tmp_path)
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    now = datetime.now(timezone.utc)
    old = [  # as reservations.json looked before hosts and leases: id, pid, estimate, episode, label, time
        {"id": "a", "pid": os.getpid(), "estimate_usd": 0.30, "episode": 1, "label": "live", "time": now.isoformat()},
        {"id": "b", "pid": dead, "estimate_usd": 0.20, "episode": 1, "label": "crashed", "time": now.isoformat()},
        {"id": "c", "pid": os.getpid(), "estimate_usd": 0.40, "episode": 1, "label": "a pid reused for hours",
         "time": (now - timedelta(hours=7)).isoformat()},
    ]
    guard.state_dir.mkdir(parents=True)
    guard.reservations_path.write_text(json.dumps({"reservations": old}))
    assert guard.reserved() == pytest.approx(0.30)
    assert [r["id"] for r in json.loads(guard.reservations_path.read_text())["reservations"]] == ["a"]


# -- the cache ----------------------------------------------------------------------------------


def _put_from(root, source):
    CallCache(root).put(KEY, {"clip": source}, {"provider": "kling"})


def test_a_put_killed_mid_copy_is_never_served_and_does_not_block_the_next_put(tmp_path):
    cache = CallCache(tmp_path / "cache")
    fifo = tmp_path / "endless.mp4"
    os.mkfifo(fifo)
    worker = FORK.Process(target=_put_from, args=(cache.root, fifo))
    worker.start()
    with open(fifo, "wb") as stream:
        stream.write(b"f" * (3 << 19))  # 1.5 MiB: the worker copies one 1 MiB chunk, then waits for more
        deadline = time.monotonic() + 10
        while not [p for p in (cache.root / ".tmp").glob("*/clip") if p.stat().st_size >= 1 << 20]:
            assert time.monotonic() < deadline, "the worker never started copying"
            time.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)  # dies mid-put, the write end still open
        worker.join(10)
    [half] = list((cache.root / ".tmp").iterdir())
    assert half.name.endswith(f"-{HEAD}") and not (half / "entry.json").exists()
    assert cache.get(KEY) is None and not cache.entry_dir(KEY).exists()
    # A complete entry whose rename never happened (a crash between the two) is not served either.
    (tmp_path / "c.mp4").write_bytes(b"frames")
    complete = cache.root / ".tmp" / f"{worker.pid}-deadbeef-{HEAD}"
    CallCache(tmp_path / "other").put(KEY, {"clip": tmp_path / "c.mp4"}, {"provider": "kling"})
    CallCache(tmp_path / "other").entry_dir(KEY).rename(complete)
    assert cache.get(KEY) is None
    entry = cache.put(KEY, {"clip": tmp_path / "c.mp4"}, {"provider": "kling"})
    assert cache.get(KEY) == entry and file_digest(entry.files["clip"]) == file_digest(tmp_path / "c.mp4")
    cache.prune()
    assert list((cache.root / ".tmp").iterdir()) == []  # this node's dead writers are swept


def test_prune_leaves_another_nodes_temp_dir_until_it_is_stale(tmp_path):
    cache = CallCache(tmp_path / "cache")
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)
    foreign = cache.root / ".tmp" / f"{dead}-0123abcd-nodeB"  # a pid that means nothing on this node
    mine = cache.root / ".tmp" / f"{dead}-4567cdef-{HEAD}"
    for folder in (foreign, mine):
        folder.mkdir(parents=True)
        (folder / "clip").write_bytes(b"half")
    cache.prune()
    assert foreign.exists() and not mine.exists()
    stale = time.time() - 25 * 3600
    os.utime(foreign, (stale, stale))
    cache.prune()
    assert not foreign.exists()


# -- the locks ----------------------------------------------------------------------------------


def test_threads_of_one_process_exclude_each_other(tmp_path):
    # POSIX record locks do not exclude threads of one process; the per-path mutex must.
    lock, inside, most = tmp_path / "x.lock", [], []

    def work():
        for _ in range(50):
            with exclusive_lock(lock):
                with exclusive_lock(lock):  # re-entrant in one thread
                    inside.append(1)
                    most.append(len(inside))
                    time.sleep(0.0005)
                    inside.pop()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(most) == 200 and max(most) == 1
    with exclusive_lock(lock):
        grabbed = []
        other = threading.Thread(target=lambda: grabbed.append(try_lock(lock)))
        other.start()
        other.join(5)
        assert grabbed == [None]
    held = try_lock(lock)
    assert held is not None
    held.release()
    held.release()  # idempotent


def _hold_lock(path, holding, release):
    with exclusive_lock(path):
        holding.set()
        release.wait(10)


def test_a_lock_held_by_another_process_is_busy_and_freed_when_it_dies(tmp_path):
    lock = tmp_path / "y.lock"
    holding, release = FORK.Event(), FORK.Event()
    holder = FORK.Process(target=_hold_lock, args=(lock, holding, release))
    holder.start()
    try:
        assert holding.wait(10)
        assert try_lock(lock) is None
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(10)
    held = try_lock(lock)
    assert held is not None
    held.release()
    assert host_name() == HEAD
