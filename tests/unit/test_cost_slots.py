import multiprocessing
import os
import signal
import time

import pytest

from shortdrama.cost.slots import ProviderSlots, SlotError, SlotTimeout

FORK = multiprocessing.get_context("fork")


def _hold(root, barrier, spans, hold_s):
    barrier.wait()
    with ProviderSlots(root).acquire("kling-v2", 2, poll_s=0.01, timeout_s=10):
        entered = time.monotonic()
        time.sleep(hold_s)
        spans.put((entered, time.monotonic()))  # recorded before the slot is let go


def most_at_once(spans):
    return max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)


def test_limit_holds_across_processes(tmp_path):
    barrier, spans = FORK.Barrier(4), FORK.Queue()
    workers = [FORK.Process(target=_hold, args=(tmp_path / "slots", barrier, spans, 0.3)) for _ in range(4)]
    for w in workers:
        w.start()
    recorded = [spans.get(timeout=10) for _ in workers]
    for w in workers:
        w.join(10)
    assert [w.exitcode for w in workers] == [0] * 4
    assert most_at_once(recorded) == 2
    assert sorted((tmp_path / "slots" / "kling-v2").iterdir()) == [
        tmp_path / "slots" / "kling-v2" / "slot-0.lock", tmp_path / "slots" / "kling-v2" / "slot-1.lock"]


def _hold_forever(root, holding):
    with ProviderSlots(root).acquire("veo", 1):
        holding.set()
        time.sleep(60)


def test_a_killed_holder_frees_its_slot(tmp_path):
    slots, holding = ProviderSlots(tmp_path / "slots"), FORK.Event()
    holder = FORK.Process(target=_hold_forever, args=(slots.root, holding))
    holder.start()
    try:
        assert holding.wait(10)
        with pytest.raises(SlotTimeout, match="all 1 veo slot"):
            with slots.acquire("veo", 1, poll_s=0.01, timeout_s=0.1):
                pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(10)
    with slots.acquire("veo", 1, timeout_s=1) as index:
        assert index == 0


def test_slots_within_one_process_and_bad_arguments(tmp_path):
    slots = ProviderSlots(tmp_path / "slots")
    with slots.acquire("tts", 2) as first, slots.acquire("tts", 2) as second:
        assert {first, second} == {0, 1}
        with pytest.raises(SlotTimeout):
            with slots.acquire("tts", 2, timeout_s=0.05):
                pass
    for name, limit in (("../x", 1), ("", 1), ("ok", 0)):
        with pytest.raises(SlotError):
            with slots.acquire(name, limit):
                pass


def test_a_slot_given_back_early_is_free_for_the_next_job(tmp_path):
    """A hosted clip gives its vendor slot back once the clip is downloaded, before its conform."""
    from shortdrama.cost.slots import release_held_slot

    slots = ProviderSlots(tmp_path)
    with slots.acquire("veo", 1):
        release_held_slot()
        with slots.acquire("veo", 1, timeout_s=0.5):  # would time out if the first were still held
            pass
    release_held_slot()  # outside any block: nothing to give back
