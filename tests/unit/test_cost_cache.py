import hashlib
import json
import logging
import multiprocessing
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from shortdrama.cost.cache import CacheError, CallCache, canonical_json, file_digest, request_key

FORK = multiprocessing.get_context("fork")
KEY = request_key({"step": "generate_clip", "prompt": "a rainy street"})


@pytest.fixture
def cache(tmp_path):
    return CallCache(tmp_path / "cache")


def payload(folder, name, data: bytes):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def put_clip(cache, tmp_path, key=KEY, data=b"frames" * 1000, provider="kling"):
    return cache.put(key, {"clip": payload(tmp_path / "src" / key, "clip.mp4", data)}, {"provider": provider})


def backdate(cache, key, days):
    doc_path = cache.entry_dir(key) / "entry.json"
    doc = json.loads(doc_path.read_text())
    doc["created"] = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat()
    doc_path.write_text(json.dumps(doc))


def dead_pid() -> int:
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout)


def test_request_key_ignores_key_order_and_keeps_unicode():
    assert canonical_json({"b": "雨", "a": [1, 2]}) == '{"a":[1,2],"b":"雨"}'
    assert request_key({"a": 1, "b": {"y": 2, "x": 3}}) == request_key({"b": {"x": 3, "y": 2}, "a": 1})
    assert request_key({"a": 1}) != request_key({"a": 2})


def test_file_digest_is_sha256_of_content(tmp_path):
    path = payload(tmp_path, "big.bin", os.urandom(3 * (1 << 20) + 17))
    assert file_digest(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_put_get_restore_round_trip(cache, tmp_path):
    stored = cache.put(KEY, {"clip": payload(tmp_path, "c.mp4", b"video"), "audio": payload(tmp_path, "a.wav", b"")},
                       {"provider": "kling", "cost_usd": 0.35})
    entry = cache.get(KEY)
    assert entry == stored
    assert entry.meta == {"provider": "kling", "cost_usd": 0.35}
    assert sorted(entry.files) == ["audio", "clip"]
    doc = json.loads((cache.entry_dir(KEY) / "entry.json").read_text())
    assert doc["key"] == KEY and doc["files"]["clip"] == {"sha256": hashlib.sha256(b"video").hexdigest(), "bytes": 5}
    dest = tmp_path / "out" / "ep01" / "clip.mp4"
    assert cache.restore(entry, "clip", dest) == dest
    assert dest.read_bytes() == b"video"
    assert [p.name for p in dest.parent.iterdir()] == ["clip.mp4"]
    with pytest.raises(CacheError, match="no file 'voice'"):
        cache.restore(entry, "voice", tmp_path / "v.wav")


def test_missing_key_is_a_miss_and_bad_keys_or_names_are_refused(cache, tmp_path):
    assert cache.get(KEY) is None
    with pytest.raises(CacheError):
        cache.get("../../etc")
    with pytest.raises(CacheError):
        cache.put(KEY, {"entry.json": payload(tmp_path, "x", b"x")}, {})
    with pytest.raises(CacheError, match="does not exist"):
        cache.put(KEY, {"clip": tmp_path / "nope.mp4"}, {})
    assert cache.get(KEY) is None


def _truncate(folder):
    path = folder / "clip"
    path.write_bytes(path.read_bytes()[:-1])


def _flip_byte(folder):
    path = folder / "clip"
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))


CORRUPTIONS = {
    "truncated payload": _truncate,
    "flipped byte": _flip_byte,
    "missing payload": lambda folder: (folder / "clip").unlink(),
    "missing entry.json": lambda folder: (folder / "entry.json").unlink(),
    "garbled entry.json": lambda folder: (folder / "entry.json").write_text('{"key": "abc", "fil'),
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_a_corrupt_entry_is_discarded_and_can_be_stored_again(cache, tmp_path, caplog, corrupt):
    put_clip(cache, tmp_path)
    corrupt(cache.entry_dir(KEY))
    with caplog.at_level(logging.WARNING, logger="shortdrama.cost.cache"):
        assert cache.get(KEY) is None
    assert "corrupt" in caplog.text
    assert not cache.entry_dir(KEY).exists()
    put_clip(cache, tmp_path)
    assert cache.get(KEY) is not None


def test_restore_refuses_a_file_that_changed_after_get(cache, tmp_path):
    entry = put_clip(cache, tmp_path)
    _flip_byte(cache.entry_dir(KEY))
    dest = tmp_path / "out" / "clip.mp4"
    with pytest.raises(CacheError, match="corrupted"):
        cache.restore(entry, "clip", dest)
    assert not dest.exists() and not cache.entry_dir(KEY).exists()


def _put_after_barrier(root, source, barrier):
    barrier.wait()
    CallCache(root).put(KEY, {"clip": source}, {"provider": f"pid{os.getpid()}"})


def test_concurrent_puts_of_one_key_leave_one_sound_entry(cache, tmp_path):
    data = os.urandom(4 << 20)  # big enough that both writers are mid-copy together
    for round_ in range(3):
        barrier = FORK.Barrier(2)
        sources = [payload(tmp_path / f"r{round_}w{i}", "clip.mp4", data) for i in range(2)]
        workers = [FORK.Process(target=_put_after_barrier, args=(cache.root, s, barrier)) for s in sources]
        for w in workers:
            w.start()
        for w in workers:
            w.join(10)
        assert [w.exitcode for w in workers] == [0, 0]
        entry = cache.get(KEY)
        assert entry is not None and entry.files["clip"].read_bytes() == data
        assert [p.name for p in cache.entry_dir(KEY).parent.iterdir()] == [KEY]
        assert list((cache.root / ".tmp").iterdir()) == []
        assert cache.stats().entries == 1


def _crash_before_publishing(root, source):
    import shortdrama.cost.cache as cache_module

    cache_module.os.rename = lambda *args: os._exit(3)  # the process dies between writing and renaming
    CallCache(root).put(KEY, {"clip": source}, {"provider": "kling"})


def test_a_crash_mid_put_leaves_a_temp_dir_that_is_never_served_and_prune_removes(cache, tmp_path):
    worker = FORK.Process(target=_crash_before_publishing, args=(cache.root, payload(tmp_path, "c.mp4", b"x" * 100)))
    worker.start()
    worker.join(10)
    assert worker.exitcode == 3
    leftovers = list((cache.root / ".tmp").iterdir())
    assert len(leftovers) == 1 and (leftovers[0] / "entry.json").exists()  # complete, but never published
    assert cache.get(KEY) is None
    assert cache.stats().entries == 0
    assert cache.prune() == 0
    assert list((cache.root / ".tmp").iterdir()) == []
    put_clip(cache, tmp_path)
    assert cache.get(KEY) is not None


def test_prune_spares_the_temp_dir_of_a_put_still_running(cache, tmp_path):
    live = cache.root / ".tmp" / f"{os.getpid()}-inflight"
    dead = cache.root / ".tmp" / f"{dead_pid()}-abandoned"
    for folder in (live, dead):
        payload(folder, "clip", b"half")
    cache.prune()
    assert live.exists() and not dead.exists()


def test_stats_counts_entries_bytes_and_providers(cache, tmp_path):
    assert cache.stats().entries == 0 and cache.stats().oldest is None
    for i, (provider, size) in enumerate([("kling", 100), ("kling", 200), ("elevenlabs", 50)]):
        put_clip(cache, tmp_path, key=request_key({"i": i}), data=b"z" * size, provider=provider)
    backdate(cache, request_key({"i": 1}), days=3)
    stats = cache.stats()
    assert (stats.entries, stats.total_bytes, stats.by_provider) == (3, 350, {"kling": 2, "elevenlabs": 1})
    oldest = json.loads((cache.entry_dir(request_key({"i": 1})) / "entry.json").read_text())["created"]
    assert stats.oldest == oldest and stats.newest > stats.oldest


def test_prune_by_age(cache, tmp_path):
    old, new = request_key({"n": "old"}), request_key({"n": "new"})
    put_clip(cache, tmp_path, key=old)
    put_clip(cache, tmp_path, key=new)
    backdate(cache, old, days=10)
    assert cache.prune(older_than_days=5) == 1
    assert cache.get(old) is None and cache.get(new) is not None
    assert cache.prune(older_than_days=5) == 0


def test_prune_by_size_removes_oldest_first(cache, tmp_path):
    keys = [request_key({"n": n}) for n in range(3)]
    for age, key in zip((3, 2, 1), keys):
        put_clip(cache, tmp_path, key=key, data=b"b" * 100)
        backdate(cache, key, days=age)
    assert cache.prune(max_bytes=250) == 1
    assert [cache.get(k) is not None for k in keys] == [False, True, True]
    assert cache.prune(max_bytes=100) == 1
    assert [cache.get(k) is not None for k in keys] == [False, False, True]
    assert cache.stats().total_bytes == 100


def test_cache_command_reports_and_prunes(tmp_path, monkeypatch):
    from shortdrama.cli import main

    monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "store"))
    store = CallCache(tmp_path / "store")
    payload = tmp_path / "clip.mp4"
    payload.write_bytes(b"x" * 1000)
    for n in range(3):
        store.put(request_key({"n": n}), {"mp4": payload}, {"provider": "fake_paid"})
    assert main(["cache", "stats"]) == 0
    assert main(["cache", "prune", "--max-bytes", "0"]) == 0
    assert store.stats().entries == 0
