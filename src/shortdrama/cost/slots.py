"""Provider concurrency caps that hold across processes (parallel Snakemake jobs, sweep points).

A slot is one of `limit` lock files, `root/<name>/slot-<i>.lock`, held with the lock of locking.py
(a POSIX record lock, shared between nodes where the file system shares locks, plus a mutex so two
threads of one process never hold one slot): a process that dies, however it dies, gives its slot
back, so there is nothing stale to clean up. On a mount whose locks are node-local the limit holds
per node.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator

from ..errors import ShortDramaError
from .locking import HeldLock, host_name, try_lock


_HELD: ContextVar[HeldLock | None] = ContextVar("shortdrama_held_slot", default=None)


class SlotTimeout(ShortDramaError):
    """No provider slot came free in time."""


class SlotError(ShortDramaError):
    """A slot was asked for with a bad name or limit."""


class ProviderSlots:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    @contextmanager
    def acquire(self, name: str, limit: int, poll_s: float = 0.05, timeout_s: float | None = None) -> Iterator[int]:
        """Hold one of `limit` slots named `name` for the block; yields the slot's index.

        Polls every `poll_s` seconds while all are taken; raises SlotTimeout after `timeout_s`.
        """
        if not name or "/" in name or "\0" in name or name in (".", ".."):
            raise SlotError(f"slots: {name!r} is not a usable slot name")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise SlotError(f"slots: the limit for {name} must be a positive whole number, not {limit!r}")
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            taken = _try_take(folder, limit)
            if taken is not None:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise SlotTimeout(f"slots: all {limit} {name} slot(s) stayed busy for {timeout_s:g}s")
            time.sleep(poll_s)
        index, held = taken
        token = _HELD.set(held)
        try:
            yield index
        finally:
            _HELD.reset(token)
            held.release()


def release_held_slot() -> None:
    """Give back the innermost slot this thread holds before its block ends: a hosted clip job frees its
    vendor slot once its clip is downloaded, so the next job may submit while this one conforms."""
    held = _HELD.get()
    if held is not None:
        held.release()


def _try_take(folder: Path, limit: int) -> tuple[int, HeldLock] | None:
    for index in range(limit):
        held = try_lock(folder / f"slot-{index}.lock")
        if held is None:
            continue
        try:
            # Who holds the slot, for whoever wonders why a job is waiting.
            os.ftruncate(held.fd, 0)
            os.pwrite(held.fd, f"{os.getpid()} {host_name()}\n".encode(), 0)
        except BaseException:
            held.release()
            raise
        return index, held
    return None
