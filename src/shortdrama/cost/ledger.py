"""The spend ledger of `results/<series>/`: one JSON line per provider call, hit or miss.

On disk, so that jobs on several nodes sharing the folder over NFS never lose a line:

    ledger.jsonl                   the merged view for people and tools: every node's lines, oldest
                                   first, rewritten whole (temp file + rename) by `refresh_view()`,
                                   which runs after every build (rules/hooks.smk, on success and on
                                   error) and in `shortdrama costs`, and written on a ledger's first
                                   append. Never read back as a source: that would count each line twice.
    .ledger.jsonl.d/<host>.<boot>.jsonl
                                   where the lines go: one file per node (host name plus a short
                                   kernel boot id, which tells apart nodes that share a name)
    .ledger.jsonl.d/_migrated.jsonl
                                   lines an older version wrote into ledger.jsonl itself, moved here once
    .ledger.jsonl.d/writers.json   the names of those files, and `"view": true` once ledger.jsonl is a view
    ledger.jsonl.lock              the lock every writer, the view and the budget guard take

Why one file per node: appending to one shared file from several NFS clients is only safe while the
lock really is cluster-wide (O_APPEND is not atomic across clients: each computes the end of the
file from its own cache). Processes of one node always exclude each other with the lock, however
the file system is mounted, so a file written by one node only can never lose or interleave lines.
`entries()` merges every node's file, sorted by time (stable, so lines of equal time keep their
order within a file); the view holds exactly those lines, byte for byte, in that order.

Why writers.json: another node may list the folder from a cached directory listing (NFS keeps one
for up to `acdirmin`, 30 s by default) and miss a node's file created a moment ago, and with it
spend the budget guard must count. A file opened by name is always revalidated, so every writer
records its file's name there (under the lock, by temp file + rename) before its first line, and
readers open the listed files as well as the listed folder.

Migration. Versions before the view appended to ledger.jsonl itself (the first ones) or read it
together with the node files (the next ones). The first reader or writer of this version that takes
the lock on a ledger whose writers.json does not say `"view": true` copies the lines of ledger.jsonl
that no node file holds into `_migrated.jsonl`, then records the flag; from then on ledger.jsonl is
only rewritten. Lines are compared byte for byte, so a view is never taken for new lines: running
the migration again (writers.json deleted by hand) moves nothing. Do not build the same results
folder with an older version afterwards: it would read the view as lines (and count them twice).

Lines are appended whole under the lock with O_APPEND and fsynced; a line cut short by a crash is
skipped (with a warning) rather than poisoning every later read, and left out of the view.
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
    take: int | None = None  # a clip's take (shortdrama.qc picks among them); None for other calls
    message: str = ""
    tokens_in: int = 0  # as the provider reported them (LLMs)
    tokens_out: int = 0
    # What a call was billed by, where it bills by length: characters spoken (a speech line), seconds of
    # video made or changed (a clip, a lip-sync). 0: not billed that way, or a line from before.
    characters: int = 0
    seconds: float = 0.0
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
MIGRATED_FILE = "_migrated.jsonl"  # lines an older version wrote into ledger.jsonl itself
_registered: set[str] = set()  # writer files this process has already recorded in writers.json
_views: set[str] = set()  # ledgers this process has seen migrated (ledger.jsonl is a view)
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

    def exists(self) -> bool:
        """Whether this series has a ledger at all (the view, or lines not yet shown in one)."""
        return self.path.exists() or self.writers_dir.exists()

    def append(self, entry: LedgerEntry) -> None:
        line = (entry.to_json() + "\n").encode("utf-8")
        target = self.writer_path
        with exclusive_lock(self.lock_path):
            self._migrate()
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
            if not self.path.exists():
                # The ledger's first line: the view starts with it rather than as an empty file that
                # looks like nothing was spent. Later appends leave the view to refresh_view().
                self._write_view(self._merged())

    def entries(self) -> list[LedgerEntry]:
        """Every entry of every node's file, oldest first (never the view: see the module docstring)."""
        if not self.exists():
            return []  # and reading creates no lock file or folders
        with exclusive_lock(self.lock_path):
            self._migrate()
            raws = self._read_sources()
        return [entry for entry, _ in _parse(raws)]

    def refresh_view(self) -> list[LedgerEntry]:
        """Rewrite ledger.jsonl as every node's lines merged by time (atomically); return the entries.
        Does nothing (and creates nothing) where the series has no ledger."""
        if not self.exists():
            return []
        with exclusive_lock(self.lock_path):
            merged = self._merged()
            self._write_view(merged)
        return [entry for entry, _ in merged]

    def spent(self, episode: int | None = None) -> float:
        """Dollars billed so far, for the whole series or one episode."""
        return sum(
            e.cost_usd
            for e in self.entries()
            if e.outcome in BILLED_OUTCOMES and (episode is None or e.episode == episode)
        )

    # -- under the lock -------------------------------------------------------------------------

    def _merged(self) -> list[tuple[LedgerEntry, bytes]]:
        self._migrate()
        return _parse(self._read_sources())

    def _write_view(self, merged: list[tuple[LedgerEntry, bytes]]) -> None:
        write_atomic(self.path, b"".join(raw + b"\n" for _, raw in merged))

    def _read_sources(self) -> list[tuple[Path, bytes]]:
        raws = []
        for source in self._writer_files():
            try:
                raws.append((source, source.read_bytes()))
            except FileNotFoundError:
                continue
        return raws

    def _migrate(self) -> None:
        """Make ledger.jsonl a view, moving the lines an older version wrote there (module docstring)."""
        memo = str(self.path)
        with _registered_guard:
            if memo in _views:
                return
        names, is_view = self._writers_state()
        if not is_view:
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                raw = b""
            old = [line.strip() for line in raw.split(b"\n") if line.strip()]
            held = {line.strip() for _, data in self._read_sources() for line in data.split(b"\n")} if old else set()
            new = [line for line in old if line not in held]
            self.writers_dir.mkdir(parents=True, exist_ok=True)
            if new:
                target = self.writers_dir / MIGRATED_FILE
                try:
                    before = target.read_bytes()
                except FileNotFoundError:
                    before = b""
                if before and not before.endswith(b"\n"):
                    before += b"\n"
                write_atomic(target, before + b"".join(line + b"\n" for line in new))
                names = sorted(set(names) | {MIGRATED_FILE})
                log.info("%s: moved %d line(s) written by an older version to %s", self.path, len(new), target)
            self._save_writers(names, view=True)
        with _registered_guard:
            _views.add(memo)

    def _writer_files(self) -> list[Path]:
        names = set(self._listed_writers())
        try:
            names.update(p.name for p in self.writers_dir.iterdir() if p.name.endswith(".jsonl"))
        except FileNotFoundError:
            pass
        return [self.writers_dir / name for name in sorted(names)]

    def _listed_writers(self) -> list[str]:
        return self._writers_state()[0]

    def _writers_state(self) -> tuple[list[str], bool]:
        """The file names writers.json lists, and whether it says ledger.jsonl is a view."""
        try:
            data = json.loads((self.writers_dir / WRITERS_FILE).read_text(encoding="utf-8"))
            names, is_view = data["writers"], data.get("view") is True
        except FileNotFoundError:
            return [], False
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("%s is unreadable (%s); listing the folder instead", self.writers_dir / WRITERS_FILE, exc)
            return [], False
        if not isinstance(names, list):
            return [], is_view
        return [n for n in names if isinstance(n, str) and n.endswith(".jsonl") and n == file_safe(n)], is_view

    def _save_writers(self, names: list[str], view: bool) -> None:
        data: dict[str, Any] = {"writers": sorted(set(names))}
        if view:
            data["view"] = True
        write_atomic(self.writers_dir / WRITERS_FILE, json.dumps(data, indent=1) + "\n")

    def _register(self, target: Path) -> None:
        """Record `target` in writers.json once per process (see the module docstring)."""
        memo = str(target)
        with _registered_guard:
            if memo in _registered and target.exists():
                return
        self.writers_dir.mkdir(parents=True, exist_ok=True)
        listed, is_view = self._writers_state()
        if target.name not in listed:
            self._save_writers(listed + [target.name], view=is_view)
        with _registered_guard:
            _registered.add(memo)


def _parse(raws: list[tuple[Path, bytes]]) -> list[tuple[LedgerEntry, bytes]]:
    """The well-formed lines of `raws` with their entries, oldest first; a malformed line is skipped."""
    result = []
    for source, raw in raws:
        for number, line in enumerate(raw.split(b"\n"), start=1):
            line = line.strip()
            if not line:
                continue
            try:
                result.append((LedgerEntry.from_dict(json.loads(line)), line))
            except (ValueError, LedgerError) as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
                log.warning("%s:%d: skipping a malformed ledger line (%s)", source, number, exc)
    result.sort(key=lambda pair: _sort_time(pair[0]))  # stable: equal times keep their order within a file
    return result


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write `text` to `path` by temp file + fsync + rename, under a temp name no other node can pick."""
    tmp = path.with_name(f".{path.name}.{file_safe(host_name())}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        with open(tmp, "wb") as f:
            f.write(data)
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
