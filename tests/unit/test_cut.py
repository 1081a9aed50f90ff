"""An editor's cut (shortdrama.cut): an edited timeline read back (OTIO, and FCP 7 XML through its
adapter) into edit decisions; each mistake one line and nothing written; the cut's media: shot cues on
the shot's clock, a mix cut to the shots' order with fades at the joins."""

import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from shortdrama.audio.wav import read_wav, write_wav
from shortdrama.config import load_config
from shortdrama.cut.decisions import EditError, episode_shots, load_edits
from shortdrama.cut.importer import cut_of, import_edit
from shortdrama.cut.media import cut_cues, cut_mix
from shortdrama.workflow import Workflow

FPS = 24


def clip(scene: int, start: float, duration: float, named: str | None = None, meta: bool = True,
         url: str | None = None) -> otio.schema.Clip:
    ref = otio.schema.ExternalReference(target_url=url or f"ep01/clips/sc{scene:02d}.mp4", available_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, FPS), otio.opentime.RationalTime(5 * FPS, FPS)))
    made = otio.schema.Clip(name=named or f"sc{scene:02d}", media_reference=ref, source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(round(start * FPS), FPS), otio.opentime.RationalTime(round(duration * FPS), FPS)))
    if meta:
        made.metadata["shortdrama"] = {"scene": scene, "episode": 1}
    return made


def timeline(*clips: otio.schema.Clip) -> otio.schema.Timeline:
    made = otio.schema.Timeline(name="Episode 01: The Slap")
    made.metadata["shortdrama"] = {"episode": 1}
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    track.extend(clips)
    made.tracks.append(track)
    return made


@pytest.fixture
def series(tmp_path) -> Workflow:
    cfg = load_config(["series.episodes=1"])
    wf = Workflow(cfg, [], checkout=tmp_path, workdir=tmp_path / "work")
    names = [c.name for c in cfg.series.cast.values()]
    scenes = [{"location": {"setting": "INT", "description": "the hall"}, "duration": d, "characters": [names[0]],
               "dialogue": [{"speaker": names[0], "text": "Enough."}], "action": "She stands.", "camera": "static"}
              for d in (4, 3, 5)]
    path = wf.at(wf.paths.script("01"))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"episode": 1, "title": "The Slap", "language": "en", "mood": "tense", "scenes": scenes}))
    return wf


def test_a_reordered_trimmed_timeline_becomes_the_episodes_cut(series, tmp_path):
    edited = tmp_path / "cut.otio"
    otio.adapters.write_to_file(timeline(clip(3, 1.0, 3.0), otio.schema.Gap(source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, FPS), otio.opentime.RationalTime(12, FPS))), clip(1, 0.0, 4.0)), str(edited))
    ep, shots, written = import_edit(series, edited)
    assert ep == "01" and [(s.scene, s.start, s.end) for s in shots] == [(3, 1.0, 4.0), (1, 0.0, 4.0)], \
        "scene 2 removed, the gap skipped, scene 3 trimmed and moved first"
    saved = load_edits(written)["01"]
    assert saved["shots"] == [{"scene": 3, "in": 1.0, "out": 4.0}, {"scene": 1, "in": 0.0, "out": 4.0}]
    assert saved["from"] == str(edited) and written == series.edits_file and written.parent.name == "review"
    assert [s.scene for s in series.episode_cut("01", series.paths.script("01"))] == [3, 1]


def test_fcp_xml_from_an_editor_comes_back_by_clip_names(series, tmp_path):
    xml = tmp_path / "ep01_premiere.xml"
    otio.adapters.write_to_file(timeline(clip(2, 0.5, 2.0, meta=False), clip(1, 0.0, 3.0, meta=False)), str(xml),
                                adapter_name="fcp_xml")
    ep, shots, _ = import_edit(series, xml)
    assert ep == "01" and [(s.scene, s.start, s.end) for s in shots] == [(2, 0.5, 2.5), (1, 0.0, 3.0)]


@pytest.mark.parametrize("clips, message", [
    ((clip(7, 0.0, 2.0),), "refers to scene 7, which the script does not have"),
    ((clip(2, 1.0, 4.0),), r"ends at 5 s, beyond its take's 3 s: a shot can be trimmed, not lengthened"),
    ((clip(1, 0.0, 2.0, named="B-roll", meta=False, url="stock/city_night.mp4"),), "is no scene of this episode"),
    ((), "the cut has no shots"),
])
def test_an_edit_that_cannot_be_applied_is_one_line_and_nothing_is_written(series, tmp_path, clips, message):
    edited = tmp_path / "bad.otio"
    otio.adapters.write_to_file(timeline(*clips), str(edited))
    with pytest.raises(EditError, match=message) as error:
        import_edit(series, edited)
    assert "\n" not in str(error.value) and not series.edits_file.exists()


def test_a_hand_written_cut_is_checked_like_an_imported_one(tmp_path):
    bad = {"shots": [{"scene": 1, "in": 2.0, "out": 1.0}]}
    with pytest.raises(EditError, match="make no shot"):
        episode_shots(tmp_path / "demo.edits.yaml", "01", bad, [4.0], FPS)
    snapped = episode_shots(tmp_path / "e.yaml", "01", {"shots": [{"scene": 1, "in": 0.51, "out": None}]}, [4.0], FPS)
    assert snapped[0].start == round(0.51 * FPS) / FPS and snapped[0].end == 4.0, "snapped to frames; no out: to the end"


def test_cues_follow_the_shot_and_the_mix_is_cut_in_order():
    cues = [{"speaker": "A", "text": "one", "start": 0.2, "end": 1.0}, {"speaker": "B", "text": "two", "start": 1.5,
                                                                       "end": 2.6},
            {"speaker": "A", "text": "never fitted", "start": 4.0, "end": 4.0, "dropped": True}]
    shot = cut_cues(cues, 1.2, 3.0)
    assert shot[0] == {"speaker": "B", "text": "two", "start": pytest.approx(0.3), "end": pytest.approx(1.4)}
    assert shot[1]["dropped"] and shot[1]["start"] == shot[1]["end"] == pytest.approx(1.8)
    assert [c["text"] for c in cut_cues(cues, 0.0, 1.3)] == ["one", "never fitted"]


def test_the_mix_is_cut_to_the_shots_in_their_order(tmp_path):
    rate = 48000
    mix = np.concatenate([np.full(rate, 0.1), np.full(rate, 0.3), np.full(rate, 0.5)]).astype(np.float32)
    write_wav(tmp_path / "mix.wav", mix, rate)
    cut_mix(tmp_path / "mix.wav", [(2.0, 2.5), (0.25, 1.0)], tmp_path / "cut.wav")
    out, got_rate = read_wav(tmp_path / "cut.wav")
    assert got_rate == rate and out.size == int(1.25 * rate)
    assert out[rate // 4] == pytest.approx(0.5, abs=1e-3) and out[int(0.9 * rate)] == pytest.approx(0.1, abs=1e-3)
    assert abs(out[0]) < 0.01 and abs(out[int(0.5 * rate)]) < 0.05, "faded at the joins"


def test_an_episode_flag_that_contradicts_the_timeline_is_one_line(series, tmp_path):
    edited = tmp_path / "cut.otio"
    otio.adapters.write_to_file(timeline(clip(1, 0.0, 4.0)), str(edited))
    with pytest.raises(EditError, match="is the timeline of episode 1, not 2"):
        import_edit(series, edited, episode=2)
    broken = timeline(clip(1, 0.0, 4.0))
    broken.video_tracks()[0][0].metadata["shortdrama"]["scene"] = "first"  # rewritten by an editor's tool
    otio.adapters.write_to_file(broken, str(edited))
    assert [s.scene for s in import_edit(series, edited)[1]] == [1], "falls back on the clip's name"
