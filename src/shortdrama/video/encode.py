"""Raw RGB frames -> one H.264 clip with the episode's shared encoding (the same FFmpeg call as the animatic)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import MediaError
from ..media import atomic_output, ffmpeg_exe
from .base import Encoding, x264_args


def encode_rgb_frames(frames: Iterable[np.ndarray], frame_total: int, encoding: Encoding, out_path: Path) -> None:
    """Pipe `frame_total` uint8 frames (encoding.height x encoding.width x 3) to x264 and write `out_path`
    atomically, so the clip concatenates with every other clip by stream copy."""
    size = f"{encoding.width}x{encoding.height}"
    with atomic_output(out_path) as tmp:
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-r", str(encoding.fps), "-i", "-",
               "-frames:v", str(frame_total), *x264_args(encoding), "-an", "-movflags", "+faststart", str(tmp)]
        with subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as process:
            try:
                for frame in frames:
                    if frame.shape != (encoding.height, encoding.width, 3) or frame.dtype != np.uint8:
                        raise MediaError(f"frame of shape {frame.shape} {frame.dtype} does not match the {size} "
                                         f"uint8 RGB encoding of {out_path}")
                    process.stdin.write(frame.tobytes())
                process.stdin.close()
            except BrokenPipeError:
                pass  # FFmpeg stopped reading: its exit status and stderr below say why
            except BaseException:
                process.kill()
                raise
            stderr = process.stderr.read().decode("utf-8", "replace")
            if process.wait() != 0:
                raise MediaError(f"x264 encoding of {out_path} failed: {stderr.strip().splitlines()[-1:] or '?'}")
