"""Measurements, made once per file and kept by content: the take's (or voice's) bytes, the keyframe's
and the analysis settings name the entry. Changing a QC limit, or a person's pick, then re-judges
without running FFmpeg again; a take bought again with the same bytes is not measured twice.

The analysis settings are fixed here, not taken from the limits: scdet's scores are kept down to
MEASURE_CUTS_FROM, so any `scene_change_threshold` above it is judged from the same measurement.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from ..cost.cache import file_digest
from ..media import write_text_atomic

log = logging.getLogger(__name__)
VERSION = 2  # bump when the analysis changes what it reports for the same file
MEASURE_CUTS_FROM = 5.0
VIDEO_SETTINGS = {"analysis_width": 240, "freeze_noise_db": -50.0, "freeze_min_s": 0.5, "black_pixel_threshold": 0.10,
                  "black_picture_ratio": 0.98, "scene_change_threshold": MEASURE_CUTS_FROM}


def _key(kind: str, *files: Path | None, settings: dict[str, Any] | None = None) -> str:
    import hashlib

    parts = {"kind": kind, "version": VERSION, "settings": settings or {},
             "files": [file_digest(f) if f is not None else None for f in files]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _cached(cache_dir: Path | None, key: str, measure: Any) -> dict[str, Any]:
    path = cache_dir / "qc" / f"{key}.json" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as problem:
            log.warning("ignoring an unreadable measurement %s: %s", path, problem)
    values = as_data(measure())
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(values, sort_keys=True) + "\n")
    return values


def as_data(result: Any) -> dict[str, Any]:
    """A measurement dataclass as JSON-ready data (tuples become lists), with its derived figures."""
    data = dataclasses.asdict(result) if dataclasses.is_dataclass(result) else dict(result)
    return json.loads(json.dumps(data, default=float))


def measure_take(take: Path, keyframe: Path | None, cache_dir: Path | None) -> dict[str, Any]:
    """Everything the take checks judge (take_checks.judge_take): format, black, freeze, cuts, blur and
    the first frame against the keyframe, from one FFmpeg run."""
    from .analysis import analyse_video

    key = _key("take", take, keyframe, settings=VIDEO_SETTINGS)
    return _cached(cache_dir, key, lambda: analyse_video(take, keyframe=keyframe, **VIDEO_SETTINGS))


def measure_audio(path: Path, cache_dir: Path | None, loudness: bool = True) -> dict[str, Any]:
    """Silences and clipped samples of a voice WAV or a final's audio, with (`loudness`) its integrated
    loudness and true and sample peaks."""
    from .audio_analysis import analyse_audio

    return _cached(cache_dir, _key("audio", path, settings={"loudness": loudness}),
                   lambda: analyse_audio(path, loudness=loudness))
