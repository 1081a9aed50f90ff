"""The `qc` group: what the machine checks in every take, scene and episode, and what it does about
a scene whose takes all fail. Thresholds only: changing one reruns the checks and the choice of
take, never a provider (the measurements are cached by content, see shortdrama.qc.measurements).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .models import StrictModel


class TakeLimits(StrictModel):
    """Per take (one generated clip)."""

    duration_tolerance_frames: float = Field(default=1.0, ge=0.0, description="|take - scene| allowed, in frames")
    max_black_share: float = Field(default=0.10, ge=0.0, le=1.0, description="share of the take that is black")
    max_black_run_s: float = Field(default=0.5, gt=0.0, description="longest run of black frames")
    max_freeze_s: float = Field(default=1.5, ge=0.5, description="longest frozen run (providers still by design exempt)")
    max_cuts: int = Field(default=0, ge=0, description="hard cuts inside one take (scdet)")
    # Smooth camera moves score under 1.5; a cut between two similar pictures about 8.
    scene_change_threshold: float = Field(default=7.5, ge=5.0, le=100.0, description="scdet score counted as a cut "
                                          "(at least 5: scores are measured from there)")
    max_blur: float = Field(default=7.5, gt=0.0, description="blurdetect's mean blur (sharp footage ~5; a 4 px Gaussian ~6.7)")
    min_keyframe_ssim: float = Field(default=0.45, ge=0.0, le=1.0,
                                     description="SSIM of the first frame against its keyframe (image-to-video)")


class AudioLimits(StrictModel):
    """Per scene's dialogue voice."""

    silence_db: float = Field(default=-50.0, le=0.0, description="below this level a stretch counts as silent")
    max_silent_share_of_line: float = Field(default=0.8, ge=0.0, le=1.0,
                                            description="share of a dialogue line's cue that may be silent")
    max_clipped_samples: int = Field(default=0, ge=0, description="samples at full scale")


class EpisodeLimits(StrictModel):
    """Per episode final."""

    loudness_tolerance_lu: float = Field(default=1.0, gt=0.0, description="integrated loudness vs render.loudness_lufs")
    max_true_peak_dbtp: float = Field(default=-1.0, le=0.0)
    av_tolerance_frames: float = Field(default=1.0, ge=0.0, description="|audio - video| duration allowed, in frames")
    max_cps_latin: float = Field(default=20.0, gt=0.0, description="reading speed, characters per second")
    max_cps_cjk: float = Field(default=9.0, gt=0.0, description="reading speed for Chinese/Japanese/Korean text")


class IdentityCheck(StrictModel):
    """Compare the characters in a take with their references, with a face-embedding scorer the user
    provides (`package.module:factory`, called once, returning an object with `similarity(frame, refs)`).
    None configured: the check is reported as skipped. Nothing is ever downloaded."""

    scorer: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    min_similarity: float = Field(default=0.5, ge=-1.0, le=1.0)


class QCConfig(StrictModel):
    name: str = "default"
    enabled: bool = Field(default=True, description="false: no checks; every scene uses its first take")
    retakes: int = Field(default=1, ge=0, le=9, description="takes bought, one at a time, when every take fails")
    on_fail: Literal["flag", "stop"] = Field(default="flag", description="a scene that still fails: flag it, or stop")
    take: TakeLimits = TakeLimits()
    audio: AudioLimits = AudioLimits()
    episode: EpisodeLimits = EpisodeLimits()
    identity: IdentityCheck = IdentityCheck()
