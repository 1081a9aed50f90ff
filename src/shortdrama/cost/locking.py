"""Cross-process coordination primitives: an exclusive file lock and a process liveness probe.

flock locks belong to an open file description, so they vanish when their holder dies (even by
SIGKILL); no stale lock ever needs breaking by hand. They are only reliable on local file systems.
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# Lock paths this process holds, with the thread holding each. A second flock on a fresh
# descriptor would block against our own lock, so a thread that re-enters a lock it already
# holds (the budget guard appending to its ledger) must pass straight through instead.
_held: dict[str, int] = {}
_held_guard = threading.Lock()


@contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created with its parents) for the block.

    Re-entrant within one thread; other threads and processes wait. Do not fork while holding it:
    the child's inherited descriptor would keep the lock alive after the parent lets go.
    """
    key = os.path.realpath(path)
    me = threading.get_ident()
    with _held_guard:
        reentering = _held.get(key) == me
    if reentering:
        yield
        return
    Path(key).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with _held_guard:
            _held[key] = me
        try:
            yield
        finally:
            with _held_guard:
                del _held[key]
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (a zombie counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists but belongs to someone else
    return True
