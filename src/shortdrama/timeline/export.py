"""An episode's timeline (`episode_NN.otio`) written for an editor, through OpenTimelineIO's maintained
adapters (docs/delivery.md):

    fcp7      FCP 7 XML (.xml): Premiere Pro, DaVinci Resolve (otio-fcp-adapter)
    fcpxml    FCPXML (.fcpxml): Final Cut Pro, Resolve (otio-fcpx-xml-adapter)
    edl       CMX 3600 EDL (.edl): the video track and the mix, markers as LOC comments (otio-cmx3600-adapter)
    kdenlive  a Kdenlive project (.kdenlive, MLT XML; otio-kdenlive-adapter)
    mlt       MLT XML (.mlt): Shotcut, `melt` (otio-mlt-adapter)
    otio      OpenTimelineIO JSON (.otio): Kdenlive 25.04+, Resolve 18.5+, any OTIO tool

The timeline in results/ names its media relative to the series folder (the same bytes in every work
directory); an export names them by absolute file URLs, so the file opens where it is written.
"""

from __future__ import annotations

import contextlib
import io
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ShortDramaError, UsageError

if TYPE_CHECKING:
    import argparse

    import opentimelineio as otio

    from ..workflow import Workflow


@dataclass(frozen=True)
class Format:
    adapter: str  # the OTIO adapter's name
    suffix: str
    opens_in: str


FORMATS = {
    "fcp7": Format("fcp_xml", ".xml", "Premiere Pro, DaVinci Resolve, Final Cut Pro 7"),
    "fcpxml": Format("fcpx_xml", ".fcpxml", "Final Cut Pro, DaVinci Resolve"),
    "edl": Format("cmx_3600", ".edl", "any editor (CMX 3600: one video track, the mix)"),
    "kdenlive": Format("kdenlive", ".kdenlive", "Kdenlive"),
    "mlt": Format("mlt_xml", ".mlt", "Shotcut, melt"),
    "otio": Format("otio_json", ".otio", "Kdenlive 25.04+, DaVinci Resolve 18.5+, OpenTimelineIO tools"),
}


class ExportError(ShortDramaError):
    """A timeline that cannot be read or written in the asked format."""


def read_timeline(path: Path) -> "otio.schema.Timeline":
    import opentimelineio as otio

    try:
        return otio.adapters.read_from_file(str(path), adapter_name="otio_json")
    except (OSError, ValueError, otio.exceptions.OTIOError) as error:
        raise ExportError(f"{path} is not a readable OpenTimelineIO timeline ({error}): build again") from None


def with_absolute_media(timeline: "otio.schema.Timeline", root: Path) -> "otio.schema.Timeline":
    """A copy whose media (and the alternates' files in the shots' metadata) are absolute file URLs."""
    from .build import KEY

    copy = timeline.deepcopy()

    def absolute(url: str) -> str:
        return url if "://" in url else (root / url).resolve().as_uri()

    for clip in copy.find_clips():
        reference = clip.media_reference
        if hasattr(reference, "target_url") and reference.target_url:
            reference.target_url = absolute(reference.target_url)
        data = clip.metadata.get(KEY)
        if data:
            if data.get("take_url"):
                data["take_url"] = absolute(data["take_url"])
            for alternate in data.get("alternates", []):
                alternate["target_url"] = absolute(alternate["target_url"])
    if KEY in copy.metadata:
        copy.metadata[KEY]["media"] = "absolute file URLs"
    return copy


def export_text(timeline: "otio.schema.Timeline", fmt: str) -> str:
    """The timeline (media already absolute) in format `fmt`."""
    import opentimelineio as otio

    from .build import KEY

    chosen = FORMATS[fmt]
    frame = dict(timeline.metadata.get(KEY, {}))  # a plain copy: the timeline may be replaced below
    kwargs = {}
    if fmt in ("mlt", "kdenlive"):  # their adapters ignore a track's `enabled`: the muted stems would double the dialogue
        timeline = timeline.deepcopy()
        for track in [t for t in timeline.tracks if not t.enabled]:
            timeline.tracks.remove(track)
    if fmt == "kdenlive":  # its adapter writes the timeline's markers (as guides) and drops the clips'
        for marker in episode_markers(timeline):
            timeline.tracks.markers.append(marker)
    if fmt == "mlt" and frame:
        w, h = int(frame["width"]), int(frame["height"])
        kwargs = {"width": str(w), "height": str(h), "display_aspect_num": str(w), "display_aspect_den": str(h),
                  "sample_aspect_num": "1", "sample_aspect_den": "1", "progressive": "1",
                  "description": f"{w}x{h} {frame['fps']} fps"}
    try:
        # The Kdenlive adapter prints a deprecation banner on every write (Kdenlive 25.04+ opens .otio
        # natively: `--format otio`); it is not the user's output.
        with contextlib.redirect_stdout(io.StringIO()):
            text = otio.adapters.write_to_string(timeline, chosen.adapter, **kwargs)
    except (otio.exceptions.OTIOError, ValueError, KeyError, TypeError) as error:
        raise ExportError(f"the {fmt} adapter ({chosen.adapter}) cannot write {timeline.name!r}: {error}") from None
    return _kdenlive_fixed(text, frame, timeline.duration().to_frames()) if fmt == "kdenlive" else text


def episode_markers(timeline: "otio.schema.Timeline") -> list["otio.schema.Marker"]:
    """The markers of the video track's shots, moved onto the episode's clock (copies)."""
    import opentimelineio as otio

    markers = []
    for clip in timeline.video_tracks()[0].find_clips():
        shift = clip.range_in_parent().start_time - clip.source_range.start_time
        for marker in clip.markers:
            moved = marker.deepcopy()
            moved.marked_range = otio.opentime.TimeRange(marker.marked_range.start_time + shift,
                                                         marker.marked_range.duration)
            markers.append(moved)
    return markers


def _kdenlive_fixed(text: str, frame: dict, length: int) -> str:
    """Two fixes to otio-kdenlive-adapter 0.0.3's project: its profile is always 1920x1080 16:9 (a 9:16
    episode would open letterboxed), and its black background track has no length (MLT then plays it,
    and so the project, forever: `melt` never ends)."""
    root = ET.fromstring(text)
    profile = root.find("profile")
    if profile is not None and frame:
        w, h = int(frame["width"]), int(frame["height"])
        profile.attrib.update({"width": str(w), "height": str(h), "display_aspect_num": str(w),
                               "display_aspect_den": str(h), "description": f"{w}x{h} {frame['fps']} fps"})
    for producer in root.iter("producer"):
        if producer.get("id") == "black_track":
            producer.attrib.update({"in": "0", "out": str(max(length - 1, 0))})
            ET.SubElement(producer, "property", {"name": "length"}).text = str(length)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def export_episode(source: Path, root: Path, fmt: str, out: Path) -> Path:
    """`source` (an episode's .otio, media relative to `root`) written as `fmt` to `out`."""
    from ..media import write_text_atomic

    if fmt not in FORMATS:
        raise UsageError(f"no export format {fmt!r} (choose from {', '.join(FORMATS)})")
    write_text_atomic(out, export_text(with_absolute_media(read_timeline(source), root), fmt))
    return out


def export_arguments(parser: "argparse.ArgumentParser") -> None:
    """`shortdrama export`'s options (the CLI declares the command)."""
    parser.add_argument("--format", required=True, choices=list(FORMATS),
                        help="; ".join(f"{name}: {f.opens_in}" for name, f in FORMATS.items()))
    parser.add_argument("--episode", type=int, default=None, metavar="N", help="only episode N (default: every one)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="where to write episode_NN.<ext> (default results/<series>/export/<format>/; "
                             "relative: to -d DIR, else here)")


def export_command(wf: "Workflow", fmt: str, episode: int | None, out_dir: Path | None) -> int:
    """`shortdrama export`: the built episodes' timelines (or one) as `fmt`, one path printed per file."""
    episodes = wf.open_episodes  # a property: the episodes built past their script
    if episode is not None:
        if f"{episode:02d}" not in wf.episodes:
            raise UsageError(f"no episode {episode}: the series has {len(wf.episodes)} (series.episodes)")
        episodes = [f"{episode:02d}"]
    root = wf.at(wf.paths.root)
    folder = (out_dir if out_dir is not None else root / "export" / fmt).resolve()
    missing = [ep for ep in episodes if not wf.at(wf.paths.timeline(ep)).is_file()]
    if missing or not episodes:
        named = ", ".join(wf.paths.timeline(ep) for ep in missing) or f"{wf.paths.root}/episode_NN.otio"
        raise UsageError(f"no timeline yet ({named}): run `shortdrama build` with the same overrides first")
    for ep in episodes:
        made = export_episode(wf.at(wf.paths.timeline(ep)), root, fmt, folder / f"episode_{ep}{FORMATS[fmt].suffix}")
        print(made)
    return 0


def summary(timeline: "otio.schema.Timeline") -> dict:
    """What a timeline cuts, for comparing two of them: each video clip's name, media file name and
    source range in frames, and the markers on it (name, start, length in frames)."""
    shots = []
    for clip in timeline.video_tracks()[0].find_clips():
        source = clip.source_range
        url = getattr(clip.media_reference, "target_url", "") or ""
        shots.append({"name": clip.name, "file": url.rsplit("/", 1)[-1],
                      "range": [source.start_time.to_frames(), source.duration.to_frames()],
                      "markers": sorted((m.name, m.marked_range.start_time.to_frames(),
                                         m.marked_range.duration.to_frames()) for m in clip.markers)})
    return json.loads(json.dumps({"shots": shots}))


__all__ = ["FORMATS", "ExportError", "export_command", "export_episode", "export_text", "read_timeline", "summary",
           "with_absolute_media"]
