"""Bring a clip from a hosted model to the episode's one encoding: size (letterboxed to 9:16), frame
rate, exact duration, x264 settings. Hosted APIs answer at their own resolution and length; the
episode concatenates only clips encoded alike."""

from __future__ import annotations

from pathlib import Path

from ..media import atomic_output, run_ffmpeg
from .base import Encoding, frame_count, x264_args


# A clip's own sound (video.own_audio), kept beside its picture: mono 48 kHz AAC, padded or cut to the
# clip's exact length so the scene's dialogue track taken from it lines up with every other scene's.
CLIP_AUDIO_RATE = 48000


def conform_clip(source: Path, out_path: Path, encoding: Encoding, duration: float, keep_audio: bool = False) -> None:
    w, h, fps = encoding.width, encoding.height, encoding.fps
    frames = frame_count(duration, fps)
    video_filter = (f"scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,"
                    f"setsar=1,fps={fps},tpad=stop_mode=clone:stop_duration={duration:.3f}")
    audio = ["-an"]
    if keep_audio:
        seconds = frames / fps
        audio = ["-map", "0:v:0", "-map", "0:a:0", "-af", f"aresample={CLIP_AUDIO_RATE},apad,atrim=0:{seconds:.6f}",
                 "-c:a", "aac", "-b:a", "128k", "-ac", "1"]
    with atomic_output(out_path) as tmp:
        run_ffmpeg(["-i", str(source), "-vf", video_filter, "-frames:v", str(frames), *x264_args(encoding),
                    *audio, "-movflags", "+faststart", str(tmp)])
