"""The spend ledger: `results/<series>/ledger.jsonl`, one JSON line per provider call, hit or miss.

Lines are appended whole under a lock with O_APPEND, so parallel Snakemake jobs never interleave
them; a line cut short by a crash is skipped (with a warning) rather than poisoning every later read.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Mapping

from ..errors import ShortDramaError
from .locking import exclusive_lock

log = logging.getLogger(__name__)

CACHE_STATES = ("hit", "miss")
OUTCOMES = ("ok", "failed", "refused")
# Outcomes that may have cost money: a failed paid call can still be billed.
BILLED_OUTCOMES = ("ok", "failed")


class LedgerError(ShortDramaError):
    """A ledger line or entry is malformed."""


def utc_now() -> str:
    """The current time as ISO 8601 UTC, e.g. 2025-01-31T12:00:00.123+00:00."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class LedgerEntry:
    time: str  # ISO 8601 UTC
    rule: str
    step: str
    provider: str
    model: str
    key: str
    cache: Literal["hit", "miss"]
    estimate_usd: float
    cost_usd: float
    duration_s: float
    outcome: Literal["ok", "failed", "refused"]
    episode: int | None = None
    scene: int | None = None
    message: str = ""
    tokens_in: int = 0  # as the provider reported them (LLMs)
    tokens_out: int = 0

    def __post_init__(self) -> None:
        if self.cache not in CACHE_STATES:
            raise LedgerError(f"ledger entry: cache must be one of {CACHE_STATES}, not {self.cache!r}")
        if self.outcome not in OUTCOMES:
            raise LedgerError(f"ledger entry: outcome must be one of {OUTCOMES}, not {self.outcome!r}")
        for name in ("estimate_usd", "cost_usd", "duration_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise LedgerError(f"ledger entry: {name} must be a finite number, not {value!r}")

    def to_json(self) -> str:
        """One line of JSON (newlines inside the message are escaped by JSON itself)."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LedgerEntry":
        """Build an entry from a parsed line; unknown keys are ignored so older code reads newer ledgers."""
        if not isinstance(data, Mapping):
            raise LedgerError(f"ledger entry: expected an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:  # a required field is missing
            raise LedgerError(f"ledger entry: {exc}") from exc


class Ledger:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @property
    def lock_path(self) -> Path:
        """The lock serialising every writer of this ledger (and the budget guard that reads it)."""
        return self.path.with_name(self.path.name + ".lock")

    def append(self, entry: LedgerEntry) -> None:
        line = (entry.to_json() + "\n").encode("utf-8")
        with exclusive_lock(self.lock_path):
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                size = os.fstat(fd).st_size
                # A crash mid-write left a line without its newline: start ours on a fresh line
                # so only the damaged line is lost, not ours with it.
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line
                written = os.write(fd, line)
                while written < len(line):  # a short write on a regular file is rare (disk full)
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            finally:
                os.close(fd)

    def entries(self) -> list[LedgerEntry]:
        if not self.path.exists():
            return []  # and reading creates no lock file or folders
        with exclusive_lock(self.lock_path):
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                return []
        result = []
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                result.append(LedgerEntry.from_dict(json.loads(line)))
            except (ValueError, LedgerError) as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
                log.warning("%s:%d: skipping a malformed ledger line (%s)", self.path, number, exc)
        return result

    def spent(self, episode: int | None = None) -> float:
        """Dollars billed so far, for the whole series or one episode."""
        return sum(
            e.cost_usd
            for e in self.entries()
            if e.outcome in BILLED_OUTCOMES and (episode is None or e.episode == episode)
        )
