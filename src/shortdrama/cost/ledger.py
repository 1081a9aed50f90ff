"""The spend ledger of `results/<series>/ledger.jsonl`: one JSON line per provider call, hit or miss.

On disk, so that jobs on several nodes sharing the folder over NFS never lose a line:

    ledger.jsonl                   the ledger's name: read as before (lines written by older
                                   versions stay there), created empty on the first append so
                                   `path.exists()` still means "this series has a ledger"
    .ledger.jsonl.d/<host>.<boot>.jsonl
                                   where the lines go: one file per node (host name plus a short
                                   kernel boot id, which tells apart nodes that share a name)
    .ledger.jsonl.d/writers.json   the names of those files
    ledger.jsonl.lock              the lock every writer and the budget guard take

Why one file per node: appending to one shared file from several NFS clients is only safe while the
lock really is cluster-wide (O_APPEND is not atomic across clients: each computes the end of the
file from its own cache). Processes of one node always exclude each other with the lock, however
the file system is mounted, so a file written by one node only can never lose or interleave lines.
`entries()` merges the old single file and every node's file, sorted by time (stable, so lines of
equal time keep their order within a file).

Why writers.json: another node may list the folder from a cached directory listing (NFS keeps one
for up to `acdirmin`, 30 s by default) and miss a node's file created a moment ago, and with it
spend the budget guard must count. A file opened by name is always revalidated, so every writer
records its file's name there (under the lock, by temp file + rename) before its first line, and
readers open the listed files as well as the listed folder.

Lines are appended whole under the lock with O_APPEND and fsynced; a line cut short by a crash is
skipped (with a warning) rather than poisoning every later read.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Mapping

from ..errors import ShortDramaError
from .locking import boot_id, exclusive_lock, file_safe, host_name, slurm_job_id

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
    host: str = field(default_factory=host_name)  # the node that made the call ('' in older ledgers)
    slurm_job_id: str | None = field(default_factory=slurm_job_id)  # $SLURM_JOB_ID there, if any

    def __post_init__(self) -> None:
        if self.cache not in CACHE_STATES:
            raise LedgerError(f"ledger entry: cache must be one of {CACHE_STATES}, not {self.cache!r}")
        if self.outcome not in OUTCOMES:
            raise LedgerError(f"ledger entry: outcome must be one of {OUTCOMES}, not {self.outcome!r}")
        for name in ("estimate_usd", "cost_usd", "duration_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise LedgerError(f"ledger entry: {name} must be a finite number, not {value!r}")
        if not isinstance(self.host, str):
            raise LedgerError(f"ledger entry: host must be text, not {self.host!r}")
        if self.slurm_job_id is not None and not isinstance(self.slurm_job_id, str):
            object.__setattr__(self, "slurm_job_id", str(self.slurm_job_id))  # a hand-edited number

    def to_json(self) -> str:
        """One line of JSON (newlines inside the message are escaped by JSON itself)."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "LedgerEntry":
        """Build an entry from a parsed line; unknown keys are ignored so older code reads newer ledgers."""
        if not isinstance(data, Mapping):
            raise LedgerError(f"ledger entry: expected an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        # Lines from before these fields existed say nothing of where they ran, not "here".
        values = {"host": "", "slurm_job_id": None, **{k: v for k, v in data.items() if k in known}}
        try:
            return cls(**values)
        except TypeError as exc:  # a required field is missing
            raise LedgerError(f"ledger entry: {exc}") from exc


WRITERS_FILE = "writers.json"
_registered: set[str] = set()  # writer files this process has already recorded in writers.json
_registered_guard = threading.Lock()


class Ledger:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @property
    def lock_path(self) -> Path:
        """The lock serialising every writer of this ledger (and the budget guard that reads it)."""
        return self.path.with_name(self.path.name + ".lock")

    @property
    def writers_dir(self) -> Path:
        """The folder of per-node files that new lines go to (hidden, like `.budget/`, so that a folder
        of sweep points lists only points)."""
        return self.path.with_name(f".{self.path.name}.d")

    @property
    def writer_path(self) -> Path:
        """This node's file in `writers_dir`."""
        node = file_safe(host_name())
        return self.writers_dir / (f"{node}.{boot_id()}.jsonl" if boot_id() else f"{node}.jsonl")

    def append(self, entry: LedgerEntry) -> None:
        line = (entry.to_json() + "\n").encode("utf-8")
        target = self.writer_path
        with exclusive_lock(self.lock_path):
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
            self._register(target)
            fd = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
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
        """Every entry of the old single file and of every node's file, oldest first."""
        if not self.path.exists() and not self.writers_dir.exists():
            return []  # and reading creates no lock file or folders
        with exclusive_lock(self.lock_path):
            sources = [self.path] + self._writer_files()
            raws = []
            for source in sources:
                try:
                    raws.append((source, source.read_bytes()))
                except FileNotFoundError:
                    continue
        result = []
        for source, raw in raws:
            for number, line in enumerate(raw.split(b"\n"), start=1):
                if not line.strip():
                    continue
                try:
                    result.append(LedgerEntry.from_dict(json.loads(line)))
                except (ValueError, LedgerError) as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
                    log.warning("%s:%d: skipping a malformed ledger line (%s)", source, number, exc)
        result.sort(key=_sort_time)  # stable: equal times keep their order within a file
        return result

    def spent(self, episode: int | None = None) -> float:
        """Dollars billed so far, for the whole series or one episode."""
        return sum(
            e.cost_usd
            for e in self.entries()
            if e.outcome in BILLED_OUTCOMES and (episode is None or e.episode == episode)
        )

    # -- under the lock -------------------------------------------------------------------------

    def _writer_files(self) -> list[Path]:
        names = set(self._listed_writers())
        try:
            names.update(p.name for p in self.writers_dir.iterdir() if p.name.endswith(".jsonl"))
        except FileNotFoundError:
            pass
        return [self.writers_dir / name for name in sorted(names)]

    def _listed_writers(self) -> list[str]:
        try:
            names = json.loads((self.writers_dir / WRITERS_FILE).read_text(encoding="utf-8"))["writers"]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s is unreadable (%s); listing the folder instead", self.writers_dir / WRITERS_FILE, exc)
            return []
        return [n for n in names if isinstance(n, str) and n.endswith(".jsonl") and n == file_safe(n)]

    def _register(self, target: Path) -> None:
        """Record `target` in writers.json once per process (see the module docstring)."""
        memo = str(target)
        with _registered_guard:
            if memo in _registered and target.exists():
                return
        self.writers_dir.mkdir(parents=True, exist_ok=True)
        listed = self._listed_writers()
        if target.name not in listed:
            text = json.dumps({"writers": sorted(set(listed) | {target.name})}, indent=1) + "\n"
            write_atomic(self.writers_dir / WRITERS_FILE, text)
        with _registered_guard:
            _registered.add(memo)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` by temp file + fsync + rename, under a temp name no other node can pick."""
    tmp = path.with_name(f".{path.name}.{file_safe(host_name())}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _sort_time(entry: LedgerEntry) -> datetime:
    try:
        moment = datetime.fromisoformat(entry.time)
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
