"""`shortdrama import-edit FILE`: an editor's changes to an episode's timeline read back as edit decisions.

The file is read with OpenTimelineIO's adapters (its own .otio, FCP 7 XML, FCPXML, a CMX 3600 EDL,
Kdenlive: whichever are installed). Its first video track is the cut: each clip a shot, in order, with its
source range as [in, out] of its scene's clip; a scene with no clip there was removed; gaps are skipped.
A clip is known as its scene by the metadata our export wrote (`shortdrama.scene`), else by its name or
its media file (`sc02`, `sc02.mp4`), as editors' tools keep those. Everything is checked against the
episode's script before the decisions file is written: a clip of no known scene, a scene the script does
not have, a shot longer than its take is one line, and nothing is written.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .decisions import EditError, Shot, episode_shots, write_edits

KEY = "shortdrama"
_SCENE = re.compile(r"(?:^|[^a-z0-9])sc(?:ene)?[ _-]?0*(\d{1,2})(?:\D|$)", re.I)
_EPISODE = re.compile(r"(?:episode|ep)[ _-]?0*(\d{1,3})", re.I)


def read_timeline(path: Path) -> Any:
    import opentimelineio as otio

    if not path.is_file():
        raise EditError(f"{path}: no such file")
    try:
        return otio.adapters.read_from_file(str(path))
    except Exception as error:  # noqa: BLE001 - adapters raise their own types; the user needs one line
        raise EditError(f"{path}: not a timeline OpenTimelineIO can read ({type(error).__name__}: "
                        f"{' '.join(str(error).split())[:160]})") from None


def _number(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None  # metadata an editor's tool rewrote: fall back on names


def _scene_of(clip: Any) -> int | None:
    meta = clip.metadata.get(KEY) if hasattr(clip.metadata, "get") else None
    if meta and _number(meta.get("scene")) is not None:
        return _number(meta["scene"])
    target = getattr(getattr(clip, "media_reference", None), "target_url", "") or ""
    for text in (clip.name or "", Path(target).name):
        found = _SCENE.search(text)
        if found:
            return int(found.group(1))
    return None


def _episode_of(timeline: Any, path: Path) -> int | None:
    meta = timeline.metadata.get(KEY) if hasattr(timeline.metadata, "get") else None
    if meta and _number(meta.get("episode")) is not None:
        return _number(meta["episode"])
    for text in (timeline.name or "", path.stem):
        found = _EPISODE.search(text)
        if found:
            return int(found.group(1))
    return None


def cut_of(timeline: Any, path: Path) -> list[dict[str, Any]]:
    """The shots of the timeline's first video track, as written in the decisions file."""
    import opentimelineio as otio

    tracks = list(timeline.video_tracks())
    if not tracks:
        raise EditError(f"{path}: the timeline has no video track")
    shots = []
    for index, item in enumerate(tracks[0], 1):
        if isinstance(item, otio.schema.Gap):
            continue
        if isinstance(item, otio.schema.Transition):
            raise EditError(f"{path}: item {index} is a transition ({item.name or item.transition_type}); "
                            f"shortdrama cuts only: remove it and export again")
        if not isinstance(item, otio.schema.Clip):
            raise EditError(f"{path}: item {index} is a {type(item).__name__}, not a clip")
        scene = _scene_of(item)
        if scene is None:
            raise EditError(f"{path}: clip {index} ({item.name!r}) is no scene of this episode: its name or file "
                            f"does not say which (sc01, sc02...)")
        try:
            used = item.source_range or item.available_range()
        except Exception:  # noqa: BLE001 - OTIO raises its own types for a clip with no range at all
            raise EditError(f"{path}: clip {index} ({item.name!r}) has no source range") from None
        start = used.start_time.to_seconds()
        shots.append({"scene": scene, "in": round(start, 6), "out": round(start + used.duration.to_seconds(), 6)})
    return shots


def import_edit(wf: Any, path: Path, episode: int | None = None) -> tuple[str, list[Shot], Path]:
    """Read `path`, check it against the episode's script, write it into the edit decisions file."""
    from ..stages.audio import scene_durations

    timeline = read_timeline(path)
    named = _episode_of(timeline, path)
    if episode is not None and named is not None and episode != named:
        raise EditError(f"{path} is the timeline of episode {named}, not {episode}: drop --episode, or export "
                        f"episode {episode}'s timeline")
    number = episode or named
    if number is None:
        raise EditError(f"{path}: which episode is this? The timeline does not say: give --episode N")
    ep = f"{number:02d}"
    if ep not in wf.episodes:
        raise EditError(f"{path}: episode {number} is not one of the series' {len(wf.episodes)}")
    script = wf.at(wf.paths.script(ep))
    if not script.is_file():
        raise EditError(f"episode {ep} has no script yet ({wf.paths.script(ep)}): build it first")
    entry = {"shots": cut_of(timeline, path), "from": str(path),
             "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    durations = scene_durations(wf.cfg, wf.script(str(wf.paths.script(ep))))
    shots = episode_shots(Path(path), ep, entry, durations, wf.cfg.render.fps)  # one line if it cannot be applied
    entry["shots"] = [s.to_dict() for s in shots]
    write_edits(wf.edits_file, {ep: entry})
    return ep, shots, wf.edits_file


def describe(ep: str, shots: list[Shot], scene_count: int, durations: list[float]) -> str:
    kept = {s.scene for s in shots}
    parts = []
    for s in shots:
        full = abs(s.start) < 1e-6 and abs(s.end - durations[s.scene - 1]) < 1e-3
        parts.append(f"sc{s.scene:02d}" + ("" if full else f" {s.start:g}-{s.end:g} s"))
    removed = [f"sc{n:02d}" for n in range(1, scene_count + 1) if n not in kept]
    return (f"ep{ep}: {len(shots)} shot(s): {', '.join(parts)}" + (f"; removed {', '.join(removed)}" if removed else "")
            + f"; {sum(s.duration for s in shots):.2f} s")


def import_command(wf: Any, edited: Path, episode: int | None) -> int:
    """`shortdrama import-edit`: import, then say what the cut is and what the next build does."""
    from ..stages.audio import scene_durations

    ep, shots, written = import_edit(wf, edited, episode)
    durations = scene_durations(wf.cfg, wf.script(wf.paths.script(ep)))
    print(describe(ep, shots, len(durations), durations))
    print(f"written to {written}; `shortdrama build` with the same overrides applies it (only ep{ep}'s cut, "
          f"subtitles, render and checks rerun; nothing is bought)")
    return 0
