"""Priced stand-ins for hosted providers (`llm=fake_paid`, `video=fake_paid`).

They produce exactly what the offline providers produce and are billed from their price tables,
so the cache, the ledger, the budget guard and `shortdrama plan` can be exercised end to end with
no key. Each real (non-cached) call is also counted, one line per call, in the file named by
$SHORTDRAMA_FAKE_CALL_LOG: an account of calls kept apart from the ledger it is checked against.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FAKE_CALL_LOG_ENV = "SHORTDRAMA_FAKE_CALL_LOG"


def count_fake_call(step: str, model: str, **details: object) -> None:
    target = os.environ.get(FAKE_CALL_LOG_ENV)
    if not target:
        return
    line = json.dumps({"step": step, "model": model, **details}, sort_keys=True) + "\n"
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))  # one O_APPEND write: whole lines even from parallel jobs
    finally:
        os.close(fd)


def read_fake_calls(path: str | Path) -> list[dict]:
    file = Path(path)
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
