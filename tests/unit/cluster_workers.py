"""Workers for test_cost_cluster.py, in a module of their own so that a spawned process imports only
the cost modules (not pytest, pydantic and the test file), which keeps eight of them quick to start."""

import os

from shortdrama.cost.budget import BudgetExceeded, BudgetGuard, Caps
from shortdrama.cost.ledger import Ledger, LedgerEntry, utc_now
from shortdrama.cost.locking import HOSTNAME_ENV


def paid(cost: float, **changes) -> LedgerEntry:
    fields = dict(time=utc_now(), rule="generate_clip", step="video", provider="kling", model="v2", key="k" * 64,
                  cache="miss", estimate_usd=cost, cost_usd=cost, duration_s=1.0, outcome="ok", episode=1)
    fields.update(changes)
    return LedgerEntry(**fields)


def make_guard(root, cap=1.00, lease_s=3600.0) -> BudgetGuard:
    return BudgetGuard(Ledger(root / "ledger.jsonl"), Caps(cap, None), root / ".budget", lease_s=lease_s)


def be_node(host: str, job: str | None = None) -> None:
    os.environ[HOSTNAME_ENV] = host
    if job is not None:
        os.environ["SLURM_JOB_ID"] = job


def append_as(path, host, job, writer, count, barrier):
    be_node(host, job)
    ledger = Ledger(path)
    barrier.wait()
    for n in range(count):
        ledger.append(paid(0.01, rule=f"writer{writer}", scene=n, message="x" * (n % 5) * 40))


def spend_until_refused(root, host, barrier, results, done):
    be_node(host)
    guard = make_guard(root)
    barrier.wait()
    made = settled = 0
    while True:
        try:
            reservation = guard.reserve(0.10, 1, f"clip on {host}")
        except BudgetExceeded:
            break
        made += 1
        if made % 2 == 0:  # half the calls finish, the rest stay in flight
            guard.settle(reservation, paid(0.10))
            settled += 1
    results.put((host, made, settled))
    done.wait(20)  # in flight until the test has looked


def reserve_and_exit(root, host, amount, lease_s):
    be_node(host, "777")
    make_guard(root, lease_s=lease_s).reserve(amount, 1, f"dies on {host}")
