"""The offline default is reproducible: the same config and seed give byte-identical outputs.

Two clean builds of the tiny demo, each with its own work directory and its own call cache (so
neither can reuse the other's results), must write the same bytes to every file under results/.
The builds run several seconds apart, so anything seeded from the clock (as eSpeak NG seeds its
breath noise) shows up as a difference.

Deliberately not compared byte for byte: the build's bookkeeping, which records when and in
what order things happened, not what was made.

* the ledger, `ledger.jsonl` and its shards `.ledger.jsonl.d/<host>.<id>.jsonl`: each row says
  when a call ran (`time`) and how long it took (`duration_s`), and rows are appended in the
  order jobs finish, which the scheduler decides;
* the provenance manifests `.manifests/**.json`: each says when its job `started` and
  `finished` and the `mtime_ns` of every file it read or wrote;
* `.manifests/.known-stamps`, the digests the build's checks computed, with each file's `mtime_ns`.

They are compared with those clock fields removed (and ledger rows sorted), so which calls ran,
with which cache keys, and the sha256 of every input and output they record must still agree.
"""

import fnmatch
import hashlib
import json
import os
from pathlib import Path

import pytest
import yaml

from builds import REPO, run_snakemake, tiny_config
from shortdrama.voice import voice_for_character


pytestmark = pytest.mark.slow

# Bookkeeping files (fnmatch patterns, where * also crosses "/", for paths below results/demo)
# and the clock fields they may differ in.
BOOKKEEPING = ("ledger.jsonl", ".ledger.jsonl.d/*.jsonl", ".manifests/*.json", ".manifests/.known-stamps")
CLOCK_FIELDS = frozenset({"time", "duration_s", "started", "finished", "mtime_ns"})


def _clean_build(root: Path) -> Path:
    """Build the tiny demo in `root`/work with a call cache of its own in `root`/cache."""
    work, cache = root / "work", root / "cache"
    work.mkdir(parents=True)
    cache.mkdir()
    previous = os.environ["SHORTDRAMA_CACHE_DIR"]
    os.environ["SHORTDRAMA_CACHE_DIR"] = str(cache)
    try:
        run_snakemake(work, *tiny_config())
    finally:
        os.environ["SHORTDRAMA_CACHE_DIR"] = previous
    return work / "results" / "demo"


def _files(results: Path) -> dict[str, Path]:
    return {str(p.relative_to(results)): p for p in sorted(results.rglob("*")) if p.is_file()}


def _is_bookkeeping(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in BOOKKEEPING)


def _without_clock(value):
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k not in CLOCK_FIELDS}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


def _bookkeeping_content(path: Path) -> list[str]:
    """The records of a JSON or JSON-lines file without their clock fields, in a fixed order."""
    text = path.read_text()
    if path.suffix == ".jsonl":
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        records = [json.loads(text)]
    return sorted(json.dumps(_without_clock(record), sort_keys=True) for record in records)


def _breathy(variant: str) -> bool:
    import espeakng_loader

    data = Path(espeakng_loader.get_data_path()) / "voices" / "!v" / variant
    return any(line.split()[:1] == ["breath"] for line in data.read_text().splitlines())


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    first = _clean_build(tmp_path_factory.mktemp("first"))
    second = _clean_build(tmp_path_factory.mktemp("second"))
    return first, second


def test_two_clean_builds_write_identical_bytes(two_builds):
    first, second = two_builds
    files_a, files_b = _files(first), _files(second)
    assert sorted(files_a) == sorted(files_b)
    # Every kind of output of the offline default is among what is compared.
    for expected in ("outline.json", "config.yaml", "ep01/script.json", "ep01/keyframes/sc01.png",
                     "ep01/clips/sc01.mp4", "ep01/audio/sc01.wav", "ep01/audio/sc01.cues.json",
                     "ep01/audio/episode_mix.wav", "episode_01.srt", "episode_01_final.mp4"):
        assert expected in files_a, f"the build wrote no {expected}"

    bookkeeping = {name for name in files_a if _is_bookkeeping(name)}
    assert any(name.startswith(".ledger.jsonl.d/") for name in bookkeeping), "the build wrote no ledger shard"
    different = []
    for name, path in files_a.items():
        if name in bookkeeping:
            if _bookkeeping_content(path) != _bookkeeping_content(files_b[name]):
                different.append(f"{name} (beyond its clock fields)")
            continue
        a, b = path.read_bytes(), files_b[name].read_bytes()
        if a != b:
            digests = [hashlib.sha256(data).hexdigest()[:12] for data in (a, b)]
            different.append(f"{name} (sha256 {digests[0]} vs {digests[1]})")
    assert not different, "two clean builds differ in: " + ", ".join(different)
    # Everything that is not bookkeeping was compared byte for byte, the media above included.
    assert {"ep01/audio/sc01.wav", "episode_01_final.mp4"} <= set(files_a) - bookkeeping


def test_the_builds_speak_with_a_breathy_voice(two_builds):
    # Otherwise the comparison above would not cover the noise eSpeak adds to breathy variants.
    first, _ = two_builds
    series = yaml.safe_load((REPO / "conf" / "series" / "demo.yaml").read_text())
    cast = {member["name"]: (index, member.get("gender"))
            for index, member in enumerate(series["cast"].values())}
    speakers = {cue["speaker"] for cues in (first / "ep01" / "audio").glob("*.cues.json")
                for cue in json.loads(cues.read_text())}
    variants = {voice_for_character(*cast[name], series["language"]).variant for name in speakers}
    assert any(_breathy(variant) for variant in variants), f"no breathy voice among {sorted(variants)}"
