"""The rebuild the served review page starts: `shortdrama build` with the page's overrides, one at a
time, its output written to results/<series>/review/rebuild.log and its progress read from
Snakemake's "N of M steps (P%) done" lines."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

PROGRESS = re.compile(r"(\d+) of (\d+) steps \((\d+)%\) done")
TAIL_LINES = 20


class BusyError(Exception):
    """A rebuild is running."""


class Rebuild:
    """One build at a time. `start()` returns False while one runs; `status()` is what the page polls."""

    def __init__(self, command: Sequence[str], cwd: Path, log: Path, env: dict[str, str] | None = None) -> None:
        self.command, self.cwd, self.log = list(command), cwd, log
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._state: dict[str, Any] = {"state": "idle"}
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._state["state"] == "running"

    @contextmanager
    def idle(self) -> Iterator[None]:
        """Hold off a rebuild for the block (a script edit); BusyError if one is running."""
        with self._lock:
            if self._state["state"] == "running":
                raise BusyError("a rebuild is running: edit the script when it has finished")
            yield

    def start(self) -> bool:
        with self._lock:
            if self._state["state"] == "running":
                return False
            self._tail.clear()
            self._state = {"state": "running", "returncode": None, "done": 0, "total": None, "percent": 0,
                           "started": time.time(), "finished": None}
            self.log.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._proc = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                              encoding="utf-8", errors="replace", bufsize=1,
                                              start_new_session=True)  # its own group: stop() ends it all
            except OSError as error:
                self._finish_locked(None, f"cannot start the build: {error}")
                return True
            self._thread = threading.Thread(target=self._follow, args=(self._proc,), name="review-rebuild", daemon=True)
            self._thread.start()
            return True

    def _follow(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        with open(self.log, "w", encoding="utf-8") as log:
            log.write(f"$ {' '.join(self.command)}\n")
            for line in proc.stdout:
                log.write(line)
                log.flush()
                with self._lock:
                    self._tail.append(line.rstrip("\n"))
                    if match := PROGRESS.search(line):
                        self._state.update(done=int(match[1]), total=int(match[2]), percent=int(match[3]))
        code = proc.wait()
        with self._lock:
            self._finish_locked(code)

    def _finish_locked(self, code: int | None, message: str | None = None) -> None:
        if message:
            self._tail.append(message)
        self._state.update(state="ok" if code == 0 else "failed", returncode=code, finished=time.time())
        if code == 0:
            self._state["percent"] = 100

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {**self._state, "tail": list(self._tail), "log": self.log.name}

    def wait(self, timeout: float | None = None) -> dict[str, Any]:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status()

    def stop(self, timeout: float = 10.0) -> None:
        """End a running build (the server is closing): SIGINT to its process group (the build and the
        Snakemake it started stop as on Ctrl-C), SIGKILL to the group after `timeout`."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        for sig in (signal.SIGINT, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout)
                break
            except subprocess.TimeoutExpired:
                continue
        self.wait(timeout)
