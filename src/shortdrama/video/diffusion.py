"""Local image-to-video clips: a scene's keyframe animated by Wan through diffusers, fitted to the scene.

One generation makes `num_frames` at the model's `native_fps`; fit.py maps them onto exactly
frame_count(duration, encoding.fps) frames (trimmed, slowed down with blended in-betweens, or looped), and
encode.py writes them with the encoding every clip shares, so the episode still concatenates by stream copy.

Supported pipelines (wan_model.PIPELINES): "wan_i2v" = Wan 2.1 I2V 14B (480P or 720P), "wan22_ti2v" = Wan 2.2
TI2V 5B, "wan22_i2v" = Wan 2.2 I2V A14B, all in diffusers format and all run by WanImageToVideoPipeline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import ConfigError, MediaError, ProviderError
from .base import Encoding, frame_count
from .encode import encode_rgb_frames
from .fit import EXTEND_MODES, native_seconds, plan_frames, render_plan
from .wan_model import layout_for, load_wan_pipeline, pick_device, size_multiple

__all__ = ["EXTEND_MODES", "LocalClipReport", "LocalVideoSettings", "generate_local_clip"]

# Wan's VAE compresses time 4:1 with the first frame on its own, so a clip is 4k+1 frames long.
TEMPORAL_STRIDE = 4
# The smallest size stride of any supported model; the loaded model may need more (size_multiple).
MIN_SIZE_MULTIPLE = 16

DEFAULT_NEGATIVE = ("static, frozen frame, blurry, low quality, worst quality, jpeg artifacts, distorted face, "
                    "deformed hands, extra fingers, extra limbs, watermark, subtitles, text")


@dataclass(frozen=True)
class LocalVideoSettings:
    model_dir: Path
    pipeline: str = "wan_i2v"  # one of wan_model.PIPELINES: wan_i2v, wan22_ti2v, wan22_i2v
    steps: int = 30
    guidance: float = 5.0
    gen_width: int = 480
    gen_height: int = 832
    num_frames: int = 81
    native_fps: int = 16
    extend: str = "interpolate"  # one of EXTEND_MODES: how a scene longer than the native clip is filled
    negative_prompt: str = DEFAULT_NEGATIVE
    cpu_offload: bool = False  # CUDA only: keep one component on the GPU at a time (slower, fits 24 GB)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_dir", Path(self.model_dir))
        layout_for(self.pipeline)
        if self.extend not in EXTEND_MODES:
            raise ConfigError(f"video.extend={self.extend!r} is not one of {', '.join(EXTEND_MODES)}")
        if self.num_frames < 1 or (self.num_frames - 1) % TEMPORAL_STRIDE:
            below = max(1, (self.num_frames - 1) // TEMPORAL_STRIDE * TEMPORAL_STRIDE + 1)
            raise ConfigError(f"video.num_frames={self.num_frames}: Wan makes 4k+1 frames (..., 77, 81, 85, ...); "
                              f"use {below} or {below + TEMPORAL_STRIDE}")
        for name in ("gen_width", "gen_height"):
            value = getattr(self, name)
            if value < MIN_SIZE_MULTIPLE or value % MIN_SIZE_MULTIPLE:
                raise ConfigError(f"video.{name}={value} must be a positive multiple of {MIN_SIZE_MULTIPLE}")
        if self.steps < 1 or self.native_fps < 1:
            raise ConfigError(f"video.steps={self.steps} and video.native_fps={self.native_fps} must be at least 1")


@dataclass(frozen=True)
class LocalClipReport:
    pipeline: str
    device: str
    native_frames: int
    native_fps: int
    native_seconds: float
    frames: int  # in the written clip: frame_count(duration, encoding.fps)
    fps: int
    seconds: float  # of the written clip
    fit: str  # "trimmed", "interpolated" or "looped"
    detail: str  # e.g. "interpolated, slowed x1.58 (120 of 192 frames blended)"
    slowdown: float  # scene seconds per native second when interpolated, else 1.0
    load_s: float
    generate_s: float
    total_s: float

    def summary(self) -> str:
        return (f"{self.pipeline} on {self.device}: {self.native_frames} frames at {self.native_fps} fps "
                f"({self.native_seconds:.2f} s) -> {self.frames} frames at {self.fps} fps ({self.seconds:.2f} s), "
                f"{self.detail}; load {self.load_s:.1f} s, generate {self.generate_s:.1f} s, "
                f"total {self.total_s:.1f} s")


def cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover width x height and crop the centre: no bars, no distortion."""
    if image.size == (width, height):
        return image
    return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)


def to_uint8_frames(video: np.ndarray) -> np.ndarray:
    """The pipeline's float frames in [0, 1] (n x h x w x 3) as uint8."""
    return np.clip(np.rint(np.asarray(video, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def generate_local_clip(settings: LocalVideoSettings, keyframe: Path, prompt: str, seed: int, duration: float,
                        encoding: Encoding, out_path: Path, device: str | None = None) -> LocalClipReport:
    """Animate `keyframe` with a local Wan model and write exactly frame_count(duration, encoding.fps) frames
    at encoding.width x encoding.height to `out_path`. `device`: None picks CUDA when present, else the CPU."""
    import torch

    started = time.perf_counter()
    if duration <= 0:
        raise ConfigError(f"scene duration must be positive, got {duration}")
    try:
        with Image.open(keyframe) as opened:
            source = opened.convert("RGB")
    except OSError as exc:
        raise MediaError(f"cannot read keyframe {keyframe}: {exc}") from exc
    # Planned before loading: a bad fit fails in milliseconds, not after minutes of model loading.
    plan = plan_frames(settings.num_frames, settings.native_fps, frame_count(duration, encoding.fps), encoding.fps,
                       settings.extend)
    device = pick_device(device)
    pipe = load_wan_pipeline(settings.model_dir, settings.pipeline, device, settings.cpu_offload)
    multiple = size_multiple(pipe)
    if settings.gen_width % multiple or settings.gen_height % multiple:
        raise ConfigError(f"video.gen_width x gen_height = {settings.gen_width} x {settings.gen_height}: "
                          f"{settings.pipeline} needs multiples of {multiple}")
    loaded = time.perf_counter()

    # A CPU generator draws the same noise on any device, so a seed means one clip on CPU and GPU alike.
    generator = torch.Generator("cpu").manual_seed(seed)
    try:
        output = pipe(
            image=cover(source, settings.gen_width, settings.gen_height),
            prompt=prompt,
            negative_prompt=settings.negative_prompt or None,
            height=settings.gen_height,
            width=settings.gen_width,
            num_frames=settings.num_frames,
            num_inference_steps=settings.steps,
            guidance_scale=settings.guidance,
            generator=generator,
            output_type="np",
        )
    except torch.OutOfMemoryError as exc:
        raise ProviderError(f"{settings.pipeline} ran out of memory on {device} at {settings.gen_width}x"
                            f"{settings.gen_height}, {settings.num_frames} frames: use cpu_offload=True, "
                            f"fewer frames or a smaller size") from exc
    except RuntimeError as exc:
        raise ProviderError(f"{settings.pipeline} failed on {device}: {exc}") from exc
    native = to_uint8_frames(output.frames[0])
    generated = time.perf_counter()
    if native.ndim != 4 or len(native) != settings.num_frames:
        raise ProviderError(f"{settings.pipeline} returned frames of shape {native.shape}, "
                            f"expected {settings.num_frames} frames")

    # Scaled once per native frame; the plan then only picks and blends frames of the final size.
    scaled = np.stack([np.asarray(cover(Image.fromarray(f), encoding.width, encoding.height)) for f in native])
    encode_rgb_frames(render_plan(scaled, plan), len(plan.sources), encoding, out_path)
    return LocalClipReport(
        pipeline=settings.pipeline, device=device, native_frames=len(native), native_fps=settings.native_fps,
        native_seconds=round(native_seconds(len(native), settings.native_fps), 4), frames=len(plan.sources),
        fps=encoding.fps, seconds=round(len(plan.sources) / encoding.fps, 4), fit=plan.fit, detail=plan.detail,
        slowdown=round(plan.slowdown, 4), load_s=round(loaded - started, 3), generate_s=round(generated - loaded, 3),
        total_s=round(time.perf_counter() - started, 3),
    )
