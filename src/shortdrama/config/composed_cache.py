"""The composed configuration of the last runs, so that Snakemake's start (and every cluster job's, and
every `shortdrama` command) skips Hydra (~0.35 s) when nothing it reads has changed.

What Hydra reads is the conf/ folder, the overrides, and the environment variables the YAML files
interpolate (`${oc.env:VIDEO_GATEWAY_URL,...}`): the key is a digest of all of them (file contents,
not times) and of the Hydra version. Only a successful composition is kept; the result is validated
by pydantic on every load as before. Kept in `<checkout>/.cache/compose/` (git-ignored), at most
MAX_ENTRIES files; a folder that cannot be written only means no cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Sequence

MAX_ENTRIES = 256
FORMAT = 1  # bump when what compose_raw returns changes shape
_ENV_REFERENCE = re.compile(r"oc\.env:\s*([A-Za-z_][A-Za-z0-9_]*)")


def cached_compose(conf: Path, overrides: Sequence[str], compose: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    folder = conf.parent / ".cache" / "compose"
    try:
        key = _key(conf, overrides)
    except OSError:
        return compose()
    entry = folder / f"{key}.json"
    try:
        return json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    raw = compose()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, entry)
        _prune(folder)
    except OSError:
        pass
    return raw


def _key(conf: Path, overrides: Sequence[str]) -> str:
    from importlib.metadata import version

    digest = hashlib.sha256(json.dumps([FORMAT, version("hydra-core"), list(overrides)]).encode())
    names: set[str] = set()
    for path in sorted(conf.rglob("*.yaml")):
        text = path.read_bytes()
        digest.update(str(path.relative_to(conf)).encode() + b"\0" + hashlib.sha256(text).digest())
        names.update(_ENV_REFERENCE.findall(text.decode("utf-8", "replace")))
    for name in sorted(names):  # the values are hashed, never stored
        digest.update(f"{name}\0{os.environ.get(name, chr(0))}\0".encode())
    return digest.hexdigest()[:32]


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
    for old in entries[:-MAX_ENTRIES]:
        old.unlink(missing_ok=True)
