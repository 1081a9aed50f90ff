"""An episode as an OpenTimelineIO timeline, made from the files its final is made from.

- video track `V1`: one clip per scene, the file the render reads (the chosen take's copy, or its
  lip-synced version), its source range the scene's length in whole frames at the episode's rate;
- audio track `A1 mix`: the episode mix (dialogue over the ducked music bed: what the final plays);
  `A2 dialogue`: each scene's dialogue stem, and `A3 music`: the ducked music bed at the mix's gain,
  both disabled (the mix carries them; unmute them and mute the mix to rebalance);
- markers on each shot, in the shot's own time so they travel with it when an editor moves it:
  the subtitle cues (yellow), the QC flags (red), the review notes of the decisions file (green);
- each shot's metadata (`metadata["shortdrama"]`): the chosen take and why, and every other take as
  an alternate (its file, score, flags, the note it was asked with), for an editor to swap in.

Media are named by URLs relative to the series folder (`ep01/clips/sc01.mp4`), so the file in
results/ is the same bytes wherever the work directory is; `timeline.export` makes them absolute.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import opentimelineio as otio

from ..media import probe
from ..qc.episode import offsets  # where each scene starts in the episode

KEY = "shortdrama"  # the metadata namespace of this package in the timeline, its tracks, clips and markers
SUBTITLE, QC, NOTE = "subtitle", "qc", "note"
COLOURS = {SUBTITLE: otio.schema.MarkerColor.YELLOW, QC: otio.schema.MarkerColor.RED,
           NOTE: otio.schema.MarkerColor.GREEN}


@dataclass(frozen=True)
class Shot:
    """The files of one scene that the timeline names or reads."""

    video: Path  # what the render reads: the chosen clip, or its lip-synced version
    selection: Path  # clips/scSS.selection.json: which take, why, every take's checks
    dialogue: Path  # audio/scSS.wav
    cues: Path  # audio/scSS.cues.json


@dataclass(frozen=True)
class Cut:
    """What the timeline is made to: the episode's numbers, its scenes' lengths and the review notes."""

    episode: int
    title: str
    fps: int
    width: int
    height: int
    durations: Sequence[float]  # each scene's length in seconds, on whole frames
    notes: Mapping[str, Sequence[str]] = field(default_factory=dict)  # "sc01" -> review notes
    # An editor's cut (shortdrama.cut): each shot's scene and its in-point in the scene's clip; empty:
    # the scenes in order, whole.
    scenes: Sequence[int] = ()
    starts: Sequence[float] = ()


def frames(seconds: float, fps: int) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(round(seconds * fps), fps)


def span(start: float, duration: float, fps: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(frames(start, fps), frames(duration, fps))


def build_timeline(cut: Cut, shots: Sequence[Shot], mix: Path, qc_report: Path, root: Path,
                   music_stem: Path | None = None) -> otio.schema.Timeline:
    """The episode's timeline; media URLs relative to `root`, the series folder. `music_stem`: the mix's
    music stem (track `A3 music`, off: the mix carries it)."""
    if len(shots) != len(cut.durations):
        raise ValueError(f"{len(shots)} shots for {len(cut.durations)} scene durations")
    fps = cut.fps
    timeline = otio.schema.Timeline(name=f"Episode {cut.episode:02d}: {cut.title}",
                                    global_start_time=otio.opentime.RationalTime(0, fps))
    timeline.metadata[KEY] = {"episode": cut.episode, "title": cut.title, "fps": fps, "width": cut.width,
                              "height": cut.height, "media": "target_url relative to the series folder"}
    scenes = list(cut.scenes) or list(range(1, len(shots) + 1))
    starts = list(cut.starts) or [0.0] * len(shots)
    flags = _flags_by_scene(json.loads(qc_report.read_text(encoding="utf-8")), cut.durations, scenes)
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    dialogue = otio.schema.Track(name="A2 dialogue", kind=otio.schema.TrackKind.Audio)
    dialogue.enabled = False  # the mix carries the dialogue already
    dialogue.metadata[KEY] = {"role": "dialogue stems (the mix carries them: unmute to rebalance)"}
    for number, (shot, duration, scene, start) in enumerate(zip(shots, cut.durations, scenes, starts), 1):
        sc = f"sc{scene:02d}"
        clip = _clip(sc, shot.video, duration, fps, root, start)
        clip.metadata[KEY] = _shot_metadata(cut.episode, scene, shot, root)
        # Markers are in the clip's media time: a trimmed shot's start at its in-point.
        for marker in (_cue_markers(shot.cues, duration, fps, start)
                       + _flag_markers(flags.get(number, []), duration, fps, start)
                       + _note_markers(cut.notes.get(sc, ()), fps, start)):
            clip.markers.append(marker)
        video.append(clip)
        dialogue.append(_clip(f"{sc} dialogue", shot.dialogue, duration, fps, root, start))
    music = otio.schema.Track(name="A1 mix", kind=otio.schema.TrackKind.Audio)
    music.metadata[KEY] = {"role": "the episode mix: dialogue over the ducked music bed, as the final plays it"}
    music.append(_clip("episode mix", mix, sum(cut.durations), fps, root))
    timeline.tracks.extend([video, music, dialogue])
    if music_stem is not None:
        stem = otio.schema.Track(name="A3 music", kind=otio.schema.TrackKind.Audio)
        stem.enabled = False  # the mix carries the music already
        stem.metadata[KEY] = {"role": "the ducked music bed at the mix's gain (unmute it, and the dialogue, "
                                      "and mute the mix, to rebalance)"}
        stem.append(_clip("music", music_stem, sum(cut.durations), fps, root))
        timeline.tracks.append(stem)
    return timeline


def _url(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def _clip(name: str, path: Path, duration: float, fps: int, root: Path, start: float = 0.0) -> otio.schema.Clip:
    available = otio.opentime.TimeRange(frames(0, fps), frames(probe(path).duration, fps))
    reference = otio.schema.ExternalReference(target_url=_url(path, root), available_range=available)
    return otio.schema.Clip(name=name, media_reference=reference, source_range=span(start, duration, fps))


def _shot_metadata(episode: int, scene: int, shot: Shot, root: Path) -> dict[str, Any]:
    """The chosen take and why, and the other takes as alternates (same length, same source range)."""
    chosen = json.loads(shot.selection.read_text(encoding="utf-8"))
    folder = shot.selection.with_name(shot.selection.name.split(".")[0])  # clips/sc01.selection.json -> clips/sc01
    takes = [{"take": t["take"], "target_url": _url(folder / t["file"], root), "passed": t.get("passed"),
              "score": t.get("score"), "retake": t.get("retake", False),
              "flags": [f.get("message", f.get("check", "")) for f in t.get("flags", [])],
              **({"note": t["note"]} if t.get("note") else {})}
             for t in chosen.get("takes", [])]
    picked = next((t for t in takes if t["take"] == chosen.get("chosen")), None)
    return {"episode": episode, "scene": scene, "take": chosen.get("chosen"), "by": chosen.get("by"),
            "reason": chosen.get("reason", ""), "flagged": bool(chosen.get("flagged")),
            "take_url": picked["target_url"] if picked else None,
            "lip_synced": shot.video.parent.name == "lipsync",
            "alternates": [t for t in takes if t is not picked]}


def _marker(kind: str, name: str, start: float, duration: float, fps: int, **data: Any) -> otio.schema.Marker:
    marker = otio.schema.Marker(name=name, marked_range=span(start, duration, fps), color=COLOURS[kind])
    marker.metadata[KEY] = {"kind": kind, **data}
    return marker


def _cue_markers(cues: Path, duration: float, fps: int, offset: float = 0.0) -> list[otio.schema.Marker]:
    """The scene's subtitle cues as the episode's subtitles show them (a dropped line shows none), those
    inside the shot's [offset, offset + duration) of the scene."""
    markers = []
    for cue in json.loads(cues.read_text(encoding="utf-8")):
        start, end = max(float(cue["start"]), offset), min(float(cue["end"]), offset + duration)
        if cue.get("dropped") or end <= start:
            continue
        markers.append(_marker(SUBTITLE, cue["text"], start, end - start, fps, speaker=cue.get("speaker", "")))
    return markers


def _flags_by_scene(report: Mapping[str, Any], durations: Sequence[float],
                    scenes: Sequence[int] | None = None) -> dict[int, list[tuple[float, dict]]]:
    """The report's flags (on the episode's clock) by shot position, each with where it is in its shot;
    a flag naming its scene goes to that scene's shot (`scenes`: each shot's scene, in order)."""
    starts = offsets(durations)
    order = list(scenes or range(1, len(durations) + 1))
    placed: dict[int, list[tuple[float, dict]]] = {}
    for flag in report.get("flags", []):
        at = flag.get("at")
        if flag.get("scene") and int(flag["scene"]) in order:
            scene = order.index(int(flag["scene"])) + 1
        elif flag.get("scene") and scenes:
            continue  # a scene the editor removed
        elif flag.get("scene"):
            scene = int(flag["scene"])
        else:  # an episode check: the scene it falls in (the last one for the very end)
            scene = max((n for n, start in enumerate(starts, 1) if (at or 0.0) >= start - 1e-9), default=1)
        scene = min(max(scene, 1), len(durations))
        local = 0.0 if at is None else min(max(float(at) - starts[scene - 1], 0.0), durations[scene - 1])
        placed.setdefault(scene, []).append((local, flag))
    return placed


def _flag_markers(flags: Sequence[tuple[float, dict]], duration: float, fps: int,
                  offset: float = 0.0) -> list[otio.schema.Marker]:
    return [_marker(QC, f"QC {flag.get('check', '?')}: {flag.get('message', '')}", offset + min(at, duration), 0, fps,
                    check=flag.get("check"), severity=flag.get("severity"), value=_plain(flag.get("value")),
                    limit=_plain(flag.get("limit")))
            for at, flag in flags]


def _plain(value: Any) -> Any:
    """A measured value as OTIO's JSON can hold it (no infinities)."""
    return value if not isinstance(value, float) or math.isfinite(value) else str(value)


def _note_markers(notes: Sequence[str], fps: int, offset: float = 0.0) -> list[otio.schema.Marker]:
    return [_marker(NOTE, f"review: {note}", offset, 0, fps) for note in notes]


def timeline_json(timeline: otio.schema.Timeline) -> str:
    return otio.adapters.write_to_string(timeline, "otio_json")


__all__ = ["Cut", "KEY", "Shot", "build_timeline", "offsets", "timeline_json"]
