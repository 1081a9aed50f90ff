import json
import multiprocessing

import pytest

from shortdrama.cost.budget import BudgetError, BudgetExceeded, BudgetGuard, Caps, format_usd
from shortdrama.cost.ledger import Ledger, LedgerEntry, utc_now

FORK = multiprocessing.get_context("fork")


def paid(cost: float, episode: int | None = 1, outcome: str = "ok") -> LedgerEntry:
    return LedgerEntry(time=utc_now(), rule="generate_clip", step="video", provider="kling", model="v2", key="k" * 64,
                       cache="miss", estimate_usd=cost, cost_usd=cost, duration_s=1.0, outcome=outcome, episode=episode)


def make_guard(tmp_path, series=None, episode=None, already_spent=0.0) -> BudgetGuard:
    ledger = Ledger(tmp_path / "results" / "s" / "ledger.jsonl")
    if already_spent:
        ledger.append(paid(already_spent))
    return BudgetGuard(ledger, Caps(series, episode), tmp_path / "results" / "s" / ".budget")


def test_series_cap_is_respected(tmp_path):
    guard = make_guard(tmp_path, series=1.00)
    guard.reserve(0.60, 1, "a")
    with pytest.raises(BudgetExceeded, match="series cap"):
        guard.reserve(0.50, 2, "b")
    guard.reserve(0.40, 2, "c")  # lands exactly on the cap
    assert guard.reserved() == pytest.approx(1.00)
    assert not guard.would_fit(0.01)


def test_episode_cap_is_per_episode(tmp_path):
    guard = make_guard(tmp_path, episode=0.50)
    guard.reserve(0.30, 1, "a")
    with pytest.raises(BudgetExceeded, match="episode 1 cap"):
        guard.reserve(0.30, 1, "b")
    guard.reserve(0.30, 2, "c")
    guard.reserve(5.00, None, "series-wide call")  # no series cap, and no episode to charge
    assert guard.would_fit(0.20, 1) and not guard.would_fit(0.21, 1)


def test_refusal_is_one_line_with_every_number(tmp_path):
    guard = make_guard(tmp_path, series=2.00, already_spent=1.50)
    guard.reserve(0.40, 1, "generate_clip ep01 sc01")
    with pytest.raises(BudgetExceeded) as refusal:
        guard.reserve(0.30, 1, "generate_clip ep01 sc02")
    assert str(refusal.value) == (
        "budget: series cap $2.00 reached: spent $1.50 + reserved $0.40 + this call $0.30 (generate_clip ep01 sc02)"
    )
    guard2 = make_guard(tmp_path / "b", episode=0.01)
    with pytest.raises(BudgetExceeded) as refusal:
        guard2.reserve(0.0125, 3, "tts\nline")
    assert str(refusal.value) == "budget: episode 3 cap $0.01 reached: spent $0.00 + reserved $0.00 + this call $0.0125 (tts line)"


def test_zero_cost_calls_always_pass_without_bookkeeping(tmp_path):
    guard = make_guard(tmp_path, series=0.0, episode=0.0)
    reservation = guard.reserve(0.0, 1, "cache hit")
    assert reservation.is_noop
    assert not guard.reservations_path.exists()
    guard.settle(reservation, paid(0.0))
    assert len(guard.ledger.entries()) == 1
    assert guard.would_fit(0.0, 1)


def test_settle_moves_money_from_reserved_to_spent(tmp_path):
    guard = make_guard(tmp_path, series=1.00)
    reservation = guard.reserve(0.50, 1, "a")
    assert (guard.reserved(), guard.ledger.spent()) == (0.50, 0)
    guard.settle(reservation, paid(0.45))
    assert (guard.reserved(), guard.ledger.spent()) == (0, 0.45)
    guard.reserve(0.55, 1, "b")  # the 0.05 the call came under the estimate is free again


def test_release_and_context_manager(tmp_path):
    guard = make_guard(tmp_path, series=1.00)
    guard.release(guard.reserve(0.70, 1, "a"))
    assert guard.reserved() == 0
    with pytest.raises(RuntimeError):
        with guard.reserve(0.70, 1, "b"):
            raise RuntimeError("provider exploded")
    assert guard.reserved() == 0
    with guard.reserve(0.70, 1, "c") as reservation:
        pass  # no settle: the money stays set aside rather than risk being spent twice
    assert guard.reserved() == pytest.approx(0.70)
    guard.release(reservation)
    guard.release(reservation)
    assert guard.reserved() == 0


def test_bad_estimates_and_caps_are_refused(tmp_path):
    guard = make_guard(tmp_path, series=1.00)
    for bad in (-0.01, float("nan"), float("inf")):
        with pytest.raises(BudgetError):
            guard.reserve(bad, 1, "x")
    with pytest.raises(BudgetError):
        Caps(-1.0, None)
    assert format_usd(0.3) == "$0.30" and format_usd(0.0035) == "$0.0035"


def _reserve_and_exit(guard, amount):
    guard.reserve(amount, 1, "crashes before settling")


def test_a_dead_process_reservation_is_dropped(tmp_path):
    guard = make_guard(tmp_path, series=1.00)
    worker = FORK.Process(target=_reserve_and_exit, args=(guard, 0.80))
    worker.start()
    worker.join(10)
    assert worker.exitcode == 0
    assert json.loads(guard.reservations_path.read_text())["reservations"][0]["estimate_usd"] == 0.80
    guard.reserve(0.80, 1, "after the crash")
    assert guard.reserved() == pytest.approx(0.80)


def _race(guard, barrier, results, done):
    barrier.wait()
    try:
        guard.reserve(0.60, 1, "race")
        results.put("reserved")
    except BudgetExceeded as refusal:
        results.put(str(refusal))
    done.wait(10)  # keep a winner's reservation alive until both have answered


@pytest.mark.parametrize("attempt", range(5))
def test_two_processes_racing_for_the_last_dollar(tmp_path, attempt):
    guard = make_guard(tmp_path, series=1.00, already_spent=0.30)
    barrier, results, done = FORK.Barrier(2), FORK.Queue(), FORK.Event()
    workers = [FORK.Process(target=_race, args=(guard, barrier, results, done)) for _ in range(2)]
    for w in workers:
        w.start()
    answers = sorted(results.get(timeout=10) for _ in workers)
    done.set()
    for w in workers:
        w.join(10)
    assert [w.exitcode for w in workers] == [0, 0]
    assert answers == [
        "budget: series cap $1.00 reached: spent $0.30 + reserved $0.60 + this call $0.60 (race)",
        "reserved",
    ]
