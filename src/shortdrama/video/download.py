"""Fetching a finished clip: streamed with a size limit, then checked by decoding before anyone uses it."""

from __future__ import annotations

from pathlib import Path

import httpx

from ..errors import MediaError, ProviderError
from ..http import RETRYABLE_STATUS, ProviderHTTPError, retry_after_seconds
from ..media import probe
from .vendors.base import one_line


class BadDownload(Exception):
    def __init__(self, message: str, *, content: bool = False, wait: float | None = None):
        super().__init__(message)
        self.content = content  # the bytes arrived whole but are not the clip asked for
        self.wait = wait


def fetch(client: httpx.Client, url: str, tmp: Path, headers: dict, what: str, limit: int, timeout: float) -> None:
    """Stream `url` into `tmp`, refusing more than `limit` bytes; a broken transfer is a BadDownload."""
    try:
        with client.stream("GET", url, headers=headers, timeout=timeout) as response:
            code = response.status_code
            if code in RETRYABLE_STATUS:
                raise BadDownload(f"HTTP {code}", wait=retry_after_seconds(response))
            if not response.is_success:
                response.read()
                raise ProviderHTTPError(f"{what}: HTTP {code}: {one_line(response.text, 120)}", code)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise ProviderError(f"{what}: {int(declared)} bytes exceeds the {limit}-byte limit")
            size = 0
            with open(tmp, "wb") as sink:
                for chunk in response.iter_bytes(1 << 16):
                    size += len(chunk)
                    if size > limit:
                        raise ProviderError(f"{what}: more than the {limit}-byte limit")
                    sink.write(chunk)
    except httpx.HTTPError as error:
        raise BadDownload(f"transfer broke off ({type(error).__name__})") from None

def check_clip(path: Path, duration: float, tolerance: float, audio: bool = False) -> None:
    """A decodable video of about `duration` seconds, by its header and by decoding every frame; with an
    audio stream when the clip was asked with its own sound."""
    try:
        info = probe(path)
    except MediaError:
        raise BadDownload("not a decodable video", content=True) from None
    if info.first("video") is None:
        raise BadDownload("no video stream", content=True)
    if audio and info.first("audio") is None:
        raise BadDownload("no audio stream, though the clip was asked with its own sound", content=True)
    if abs(info.duration - duration) > tolerance:
        raise BadDownload(f"{info.duration:.2f} s long, {duration:g} s requested", content=True)
    # The container's header can promise a duration the bytes no longer hold; decoding tells.
    decoded = _decoded_seconds(path)
    if decoded is None or abs(decoded - duration) > tolerance:
        got = "nothing" if decoded is None else f"{decoded:.2f} s"
        raise BadDownload(f"decodes to {got}, {duration:g} s requested", content=True)


def _decoded_seconds(path: Path) -> float | None:
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            frame_s = 1 / float(stream.average_rate) if stream.average_rate else 0.0
            first = last = None
            for frame in container.decode(stream):
                if frame.time is not None:
                    first = frame.time if first is None else min(first, frame.time)
                    last = frame.time if last is None else max(last, frame.time)
    except (av.error.FFmpegError, IndexError):
        return None
    return None if first is None else last - first + frame_s
