"""A fake fal.ai queue serving sync.so's lip-sync model (`fal-ai/sync-lipsync`) as fal documents it.

The queue itself (submit 202 with status/response/cancel URLs, status polls, result, cancel, `Key` auth,
422 validation errors) is the video fake's (fakes.fal_server.FakeFal); only the model's input differs:

    POST fal-ai/sync-lipsync   {video_url, audio_url, sync_mode?, model?}
                               video_url/audio_url: an https URL or a data URI (video/*, audio/*)
                               sync_mode: cut_off|loop|bounce|silence|remap; model: lipsync-1.9.0-beta|
                               lipsync-1.8.0|lipsync-1.7.1; anything else is 422 extra_forbidden
    GET  .../requests/{id}     -> {video: {url, content_type, file_name, file_size}}

The answer lasts as long as the video sent (cut_off with an audio as long) and is a plain colour
(SYNCED, unless the script colours jobs itself), so a test can tell a synced scene in a final. The
audio and video received are kept per job (`received`) for tests to compare with what was built.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import uuid
from typing import Any

from .fal_server import FakeFal, detail
from .http_base import FakeHandler, send_json

LIPSYNC_MODELS = ("fal-ai/sync-lipsync",)
SYNCED = "20c040"  # the colour of every synced clip this fake serves
_DATA = re.compile(r"data:(video|audio)/[A-Za-z0-9.+-]+;base64,(.+)", re.S)
_FIELDS = {"video_url", "audio_url", "sync_mode", "model"}
_SYNC_MODES = ("cut_off", "loop", "bounce", "silence", "remap")
_VERSIONS = ("lipsync-1.9.0-beta", "lipsync-1.8.0", "lipsync-1.7.1")


def _seconds(video: bytes) -> float:
    import av

    with av.open(io.BytesIO(video)) as container:
        return float(container.duration or 0) / 1_000_000


class FakeFalLipsync(FakeFal):
    def __init__(self, *, api_key: str, **options: Any):
        super().__init__(api_key=api_key, **options)
        if self.script.colour_for is None:
            self.script.colour_for = lambda body: SYNCED
        self.received: dict[str, tuple[bytes, bytes]] = {}  # job id -> (video, audio) as sent

    def _submit(self, h: FakeHandler, model: str, body: dict) -> None:
        if model not in LIPSYNC_MODELS:
            return send_json(h, 404, {"detail": f"Application '{model.split('/')[1] if '/' in model else model}' "
                                                f"not found for path /{model}"})
        problem, video, audio = self._check_lipsync(body)
        if problem:
            return send_json(h, 422, problem)
        with self.lock:
            job = self.create_job(model, round(_seconds(video), 3), body)
            self.received[job.id] = (video, audio)
            ident = uuid.uuid4().hex
            self._requests[ident] = job.id
        app = "/".join(model.split("/")[:2])
        base = f"{self.base_url}/{app}/requests/{ident}"
        send_json(h, 202, {"request_id": ident, "response_url": base, "status_url": f"{base}/status",
                           "cancel_url": f"{base}/cancel", "queue_position": 0})

    @staticmethod
    def _check_lipsync(body: dict) -> tuple[dict[str, Any] | None, bytes, bytes]:
        extra = sorted(set(body) - _FIELDS)
        if extra:
            return detail(extra[0], "Extra inputs are not permitted", "extra_forbidden"), b"", b""
        found = {}
        for name, kind in (("video_url", "video"), ("audio_url", "audio")):
            value = body.get(name)
            if not isinstance(value, str) or not value:
                return detail(name, "Field required", "missing"), b"", b""
            match = _DATA.fullmatch(value)
            if not match or match.group(1) != kind:
                return detail(name, f"Invalid {kind} data URI", "value_error"), b"", b""
            try:
                found[kind] = base64.b64decode(match.group(2), validate=True)
            except (binascii.Error, ValueError):
                return detail(name, "Invalid base64", "value_error"), b"", b""
        if body.get("sync_mode", "cut_off") not in _SYNC_MODES:
            return detail("sync_mode", f"Input should be {', '.join(_SYNC_MODES)}", "enum"), b"", b""
        if body.get("model", _VERSIONS[0]) not in _VERSIONS:
            return detail("model", f"Input should be {', '.join(_VERSIONS)}", "enum"), b"", b""
        try:
            if _seconds(found["video"]) <= 0:
                raise ValueError
        except Exception:  # noqa: BLE001 - any undecodable upload is the model's 422
            return detail("video_url", "Could not read the video", "value_error"), b"", b""
        if not found["audio"].startswith(b"RIFF"):
            return detail("audio_url", "Could not read the audio", "value_error"), b"", b""
        return None, found["video"], found["audio"]
