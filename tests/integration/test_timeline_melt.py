"""Timelines for real: the tiny demo built by the real Snakemake has an OpenTimelineIO timeline per
episode that matches it (its shots, their ranges, its cues); `shortdrama export` (the real CLI) writes
it as a Kdenlive project and as MLT XML, and Debian's `melt` (the MLT engine under Kdenlive and
Shotcut) renders each headless to a file as long as the final, whose frame at each shot's midpoint is
that shot's (closest to the final's frame there, of all the shots' midpoints).

Skipped where no `melt` is installed, except in CI (`SHORTDRAMA_REQUIRE_MELT=1`, .ci/run installs
Debian's `melt` first)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest

from builds import TINY, run_snakemake, tiny_config
from shortdrama.media import probe

MELT = shutil.which("melt")
pytestmark = [pytest.mark.slow, pytest.mark.melt, pytest.mark.skipif(
    MELT is None and os.environ.get("SHORTDRAMA_REQUIRE_MELT") != "1",
    reason="needs Debian's melt (apt-get install melt); .ci/run installs it")]

SERIES = "results/demo"
MORE = ("takes=2", "series.scenes_per_episode.min=3", "series.scenes_per_episode.max=3")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("timeline") / "work"
    run_snakemake(work, *tiny_config(*MORE))
    return work


def frame_at(path: Path, seconds: float) -> np.ndarray:
    """The decoded RGB frame shown at `seconds` (the first frame at or after it), 4x smaller."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= seconds - 1e-6:
                return frame.to_ndarray(format="rgb24")[::4, ::4].astype(np.int16)
    raise AssertionError(f"{path} has no frame at {seconds} s")


def test_the_built_timeline_matches_the_episode(built):
    timeline = otio.adapters.read_from_file(str(built / SERIES / "episode_01.otio"), adapter_name="otio_json")
    script = json.loads((built / SERIES / "ep01/script.json").read_text(encoding="utf-8"))
    shots = list(timeline.video_tracks()[0].find_clips())
    assert [c.name for c in shots] == [f"sc{n:02d}" for n in range(1, len(script["scenes"]) + 1)]
    fps = shots[0].source_range.duration.rate
    final = probe(built / SERIES / "episode_01_final.mp4")
    assert abs(timeline.duration().to_seconds() - final.duration) <= 1 / fps
    for clip in shots:
        path = built / SERIES / clip.media_reference.target_url
        assert path.is_file() and abs(probe(path).duration - clip.source_range.duration.to_seconds()) <= 1 / fps
        assert [a["take"] for a in clip.metadata["shortdrama"]["alternates"]] == [
            t for t in (1, 2) if t != clip.metadata["shortdrama"]["take"]]
    cues = [m.name for c in shots for m in c.markers if m.metadata["shortdrama"]["kind"] == "subtitle"]
    spoken = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((built / SERIES / "ep01/audio").glob("sc*.cues.json"))]
    assert cues == [cue["text"] for scene in spoken for cue in scene if not cue.get("dropped")] and cues


@pytest.mark.parametrize("fmt", ["kdenlive", "mlt"])
def test_melt_renders_the_export_with_the_episodes_length_and_shots_in_order(built, tmp_path, fmt):
    assert MELT, "SHORTDRAMA_REQUIRE_MELT=1 but no melt on PATH"
    cli = Path(sys.executable).with_name("shortdrama")
    exported = subprocess.run([str(cli), "export", "-d", str(built), "--format", fmt, "--out", str(tmp_path),
                               *TINY, *MORE], capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    (project,) = [Path(line) for line in exported.stdout.split()]
    assert project == tmp_path / f"episode_01.{fmt}" and project.is_file()
    assert "deprecated" not in exported.stdout, "the adapter's banner is not the command's output"

    rendered = tmp_path / f"melt_{fmt}.mp4"
    proc = subprocess.run([MELT, "-quiet", str(project), "-consumer", f"avformat:{rendered}", "vcodec=libx264",
                           "acodec=aac", "preset=ultrafast"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and rendered.is_file(), proc.stderr[-2000:]

    final_path = built / SERIES / "episode_01_final.mp4"
    final, made = probe(final_path), probe(rendered)
    timeline = otio.adapters.read_from_file(str(built / SERIES / "episode_01.otio"), adapter_name="otio_json")
    fps = timeline.duration().rate
    video = next(s for s in made.streams if s.kind == "video")
    assert abs(video.duration - final.duration) <= 1 / fps, (video.duration, final.duration)
    final_video = next(s for s in final.streams if s.kind == "video")
    assert (video.width, video.height) == (final_video.width, final_video.height), "the episode's frame"

    shots = list(timeline.video_tracks()[0].find_clips())
    midpoints = [c.range_in_parent().start_time.to_seconds() + c.source_range.duration.to_seconds() / 2 for c in shots]
    ours = [frame_at(rendered, t) for t in midpoints]
    theirs = [frame_at(final_path, t) for t in midpoints]
    for i, frame in enumerate(ours):
        distance = [float(np.abs(frame - other).mean()) for other in theirs]
        assert int(np.argmin(distance)) == i, f"shot {i + 1} at {midpoints[i]:.2f} s: distances {distance}"
        assert distance[i] < 12, f"shot {i + 1} is the final's (burned-in subtitles aside): {distance}"
