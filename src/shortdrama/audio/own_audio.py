"""A scene's dialogue track from its clip's own sound (video.own_audio: a model that speaks the lines itself).

The track is the clip's audio, resampled to the mix's rate and cut or padded to the scene's frames, so it
lines up with every other scene. Its cues cannot come from a voice we drove: they are laid over the speech
the track holds. Voice activity (20 ms frames, louder than both -45 dBFS and a tenth of the loudest frame,
pauses under 0.25 s bridged) gives the spoken span; the script's lines share it in proportion to their
length, each boundary moved to the nearest pause within 0.4 s. A scene whose clip is silent gets its lines
as dropped cues, which the episode's QC flags like any line that was never heard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

FRAME_S = 0.02
BRIDGE_S = 0.25
SNAP_S = 0.4


def clip_track(clip: Path, duration: float, sample_rate: int = 48000) -> np.ndarray:
    """The clip's sound as float mono at `sample_rate`, exactly `duration` seconds long."""
    from ..errors import MediaError
    from .wav import decode_audio, resample

    try:
        samples, rate = decode_audio(clip)
    except MediaError as error:
        raise MediaError(f"{Path(clip).name}: the clip carries no sound to use as dialogue ({error}); "
                         f"build it again with a model that makes sound, or set video.own_audio=false") from None
    samples = resample(samples, rate, sample_rate)
    total = int(round(duration * sample_rate))
    out = np.zeros(total, dtype=np.float32)
    out[: min(total, samples.size)] = samples[:total]
    return out


def voiced_spans(samples: np.ndarray, sample_rate: int) -> list[tuple[float, float]]:
    """Where the track speaks, as (start, end) seconds."""
    hop = max(1, int(FRAME_S * sample_rate))
    frames = samples[: samples.size // hop * hop].reshape(-1, hop) if samples.size >= hop else np.zeros((0, hop))
    if not len(frames):
        return []
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    threshold = max(10 ** (-45 / 20), 0.1 * float(rms.max()))
    voiced = rms > threshold
    spans: list[list[float]] = []
    for index in np.flatnonzero(voiced):
        start, end = index * FRAME_S, (index + 1) * FRAME_S
        if spans and start - spans[-1][1] <= BRIDGE_S:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [(round(a, 3), round(b, 3)) for a, b in spans]


def lay_cues(lines: Sequence[dict[str, Any]], spans: Sequence[tuple[float, float]], duration: float) -> list[dict[str, Any]]:
    """One cue per line over the spoken spans, in order, each as long as its share of the text; lines with
    nothing to say aloud get none; with no speech at all, every line is dropped (start == end == the end)."""
    spoken = [line for line in lines if any(ch.isalnum() for ch in line["text"])]
    if not spoken:
        return []
    if not spans:
        return [{"speaker": line["speaker"], "text": line["text"], "start": duration, "end": duration, "dropped": True}
                for line in spoken]
    first, last = spans[0][0], spans[-1][1]
    pauses = [(a[1] + b[0]) / 2 for a, b in zip(spans, spans[1:])]
    weights = np.array([max(1, len(line["text"])) for line in spoken], dtype=float)
    bounds = [first + (last - first) * float(c) for c in np.cumsum(weights)[:-1] / weights.sum()]
    snapped = []
    for bound in bounds:
        near = min(pauses, key=lambda p: abs(p - bound), default=None)
        snapped.append(near if near is not None and abs(near - bound) <= SNAP_S else bound)
    edges = [first, *sorted(snapped), last]
    return [{"speaker": line["speaker"], "text": line["text"], "start": round(edges[i], 3),
             "end": round(max(edges[i + 1], edges[i] + FRAME_S), 3)} for i, line in enumerate(spoken)]
