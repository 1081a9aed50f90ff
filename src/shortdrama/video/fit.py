"""Fit a generated clip to its scene: which native frame, or blend of two, each output frame shows.

A video model makes a fixed number of frames at its own rate (Wan 2.1: 81 frames at 16 fps, 5.06 s), while a
scene needs exactly frame_count(duration, fps) frames at the episode's rate. These functions work on frame
indices and blend weights only, so every case is testable without a model:

- the native clip is at least as long as the scene: play it at native speed and drop the end ("trimmed");
- shorter, extend="interpolate": slow it down to fill the scene, blending the two neighbouring native frames
  for each in-between output frame ("interpolated");
- shorter, extend="loop": play it forward then backward at native speed, never showing the turning frame
  twice in a row ("looped").

Native speed at a different output rate (16 -> 24 fps) shows the latest native frame due at each output time;
only "interpolate" blends, because blending at native speed would ghost fast motion without slowing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
from PIL import Image

from ..errors import ConfigError

EXTEND_MODES = ("interpolate", "loop")


@dataclass(frozen=True)
class FrameSource:
    """One output frame: native[lo] * (1 - weight) + native[hi] * weight."""

    lo: int
    hi: int
    weight: float = 0.0


@dataclass(frozen=True)
class FramePlan:
    sources: tuple[FrameSource, ...]
    fit: str  # "trimmed", "interpolated" or "looped"
    detail: str  # one line for the clip report, e.g. "interpolated, slowed x1.6"
    slowdown: float = 1.0  # scene seconds per native second; above 1 only when interpolated


def native_seconds(native_frames: int, native_fps: int) -> float:
    return native_frames / native_fps


def plan_frames(native_frames: int, native_fps: int, out_frames: int, out_fps: int, extend: str) -> FramePlan:
    """The frame plan that turns `native_frames` at `native_fps` into exactly `out_frames` at `out_fps`."""
    if extend not in EXTEND_MODES:
        raise ConfigError(f"video.extend={extend!r} is not one of {', '.join(EXTEND_MODES)}")
    if min(native_frames, native_fps, out_frames, out_fps) < 1:
        raise ConfigError(f"frame counts and rates must be positive: native {native_frames} frames at "
                          f"{native_fps} fps, scene {out_frames} frames at {out_fps} fps")
    # native_frames / native_fps >= out_frames / out_fps, compared in integers so 5.0625 s vs 5.0625 s is exact.
    if native_frames * out_fps >= out_frames * native_fps:
        return trim_plan(native_frames, native_fps, out_frames, out_fps)
    if extend == "interpolate":
        return interpolate_plan(native_frames, native_fps, out_frames, out_fps)
    return ping_pong_plan(native_frames, native_fps, out_frames, out_fps)


def trim_plan(native_frames: int, native_fps: int, out_frames: int, out_fps: int) -> FramePlan:
    """Native speed from the first frame; whatever the scene does not need is dropped at the end."""
    sources = []
    for i in range(out_frames):
        index = min(i * native_fps // out_fps, native_frames - 1)
        sources.append(FrameSource(index, index))
    scene_s, clip_s = out_frames / out_fps, native_seconds(native_frames, native_fps)
    return FramePlan(tuple(sources), "trimmed", f"trimmed {clip_s:.2f} s to {scene_s:.2f} s at native speed")


def interpolate_plan(native_frames: int, native_fps: int, out_frames: int, out_fps: int) -> FramePlan:
    """Slow the clip down by scene seconds / native seconds. Output frame i sits at native position
    i * native_frames / out_frames (the same time mapping whatever the two frame rates are); a fractional
    position blends its two neighbours, and positions past the last frame hold it."""
    sources = []
    blended = 0
    for i in range(out_frames):
        lo, remainder = divmod(i * native_frames, out_frames)
        if lo >= native_frames - 1:
            sources.append(FrameSource(native_frames - 1, native_frames - 1))
        elif remainder == 0:
            sources.append(FrameSource(lo, lo))
        else:
            sources.append(FrameSource(lo, lo + 1, remainder / out_frames))
            blended += 1
    slowdown = (out_frames * native_fps) / (out_fps * native_frames)
    detail = f"interpolated, slowed x{slowdown:.3g} ({blended} of {out_frames} frames blended)"
    return FramePlan(tuple(sources), "interpolated", detail, slowdown)


def ping_pong_index(step: int, native_frames: int) -> int:
    """The native frame shown `step` frames into a forward-backward loop: 0 1 .. n-1 n-2 .. 1 0 1 .."""
    period = 2 * (native_frames - 1)
    if period == 0:
        return 0
    position = step % period
    return position if position < native_frames else period - position


def ping_pong_plan(native_frames: int, native_fps: int, out_frames: int, out_fps: int) -> FramePlan:
    """Forward then backward at native speed, as often as the scene needs."""
    sources = []
    for i in range(out_frames):
        index = ping_pong_index(i * native_fps // out_fps, native_frames)
        sources.append(FrameSource(index, index))
    passes = (out_frames / out_fps) / native_seconds(native_frames, native_fps)
    detail = f"looped forward and back at native speed ({passes:.2f} passes of the clip)"
    return FramePlan(tuple(sources), "looped", detail)


def render_plan(native: np.ndarray, plan: FramePlan) -> Iterator[np.ndarray]:
    """The output frames (uint8, height x width x 3) of `plan` over native frames `native` (n x h x w x 3)."""
    for source in plan.sources:
        if source.weight == 0.0 or source.lo == source.hi:
            yield native[source.lo]
        else:
            # PIL blends uint8 in C: about 3x faster than float32 numpy on 1080x1920 frames.
            lo, hi = Image.fromarray(native[source.lo]), Image.fromarray(native[source.hi])
            yield np.asarray(Image.blend(lo, hi, source.weight))
