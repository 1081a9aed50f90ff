"""Lip-sync models on fal.ai's queue (sync.so's `fal-ai/sync-lipsync`, and models with the same input
such as `veed/lipsync`): provider `fal` of the lipsync group.

    POST {base}/{model}   {video_url, audio_url, sync_mode?, model?}   (a data URI is accepted for both:
                          fal's model pages, "Files: you can pass your own URL or a Base64 data URI")
                          -> 202 {request_id, status_url, response_url, cancel_url}
    GET  {status_url}     -> {status: IN_QUEUE | IN_PROGRESS | COMPLETED, error?}
    GET  {response_url}   -> {video: {url, content_type, file_name, file_size}}

The queue, its authentication (`Authorization: Key <FAL_KEY>`), its error shapes and its cancel rules are
those of fal's video models (shortdrama.video.vendors.fal); only the input differs: the scene's clip and
its dialogue track instead of a prompt and a keyframe. sync_mode says what the model does when audio
and video lengths differ; ours are the same length (the dialogue track lasts the scene), so "cut_off".
Source: https://fal.ai/models/fal-ai/sync-lipsync/llms.txt (input/output schema, $0.7 per minute),
read 2026-12-06 through the search library.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict

from ..errors import ProviderError
from ..video.vendors.base import JobRejected, JobRequest, Session, check_options
from ..video.vendors.fal import FalAdapter, check_model_id

# A data URI travels inside the JSON body: past this the request is refused here, not by fal after
# the upload (fal's docs advise its CDN for large files; a scene clip at 1080p is a few MB).
MAX_INLINE_BYTES = 40 * 2**20


class LipsyncOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sync_mode: Literal["cut_off", "loop", "bounce", "silence", "remap"] = "cut_off"
    # sync.so's own model version on fal (fal-ai/sync-lipsync's `model` field); None: fal's default.
    model: str | None = None


class FalLipsyncAdapter(FalAdapter):
    name = "fal_lipsync"

    def validate_options(self, options: Mapping[str, Any]) -> None:
        check_options(LipsyncOptions, options, "fal lipsync")

    def _body(self, session: Session, job: JobRequest, what: str) -> dict[str, Any]:
        entry = session.entry
        check_model_id(entry, what, "fal-ai/sync-lipsync", "the lipsync preset")
        if job.source_video is None or job.audio is None:
            raise JobRejected(f"{what}: lip-sync needs the scene's clip and its dialogue track")
        try:
            video = _data_uri(job.source_video, "video/mp4", what)
            audio = _data_uri(job.audio, "audio/wav", what)
        except ProviderError as error:
            raise JobRejected(str(error)) from None
        options = LipsyncOptions.model_validate(dict(entry.options))
        body: dict[str, Any] = {"video_url": video, "audio_url": audio, "sync_mode": options.sync_mode}
        if options.model:
            body["model"] = options.model
        return body


def _data_uri(path: Path, mime: str, what: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ProviderError(f"{what}: cannot read {path} ({error.strerror})") from None
    if len(data) > MAX_INLINE_BYTES:
        raise ProviderError(f"{what}: {Path(path).name} is {len(data) / 2**20:.0f} MB, over the "
                            f"{MAX_INLINE_BYTES // 2**20} MB sent inline; lower the render size for lip-sync")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


ADAPTER = FalLipsyncAdapter()
