"""Animatic clips: a virtual camera moving over the keyframe, following the scene's camera direction.

Frames are computed with sub-pixel crop boxes (PIL's resize with a float box) and piped raw to x264, which
avoids the stair-stepping of FFmpeg's zoompan at slow zoom speeds.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

from PIL import Image

from ..errors import MediaError, ProviderError
from ..media import atomic_output, ffmpeg_exe
from .base import ClipRequest, frame_count, x264_args

# (zoom at start, zoom at end, centre x start/end, centre y start/end), as multiples of `strength`
# for zoom and as fractions of the free margin for the centre (0 = middle, -1/+1 = the edges).
MOVES: dict[str, tuple[float, float, tuple[float, float], tuple[float, float]]] = {
    "close-up": (0.3, 0.8, (0.0, 0.0), (-0.3, -0.3)),
    "medium": (0.2, 0.6, (0.0, 0.0), (0.0, -0.2)),
    "wide": (0.4, 0.25, (-0.4, 0.4), (0.0, 0.0)),
    "pan": (0.8, 0.8, (-1.0, 1.0), (0.0, 0.0)),
    "tilt": (0.8, 0.8, (0.0, 0.0), (1.0, -1.0)),
    "zoom-in": (0.0, 1.4, (0.0, 0.0), (0.0, -0.4)),
    "zoom-out": (1.4, 0.0, (0.0, 0.0), (-0.4, 0.0)),
    "static": (0.0, 0.0, (0.0, 0.0), (0.0, 0.0)),
}


class AnimaticVideo:
    def __init__(self, motion: str = "camera", strength: float = 0.18):
        self.motion = motion
        self.strength = strength

    def generate(self, request: ClipRequest, out_path: Path) -> None:
        if request.camera not in MOVES:
            raise ProviderError(f"no animatic move for camera direction {request.camera!r}; known: {', '.join(MOVES)}")
        enc = request.encoding
        with Image.open(request.keyframe) as image:
            source = image.convert("RGB")
        if source.size != (enc.width, enc.height):
            source = source.resize((enc.width, enc.height), Image.Resampling.LANCZOS)
        frames = frame_count(request.duration, enc.fps)
        move = MOVES[request.camera] if self.motion == "camera" else MOVES["static"]
        with atomic_output(out_path) as tmp:
            cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{enc.width}x{enc.height}", "-r", str(enc.fps), "-i", "-",
                   "-frames:v", str(frames), *x264_args(enc), "-an", "-movflags", "+faststart", str(tmp)]
            process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                previous_box = None
                frame_bytes = b""
                for index in range(frames):
                    box = self._crop_box(move, index / max(1, frames - 1), enc.width, enc.height)
                    if box != previous_box:  # static shots re-send the same bytes instead of re-sampling
                        frame_bytes = source.resize(source.size, Image.Resampling.BILINEAR, box=box).tobytes()
                        previous_box = box
                    process.stdin.write(frame_bytes)
                process.stdin.close()
            except BrokenPipeError:
                pass
            stderr = process.stderr.read().decode("utf-8", "replace")
            if process.wait() != 0:
                raise MediaError(f"x264 encoding of {out_path} failed: {stderr.strip().splitlines()[-1:] or '?'}")

    def _crop_box(self, move, progress: float, width: int, height: int) -> tuple[float, float, float, float]:
        zoom_start, zoom_end, (x0, x1), (y0, y1) = move
        eased = 0.5 - 0.5 * math.cos(math.pi * progress)
        zoom = 1.0 + self.strength * (zoom_start + (zoom_end - zoom_start) * eased)
        box_w, box_h = width / zoom, height / zoom
        margin_x, margin_y = (width - box_w) / 2, (height - box_h) / 2
        centre_x = width / 2 + margin_x * (x0 + (x1 - x0) * eased)
        centre_y = height / 2 + margin_y * (y0 + (y1 - y0) * eased)
        left, top = centre_x - box_w / 2, centre_y - box_h / 2
        return (round(left, 3), round(top, 3), round(left + box_w, 3), round(top + box_h, 3))
