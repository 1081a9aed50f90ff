"""What the hosted-video tests share: reading a job record, checking a clip, and what every delivered clip
must have left behind (the behaviours themselves are tests/unit/vendor_contract.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shortdrama.media import probe

from .vendor_base import VendorFake


def record(job_dir: Path, key: str = "clip-0001") -> dict:
    """The job record the engine keeps for request `key`."""
    return json.loads((job_dir / f"{key}.json").read_text())


def assert_clip(path: Path, duration: float) -> None:
    info = probe(path)
    assert info.first("video") is not None and info.first("video").codec == "h264"
    assert abs(info.duration - duration) < 0.2


def assert_delivered(fake: VendorFake, result: Any, job_dir: Path, clip: Path, duration: float, vendor: str,
                     job_id: str, *secrets: str) -> dict:
    """One job, downloaded once from the storage host with no key on the way, a checked clip, and a completed
    record that holds neither a key nor the signed URL. Returns the record."""
    [job] = fake.submissions
    assert all(r.authorized for r in fake.requests), "every request carried the right credentials"
    assert fake.credentials_at_storage == 0, "the key went to the API only, never to the storage host"
    assert fake.downloads == [job.id] and (result.job_id, result.vendor) == (job_id, vendor)
    assert_clip(clip, duration)
    rec = record(job_dir)
    text = json.dumps(rec)
    assert (rec["status"], rec["job_id"], rec["model"]) == ("completed", job_id, job.model)
    assert "cdn" not in text, "the signed URL is a credential: never in the record"
    assert not any(secret in text for secret in secrets)
    return rec
