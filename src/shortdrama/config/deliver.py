"""The `deliver` group: the platform a series ships to, and what that platform accepts.

Each preset (conf/deliver/) is one platform's limits: picture, frame rate, bitrate and file-size caps,
the longest episode it takes, the loudness it normalises to, the share of the frame its own interface
covers (burned captions must sit above the bottom band), the cover's size. Values this project cannot
check from here carry their `source` and a `checked` date, as the provider presets do. `none` (the
default) delivers nothing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .models import StrictModel


class DeliverConfig(StrictModel):
    platform: str = Field(default="none", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    width: int = Field(default=1080, ge=144, le=4320, multiple_of=2)
    height: int = Field(default=1920, ge=256, le=7680, multiple_of=2)
    fps: int = Field(default=30, ge=12, le=60)
    crf: int = Field(default=20, ge=0, le=51)
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = "medium"
    max_video_kbps: int = Field(default=8000, ge=200, description="the video stream's peak rate (maxrate)")
    audio_kbps: int = Field(default=192, ge=32, le=512)
    max_mb: float | None = Field(default=None, gt=0, description="the largest file the platform takes, in MB (10^6 bytes)")
    max_duration_s: float | None = Field(default=None, gt=0)
    min_duration_s: float = Field(default=0.0, ge=0)
    loudness_lufs: float = Field(default=-14.0, ge=-36.0, le=-6.0, description="the platform's normalisation target")
    true_peak_dbtp: float = Field(default=-1.0, ge=-9.0, le=0.0)
    loudness_tolerance_lu: float = Field(default=1.0, gt=0, le=6.0)
    # Shares of the frame the platform's own interface covers: burned captions stay above bottom_ui.
    bottom_ui: float = Field(default=0.2, ge=0.0, lt=0.6, description="share of the height at the bottom")
    top_ui: float = Field(default=0.06, ge=0.0, lt=0.4)
    cover_width: int = Field(default=1080, ge=144, le=4320)
    cover_height: int = Field(default=1920, ge=144, le=7680)
    cover_scene: int | None = Field(default=None, ge=1, description="whose keyframe is the cover; none: the first")
    faststart: bool = True
    source: str | None = None  # where the limits come from
    checked: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")

    @property
    def max_bytes(self) -> int | None:
        return None if self.max_mb is None else int(self.max_mb * 1_000_000)

    @property
    def enabled(self) -> bool:
        return self.platform != "none"

    @model_validator(mode="after")
    def _vertical(self) -> "DeliverConfig":
        if self.enabled and self.height <= self.width:
            raise ValueError(f"deliver: {self.width}x{self.height} is not vertical; short-drama platforms play 9:16")
        if self.max_duration_s is not None and self.max_duration_s < self.min_duration_s:
            raise ValueError("deliver: max_duration_s is below min_duration_s")
        return self
