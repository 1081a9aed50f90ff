"""Cross-process coordination: exclusive file locks, a liveness probe, and who-am-I on a cluster.

Which lock, and why. Jobs of one build may run on different nodes of a cluster (Slurm) that share
results/ and the cache over a network file system, so the locks must be ones such file systems
carry between nodes. They are POSIX record locks (`fcntl.lockf`, i.e. F_SETLKW), not flock():

- NFS carries POSIX locks to the server (NLM for v3, the protocol itself for v4), and so do
  GPFS/Spectrum Scale, Lustre mounted with `-o flock` and BeeGFS with `tuneUseGlobalFileLocks`.
  The Linux NFS client only emulates flock() with them, and the common `local_lock=flock` mount
  option silently turns flock() into a node-local lock while POSIX locks stay shared.
- Taking a POSIX lock on NFS makes the client revalidate its cache of the locked file, and the
  files read under the lock are opened afresh (close-to-open), so what is read under it is current.
- A holder that dies, however it dies, loses its locks; on NFS the server drops the locks of a dead
  node when its lease runs out (about 90 s for NFSv4). Nothing stale ever needs breaking by hand.

POSIX locks belong to a (process, file) pair, not to a descriptor: two threads of one process do
not exclude each other, and closing *any* descriptor of the file drops the process's lock. So every
lock here is also a per-path mutex inside the process, and lock files are opened only by this
module (never read them with open() while a lock may be held). A file system that refuses locks
(ENOLCK, Lustre without `-o flock`) raises LockError: running without the lock could overspend.

What still holds where locks turn out to be node-local (Lustre `localflock`, NFS `local_lock=all`,
BeeGFS without global locks): every process of one node still excludes the others, the ledger loses
no line (one file per node, see ledger.py) and the cache never serves a half-written entry (rename
into place, digests checked on read). What does not: two nodes may each pay once for the same
request, slot limits hold per node, and the budget cap, which needs one reader at a time across
the cluster, can be overshot by what nodes reserve at the same moment.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Iterator

from ..errors import ShortDramaError

HOSTNAME_ENV = "SHORTDRAMA_HOSTNAME"  # overrides socket.gethostname() (tests play several nodes)
SLURM_JOB_ENV = "SLURM_JOB_ID"
_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class LockError(ShortDramaError):
    """The file system cannot lock a file, so the cost state cannot be kept safely on it."""


@dataclass
class _PathState:
    mutex: threading.Lock = field(default_factory=threading.Lock)
    owner: int | None = None  # the thread holding the file lock through exclusive_lock


_states: dict[str, _PathState] = {}
_states_guard = threading.Lock()


def _reset_after_fork() -> None:
    # POSIX locks are not inherited, and a mutex another thread held at the fork would never be let go.
    global _states, _states_guard
    _states, _states_guard = {}, threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def _state(key: str) -> _PathState:
    with _states_guard:
        return _states.setdefault(key, _PathState())


@contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created with its parents) for the block.

    Re-entrant within one thread; other threads and processes, on this node or another sharing the
    file system, wait.
    """
    key = os.path.realpath(path)
    state = _state(key)
    me = threading.get_ident()
    if state.owner == me:  # only this thread can have set it to its own id
        yield
        return
    with state.mutex:
        fd = _open_locked(key, blocking=True)
        assert fd is not None
        state.owner = me
        try:
            yield
        finally:
            state.owner = None
            os.close(fd)  # closing the descriptor releases the lock


class HeldLock:
    """A lock taken by try_lock; `release()` lets it go (once)."""

    def __init__(self, state: _PathState, fd: int) -> None:
        self._state, self.fd = state, fd

    def release(self) -> None:
        if self.fd < 0:
            return
        fd, self.fd = self.fd, -1
        os.close(fd)
        self._state.mutex.release()


def try_lock(path: str | os.PathLike) -> HeldLock | None:
    """Take the exclusive lock on `path` if nobody (no thread of this process either) holds it; else None."""
    key = os.path.realpath(path)
    state = _state(key)
    if not state.mutex.acquire(blocking=False):
        return None
    try:
        fd = _open_locked(key, blocking=False)
    except BaseException:
        state.mutex.release()
        raise
    if fd is None:
        state.mutex.release()
        return None
    return HeldLock(state, fd)


def _open_locked(key: str, blocking: bool) -> int | None:
    Path(key).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as exc:
                if not blocking and exc.errno in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    return None
                if exc.errno == errno.EDEADLK:
                    # The kernel sees processes, not threads, and can report a wait cycle that two
                    # threads would have resolved by themselves: wait a little and ask again.
                    time.sleep(0.01)
                    continue
                if exc.errno in _UNSUPPORTED:
                    raise LockError(
                        f"cannot lock {key}: {exc.strerror}. The file system does not support file locks; "
                        "mount it with locking (NFS: no local_lock/nolock; Lustre: -o flock; BeeGFS: "
                        "tuneUseGlobalFileLocks) or keep results/ and the cache on one that does") from exc
                raise
    except BaseException:
        try:
            os.close(fd)
        except OSError:
            pass
        raise


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


def host_name() -> str:
    """This node's name: $SHORTDRAMA_HOSTNAME if set, else socket.gethostname()."""
    return os.environ.get(HOSTNAME_ENV) or socket.gethostname()


def slurm_job_id() -> str | None:
    """The Slurm job this process runs in ($SLURM_JOB_ID), or None outside Slurm."""
    return os.environ.get(SLURM_JOB_ENV) or None


def file_safe(text: str) -> str:
    """`text` with anything but letters, digits, '.', '_' and '-' replaced, for use in a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:100] or "_"


@cache
def boot_id() -> str:
    """A short id of this kernel's boot (Linux), telling apart nodes that share a host name; '' elsewhere."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")[:8]
    except OSError:
        return ""
