"""The media of a cut: a scene's clip, voice and cues trimmed to a shot, and the episode's mix cut to the
shots in their new order (short fades at each join, so a cut lands without a click)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..media import atomic_output, run_ffmpeg, write_text_atomic

JOIN_FADE_S = 0.01


def cut_video(clip: Path, start: float, end: float, encoding: Any, out: Path) -> None:
    """[start, end) of `clip`, frame-exact, in the episode's one encoding (so the render concatenates it)."""
    from ..video.base import frame_count, x264_args

    frames = frame_count(end - start, encoding.fps)
    with atomic_output(out) as tmp:
        run_ffmpeg(["-ss", f"{start:.6f}", "-i", str(clip), "-frames:v", str(frames), *x264_args(encoding), "-an",
                    "-movflags", "+faststart", str(tmp)])


def _slice(samples: np.ndarray, rate: int, start: float, end: float) -> np.ndarray:
    part = samples[int(round(start * rate)):int(round(end * rate))].astype(np.float32)
    want = int(round((end - start) * rate))
    return np.pad(part, (0, max(0, want - part.size)))[:want]


def cut_wav(wav: Path, start: float, end: float, out: Path) -> None:
    from ..audio.wav import read_wav, write_wav

    samples, rate = read_wav(wav)  # a scene's voice: mono
    write_wav(out, _slice(samples if samples.ndim == 1 else samples[:, 0], rate, start, end), rate)


def cut_cues(cues: Sequence[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    """The scene's cues inside the shot, on the shot's clock: a cue the trim cuts into is clipped to it,
    one it cuts out is gone (the editor took it out); a line that never fitted stays listed as dropped."""
    length = round(end - start, 6)
    kept = []
    for cue in cues:
        if cue.get("dropped"):
            kept.append({**cue, "start": length, "end": length})
            continue
        a, b = max(float(cue["start"]), start), min(float(cue["end"]), end)
        if b - a > 0.04:  # more than a frame of it is left
            kept.append({**cue, "start": round(a - start, 6), "end": round(b - start, 6)})
    return kept


def write_cut_cues(cues_file: Path, start: float, end: float, out: Path) -> None:
    cues = json.loads(Path(cues_file).read_text(encoding="utf-8"))
    write_text_atomic(out, json.dumps(cut_cues(cues, start, end), ensure_ascii=False, indent=1) + "\n")


def cut_mix(mix: Path, segments: Sequence[tuple[float, float]], out: Path) -> None:
    """The episode's mix cut to `segments` (episode-clock seconds) in order, each join faded in and out."""
    from ..audio.wav import read_wav, write_wav

    samples, rate = read_wav(mix)
    fade = int(JOIN_FADE_S * rate)
    parts = []
    for start, end in segments:
        part = _slice(samples, rate, start, end) if samples.ndim == 1 else np.stack(
            [_slice(samples[:, c], rate, start, end) for c in range(samples.shape[1])], axis=1)
        ramp = np.linspace(0.0, 1.0, min(fade, len(part) // 2), dtype=np.float32)
        if ramp.size:
            shape = (-1,) + (1,) * (part.ndim - 1)
            part[: ramp.size] *= ramp.reshape(shape)
            part[-ramp.size:] *= ramp[::-1].reshape(shape)
        parts.append(part)
    write_wav(out, np.concatenate(parts, axis=0), rate)
