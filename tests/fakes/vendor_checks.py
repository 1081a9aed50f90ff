"""What the hosted-video tests share: reading a job record, checking a clip, and the check every vendor
without a way to find a job by our key must pass, written once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from shortdrama.errors import ProviderError
from shortdrama.media import probe

from .vendor_base import FakeJob, VendorFake, VendorFault


def record(job_dir: Path, key: str = "clip-0001") -> dict:
    """The job record the engine keeps for request `key`."""
    return json.loads((job_dir / f"{key}.json").read_text())


def assert_clip(path: Path, duration: float) -> None:
    info = probe(path)
    assert info.first("video") is not None and info.first("video").codec == "h264"
    assert abs(info.duration - duration) < 0.2


def lost_create_waits_for_the_user(fake: VendorFake, video: Any, make_request: Callable[[], Any], job_dir: Path,
                                   out: Path, vendor: str, choice: str,
                                   vendor_id: Callable[[FakeJob], str] = lambda job: job.id) -> Any:
    """A create whose reply was lost may have made (and billed) a job the vendor cannot find for us again:
    every run stops, naming the record and the dashboard, with one submission, until the user deletes the
    record (one new submission) or writes the job's id into it (that job is polled, nothing submitted)."""
    request = make_request()
    path = job_dir / f"{request.key}.json"
    fake.fault("submit", VendorFault(answer_then_reset=True))
    for _ in range(2):
        with pytest.raises(ProviderError) as caught:
            video.generate(make_request(), out)
        message = str(caught.value)
        assert str(path) in message and f"{vendor} cannot look jobs up" in message and "dashboard" in message
        assert json.loads(path.read_text())["status"] == "submitting"
        assert len(fake.submissions) == 1 and len(fake.of("submit")) == 1, "never resent on a doubt"
    if choice == "delete the record":
        path.unlink()
    else:
        job_id = vendor_id(fake.submissions[0])
        path.write_text(json.dumps({**json.loads(path.read_text()), "job_id": job_id, "status": "submitted"}))
    result = video.generate(make_request(), out)
    assert len(fake.submissions) == (2 if choice == "delete the record" else 1)
    assert result.job_id == vendor_id(fake.submissions[-1])
    assert json.loads(path.read_text())["status"] == "completed"
    return result
