"""An editor's trim and reorder come back through the real build: the episode's timeline, edited, is
imported (`shortdrama import-edit`), and the next build changes exactly that episode's render: its shots
in the new order and lengths, its subtitles on the new clock, the other episode untouched, nothing paid."""

import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest

from builds import TINY, jobs_run
from shortdrama.media import probe, read_subtitles

pytestmark = pytest.mark.slow

CLI = str(Path(sys.executable).with_name("shortdrama"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *args], capture_output=True, text=True)




def frame(path: Path, at: float) -> np.ndarray:
    with av.open(str(path)) as container:
        picture = next(f for f in container.decode(video=0) if f.time >= at).to_ndarray(format="rgb24")
    return picture[: picture.shape[0] // 2].astype(np.int16)  # the upper half: no burned captions there


def test_a_trimmed_and_reordered_timeline_changes_exactly_that_episodes_render(tmp_path, monkeypatch):
    monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "work"
    overrides = [*TINY, "series.episodes=2", f"review.decisions={tmp_path / 'review' / 'demo.yaml'}"]
    built = run("build", "-d", str(work), "--cores", "2", *overrides)
    assert built.returncode == 0, built.stderr[-3000:]
    results = work / "results/demo"
    script = json.loads((results / "ep01/script.json").read_text())
    durations = [s["duration"] for s in script["scenes"]]
    before = {ep: (results / f"episode_{ep}_final.mp4").read_bytes() for ep in ("01", "02")}
    cues_before = {text: (start, end) for start, end, text in read_subtitles(results / "episode_01_final.mp4")}

    # The editor's change: scene 2 first, then scene 1 trimmed to [0.5, 2.0].
    timeline = otio.adapters.read_from_file(str(results / "episode_01.otio"))
    video = timeline.video_tracks()[0]
    first, second = video[0], video[1]
    fps = first.source_range.duration.rate
    first.source_range = otio.opentime.TimeRange(otio.opentime.RationalTime(0.5 * fps, fps),
                                                 otio.opentime.RationalTime(1.5 * fps, fps))
    del video[:]
    video.extend([second, first])
    edited = tmp_path / "ep01_editor.otio"
    otio.adapters.write_to_file(timeline, str(edited))

    wrong = tmp_path / "wrong.otio"
    bad = otio.adapters.read_from_file(str(edited))
    bad.video_tracks()[0][0].source_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime((durations[1] + 2) * fps, fps))
    otio.adapters.write_to_file(bad, str(wrong))
    refused = run("import-edit", "-d", str(work), str(wrong), *overrides)
    assert refused.returncode != 0 and "beyond its take" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "review" / "demo.edits.yaml").exists(), "nothing written for an edit that cannot apply"

    imported = run("import-edit", "-d", str(work), str(edited), *overrides)
    assert imported.returncode == 0, imported.stderr
    assert "ep01: 2 shot(s): sc02, sc01 0.5-2 s" in imported.stdout
    again = run("build", "-d", str(work), "--cores", "2", *overrides)
    assert again.returncode == 0, again.stderr[-3000:]
    ran = jobs_run(again)
    assert ran["cut_shot"] == 2 and ran["cut_mix"] == 1 and ran["render_episode"] == 1 and ran["write_subtitles"] == 1
    assert not {"generate_clip", "generate_keyframe", "speak_dialogue", "mix_episode_audio"} & set(ran), \
        "nothing upstream of the render reruns"
    assert "spent $0.00" in again.stdout
    assert (results / "episode_02_final.mp4").read_bytes() == before["02"], "the other episode is untouched"

    final = results / "episode_01_final.mp4"
    assert final.read_bytes() != before["01"]
    assert probe(final).duration == pytest.approx(durations[1] + 1.5, abs=0.1)
    source = [results / "ep01/clips/sc01.mp4", results / "ep01/clips/sc02.mp4"]
    assert np.abs(frame(final, durations[1] / 2) - frame(source[1], durations[1] / 2)).mean() < 12, "scene 2 first"
    assert np.abs(frame(final, durations[1] + 0.75) - frame(source[0], 1.25)).mean() < 12, "then scene 1 from 0.5 s"
    cues = {text: (start, end) for start, end, text in read_subtitles(final)}
    for line in script["scenes"][1]["dialogue"]:
        if line["text"] in cues_before:
            start = cues_before[line["text"]][0] - durations[0]  # scene 2 now starts the episode
            assert cues[line["text"]][0] == pytest.approx(start, abs=0.05), "scene 2's cues moved to the start"
    assert all(start < durations[1] + 1.5 + 0.05 for start, _ in cues.values())
    report = json.loads((results / "episode_01.qc.json").read_text())
    assert not [f for f in report["flags"] if f["check"] in ("duration", "av_length", "missing_cue")], report["flags"]

    # The rebuilt timeline is the editor's cut on the scenes' own clips: imported again it is the same cut.
    rebuilt = otio.adapters.read_from_file(str(results / "episode_01.otio")).video_tracks()[0]
    assert [(c.metadata["shortdrama"]["scene"], c.source_range.start_time.to_seconds()) for c in rebuilt] == \
        [(2, 0.0), (1, 0.5)]
    edits = (tmp_path / "review" / "demo.edits.yaml").read_text()
    again_import = run("import-edit", "-d", str(work), str(results / "episode_01.otio"), *overrides)
    assert again_import.returncode == 0 and "sc02, sc01 0.5-2 s" in again_import.stdout
    assert [l for l in (tmp_path / "review" / "demo.edits.yaml").read_text().splitlines() if "at:" not in l
            and "from:" not in l] == [l for l in edits.splitlines() if "at:" not in l and "from:" not in l]
    quiet = run("build", "-d", str(work), "--cores", "2", *overrides)
    assert quiet.returncode == 0 and not jobs_run(quiet), "the same cut again: nothing reruns"
