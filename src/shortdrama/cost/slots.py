"""Provider concurrency caps that hold across processes (parallel Snakemake jobs, sweep points).

A slot is one of `limit` lock files, `root/<name>/slot-<i>.lock`, held with flock: a process that
dies, however it dies, gives its slot back, so there is nothing stale to clean up.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import ShortDramaError


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
        index, fd = taken
        try:
            yield index
        finally:
            os.close(fd)  # releases the flock


def _try_take(folder: Path, limit: int) -> tuple[int, int] | None:
    for index in range(limit):
        fd = os.open(folder / f"slot-{index}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        # Who holds the slot, for whoever wonders why a job is waiting.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return index, fd
    return None
