"""A content-addressed store of provider results, shared by every run and series.

An entry is `root/<key[:2]>/<key>/`: the payload files plus `entry.json`, which lists each file's
size and sha256. Entries are assembled in `root/.tmp/<pid>-<token>-<host>/` and renamed into place
whole, so a directory under its key is always complete; anything that fails verification is moved
to `root/.trash/` and deleted, and the call is simply made again.

On a cluster the store may be shared by nodes over NFS. Nothing here relies on a lock for
soundness: a directory rename is atomic on the server, `entry.json` is written (and fsynced) last,
and `get` checks every file's size and sha256 before it serves anything, so a writer that died
before its rename, or a reader that sees a half-synchronised copy, can never serve a partial entry.
The per-key lock in call.py only keeps two jobs from paying for the same request twice. A temp dir
is swept by `prune` when its owner is gone: probed by pid when it was made on this host, and only by
age (`STALE_TEMP_S`) when it was made on another node, whose processes this one cannot see.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from ..errors import ShortDramaError
from ..media import atomic_output
from .ledger import utc_now
from .locking import file_safe, host_name, pid_alive

log = logging.getLogger(__name__)

CHUNK = 1 << 20
ENTRY_FILE = "entry.json"
# A temp dir whose owner still runs is left alone unless it is this old (the pid may have been reused).
STALE_TEMP_S = 24 * 3600


class CacheError(ShortDramaError):
    """The cache was given something it cannot store, or an entry vanished while being read."""


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(request: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(request).encode("utf-8")).hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    key: str
    files: dict[str, Path]
    meta: dict[str, Any]
    sha256: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class CacheStats:
    entries: int
    total_bytes: int
    by_provider: dict[str, int]
    oldest: str | None
    newest: str | None


class CallCache:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def entry_dir(self, key: str) -> Path:
        _check_key(key)
        return self.root / key[:2] / key

    def get(self, key: str) -> CacheEntry | None:
        folder = self.entry_dir(key)
        if not folder.is_dir():
            return None
        document = _read_document(folder)
        problem = _problem(folder, key, document, check_content=True)
        if problem:
            log.warning("cache entry %s is corrupt (%s); discarding it", key, problem)
            self._discard(folder)
            return None
        return _entry_from(folder, document)

    def put(self, key: str, files: Mapping[str, str | os.PathLike], meta: Mapping[str, Any]) -> CacheEntry:
        final = self.entry_dir(key)
        for name in files:
            _check_name(name)
        existing = self.get(key)
        if existing is not None:
            return existing
        staging = self.root / ".tmp" / f"{os.getpid()}-{uuid.uuid4().hex}-{file_safe(host_name())}"
        staging.mkdir(parents=True)
        try:
            listed = {}
            for name, source in files.items():
                try:
                    digest, size = _copy_hashing(Path(source), staging / name, sync=True)
                except FileNotFoundError as exc:
                    raise CacheError(f"cache: cannot store {name}: {source} does not exist") from exc
                listed[name] = {"sha256": digest, "bytes": size}
            document = {"key": key, "files": listed, "meta": dict(meta), "created": utc_now()}
            try:
                text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True)
            except (TypeError, ValueError) as exc:
                raise CacheError(f"cache: the meta of {key} is not JSON: {exc}") from exc
            # entry.json last: a directory without it is never an entry.
            with open(staging / ENTRY_FILE, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            _fsync_dir(staging)
            final.parent.mkdir(parents=True, exist_ok=True)
            for _ in range(3):
                try:
                    os.rename(staging, final)
                    _fsync_dir(final.parent)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
                # Someone else published this key first: theirs wins if it is sound.
                existing = self.get(key)  # discards it if it is not, so our rename can retry
                if existing is not None:
                    return existing
            else:
                raise CacheError(f"cache: could not publish entry {key}")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return _entry_from(final, document)

    def restore(self, entry: CacheEntry, name: str, dest: str | os.PathLike) -> Path:
        """Copy one cached file to `dest` atomically, checking it against its recorded digest on the way."""
        source = entry.files.get(name)
        if source is None:
            raise CacheError(f"cache: entry {entry.key} has no file {name!r} (it has {', '.join(sorted(entry.files)) or 'none'})")
        with atomic_output(dest) as tmp:
            try:
                digest, _ = _copy_hashing(source, tmp, sync=False)
            except OSError as exc:
                # ESTALE: another NFS client discarded the entry while we read it.
                if not isinstance(exc, FileNotFoundError) and exc.errno != errno.ESTALE:
                    raise
                raise CacheError(f"cache: entry {entry.key} vanished while restoring {name}") from exc
            expected = entry.sha256.get(name)
            if expected and digest != expected:
                log.warning("cache entry %s changed on disk (%s); discarding it", entry.key, name)
                self._discard(source.parent)
                raise CacheError(f"cache: entry {entry.key} was corrupted while restoring {name}")
        return Path(dest)

    def stats(self) -> CacheStats:
        """Counts from each entry's entry.json (sizes checked, content not hashed, so it stays fast)."""
        sound = [document for _, document in self._listing()]
        by_provider: dict[str, int] = {}
        for document in sound:
            provider = str(document["meta"].get("provider") or "unknown")
            by_provider[provider] = by_provider.get(provider, 0) + 1
        created = sorted((document["created"] for document in sound), key=_parse_time)
        total = sum(_size(document) for document in sound)
        return CacheStats(len(sound), total, by_provider, created[0] if created else None, created[-1] if created else None)

    def prune(self, older_than_days: float | None = None, max_bytes: int | None = None) -> int:
        """Drop abandoned temp dirs, unsound entries, entries older than `older_than_days`, then the
        oldest until the rest fit in `max_bytes`. Returns how many entries were removed."""
        self._sweep_scratch()
        removed = 0
        for folder in self._entry_dirs():
            if _problem(folder, folder.name, _read_document(folder), check_content=False):
                removed += self._discard(folder)
        now = datetime.now(timezone.utc)
        kept = sorted(((_parse_time(d["created"]), _size(d), folder) for folder, d in self._listing()), key=lambda k: k[0])
        total = sum(size for _, size, _ in kept)
        for created, size, folder in kept:
            too_old = older_than_days is not None and (now - created).total_seconds() > older_than_days * 86400
            too_big = max_bytes is not None and total > max_bytes
            if not (too_old or too_big):
                break  # everything after is newer, and the total already fits
            removed += self._discard(folder)
            total -= size
        return removed

    # -- housekeeping ---------------------------------------------------------------------------

    def _entry_dirs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [
            folder
            for prefix in sorted(self.root.iterdir())
            if prefix.is_dir() and not prefix.name.startswith(".")
            for folder in sorted(prefix.iterdir())
            if folder.is_dir()
        ]

    def _listing(self) -> list[tuple[Path, dict[str, Any]]]:
        """Entries that look sound by their sizes, with their entry.json."""
        listing = []
        for folder in self._entry_dirs():
            document = _read_document(folder)
            if document is not None and not _problem(folder, folder.name, document, check_content=False):
                listing.append((folder, document))
        return listing

    def forget(self, key: str) -> bool:
        """Drop one entry (an answer that no longer passes its checks); True if there was one."""
        return self._discard(self.entry_dir(key))

    def _discard(self, folder: Path) -> bool:
        """Move an entry out of its key in one rename, then delete it at leisure; readers that already
        opened its files keep reading, and a concurrent put can publish the key again at once."""
        trash = self.root / ".trash" / f"{folder.name}-{uuid.uuid4().hex}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(folder, trash)
        except FileNotFoundError:
            return False  # someone else discarded it first
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def _sweep_scratch(self) -> None:
        for folder in _children(self.root / ".trash"):
            shutil.rmtree(folder, ignore_errors=True)
        # Paid failures (cost/call.py) only matter to the build that made them.
        for record in _children(self.root / ".failures"):
            try:
                if time.time() - record.stat().st_mtime > STALE_TEMP_S:
                    record.unlink()
            except FileNotFoundError:
                continue
        here = file_safe(host_name())
        for folder in _children(self.root / ".tmp"):
            parts = folder.name.split("-", 2)  # <pid>-<token>-<host>; older ones have no host
            owner = int(parts[0]) if parts[0].isdigit() else 0
            made_here = len(parts) < 3 or parts[2] == here
            try:
                age = time.time() - folder.stat().st_mtime
            except FileNotFoundError:
                continue
            if (made_here and not pid_alive(owner)) or age > STALE_TEMP_S:
                shutil.rmtree(folder, ignore_errors=True)


def _problem(folder: Path, key: str, document: Mapping[str, Any] | None, check_content: bool) -> str | None:
    """Why the entry in `folder` is not sound, or None if it is."""
    if document is None:
        return f"{ENTRY_FILE} is missing or unreadable"
    if document["key"] != key:
        return f"{ENTRY_FILE} names key {document['key']}"
    for name, info in document["files"].items():
        path = folder / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return f"{name} is missing"
        if size != info["bytes"]:
            return f"{name} has {size} bytes, expected {info['bytes']}"
        if check_content and file_digest(path) != info["sha256"]:
            return f"{name} does not match its sha256"
    return None


def _read_document(folder: Path) -> dict[str, Any] | None:
    try:
        document = json.loads((folder / ENTRY_FILE).read_text(encoding="utf-8"))
        files = document["files"]
        if not isinstance(document["key"], str) or not isinstance(document["meta"], dict):
            return None
        for name, info in files.items():
            _check_name(name)
            if not isinstance(info["sha256"], str) or not isinstance(info["bytes"], int):
                return None
        _parse_time(document["created"])
        return document
    except (OSError, ValueError, KeyError, TypeError, AttributeError, CacheError):
        return None


def _entry_from(folder: Path, document: Mapping[str, Any]) -> CacheEntry:
    files = document["files"]
    return CacheEntry(
        key=document["key"],
        files={name: folder / name for name in files},
        meta=dict(document["meta"]),
        sha256={name: info["sha256"] for name, info in files.items()},
    )


def _size(document: Mapping[str, Any]) -> int:
    return sum(info["bytes"] for info in document["files"].values())


def _copy_hashing(source: Path, dest: Path, sync: bool) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as src, open(dest, "wb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        if sync:
            dst.flush()
            os.fsync(dst.fileno())
    return digest.hexdigest(), size


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _children(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _check_key(key: str) -> None:
    if not isinstance(key, str) or len(key) < 3 or not all(c.isascii() and (c.isalnum() or c in "_-") for c in key):
        raise CacheError(f"cache: {key!r} is not a cache key (letters, digits, - and _ only)")


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or name == ENTRY_FILE or name.startswith(".") or "/" in name or "\0" in name:
        raise CacheError(f"cache: {name!r} cannot name a cached file")
