"""Episode timelines (shortdrama.timeline, stages.timeline): the .otio made from a hand-made episode's
files (tiny real MP4s and WAVs from FFmpeg) holds the shots in order with their source ranges at the
episode's rate, the other takes as alternates, the cues, QC flags and review notes as markers; it loads
back as it was written, and every export format is read back by its own adapter (MLT, which has no
reader, is parsed as XML) with the same shots, ranges and markers as far as the format carries them."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlparse

import opentimelineio as otio
import pytest

from shortdrama.cli import main
from shortdrama.config import load_config
from shortdrama.media import run_ffmpeg
from shortdrama.stages.timeline import TimelineSpec, review_notes, write_timeline
from shortdrama.timeline.export import FORMATS, episode_markers, export_episode, summary

FPS = 24  # a SMPTE rate: the EDL and FCP adapters refuse others (one ExportError line)
DURATIONS = [1.5, 2.0, 1.0]  # on whole frames: 36, 48 and 24 frames
COLOURS = ["red", "green", "blue"]
CUES = [[{"speaker": "Lin", "text": "I know.", "start": 0.25, "end": 1.0}],
        [{"speaker": "Chen", "text": "You do?", "start": 0.5, "end": 1.75},
         {"speaker": "Lin", "text": "(not heard)", "start": 1.8, "end": 1.9, "dropped": True}],
        []]
FLAGS = [{"check": "loudness", "message": "too quiet", "at": 0.0, "severity": 2.0, "value": -20.0, "limit": -16.0,
          "episode": 1, "scene": None},
         {"check": "cue_overlap", "message": "two cues overlap", "at": 2.0, "severity": 1.5, "value": 0.1,
          "limit": 0.0, "episode": 1, "scene": None},  # episode clock: 0.5 s into scene 2
         {"check": "freeze", "message": "frozen", "at": 4.0, "severity": 3.0, "value": 1.0, "limit": 0.5,
          "episode": 1, "scene": 3, "take": 1}]  # 0.5 s into scene 3
NOTES = {"sc02": ["take 2 picked"], "sc03": ["retake 3 asked: slower push-in"]}


def _video(path: Path, colour: str, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-f", "lavfi", "-i", f"color=c={colour}:s=64x112:r={FPS}:d={seconds}", "-c:v", "libx264",
                "-pix_fmt", "yuv420p", str(path)])
    return path


def _audio(path: Path, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-f", "lavfi", "-i", f"sine=f=440:d={seconds}", "-ar", "48000", str(path)])
    return path


def _write(path: Path, data) -> Path:  # noqa: ANN001
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def episode(tmp_path_factory):
    """results/demo of a 3-scene episode: two takes a scene (scene 2 picked take 2), scene 1 lip-synced."""
    root = tmp_path_factory.mktemp("work") / "results/demo"
    ep = root / "ep01"
    files = {"clips": [], "selections": [], "dialogue": [], "cues": []}
    for n, (colour, seconds, cues) in enumerate(zip(COLOURS, DURATIONS, CUES), 1):
        sc = f"sc{n:02d}"
        chosen = 2 if n == 2 else 1
        for take in (1, 2):
            _video(ep / f"clips/{sc}/take{take:02d}.mp4", colour if take == chosen else "gray", seconds)
        clip = _video(ep / (f"lipsync/{sc}.mp4" if n == 1 else f"clips/{sc}.mp4"), colour, seconds)
        takes = [{"take": t, "file": f"take{t:02d}.mp4", "retake": False, "passed": t == chosen, "score": 80.0 + t,
                  "flags": [] if t == chosen else [{"check": "blur", "message": "soft", "at": 0.5}]} for t in (1, 2)]
        selection = {"chosen": chosen, "file": f"take{chosen:02d}.mp4", "flagged": False, "by": "review" if n == 2 else "qc",
                     "reason": f"take {chosen}", "takes": takes, "flags": []}
        files["clips"].append(clip)
        files["selections"].append(_write(ep / f"clips/{sc}.selection.json", selection))
        files["dialogue"].append(_audio(ep / f"audio/{sc}.wav", seconds))
        files["cues"].append(_write(ep / f"audio/{sc}.cues.json", cues))
    mix = _audio(ep / "audio/episode_mix.wav", sum(DURATIONS))
    music = _audio(ep / "audio/episode_music.wav", sum(DURATIONS))
    qc = _write(root / "episode_01.qc.json", {"episode": 1, "passed": False, "flags": FLAGS})
    spec = TimelineSpec(title="The Slap", durations=DURATIONS, frame={"width": 64, "height": 112, "fps": FPS},
                        notes=NOTES)
    out = root / "episode_01.otio"
    write_timeline(spec.to_json(), *files.values(), mix, qc, out, 1, music)
    return SimpleNamespace(root=root, otio=out, files=files)


def _read(path: Path) -> otio.schema.Timeline:
    return otio.adapters.read_from_file(str(path), adapter_name="otio_json")


def test_the_timeline_holds_the_shots_in_order_with_their_ranges_and_the_audio(episode):
    timeline = _read(episode.otio)
    assert timeline.name == "Episode 01: The Slap"
    assert [t.name for t in timeline.tracks] == ["V1", "A1 mix", "A2 dialogue", "A3 music"]
    stems = [t for t in timeline.tracks if t.name in ("A2 dialogue", "A3 music")]
    assert not any(t.enabled for t in stems), "the stems are off: the mix carries them"
    assert [c.media_reference.target_url for c in stems[1]] == ["ep01/audio/episode_music.wav"]
    shots = list(timeline.video_tracks()[0].find_clips())
    assert [c.name for c in shots] == ["sc01", "sc02", "sc03"]
    assert [c.source_range.duration for c in shots] == [otio.opentime.RationalTime(d * FPS, FPS) for d in DURATIONS]
    assert all(c.source_range.start_time.value == 0 for c in shots)
    assert timeline.duration() == otio.opentime.RationalTime(sum(DURATIONS) * FPS, FPS)
    # Relative to the series folder (the same bytes in every work dir), and what the render reads.
    assert [c.media_reference.target_url for c in shots] == ["ep01/lipsync/sc01.mp4", "ep01/clips/sc02.mp4",
                                                             "ep01/clips/sc03.mp4"]
    assert str(episode.root.parent.parent) not in episode.otio.read_text(encoding="utf-8")
    mix, dialogue, _music = timeline.audio_tracks()
    assert mix.enabled and [c.media_reference.target_url for c in mix] == ["ep01/audio/episode_mix.wav"]
    assert mix.duration() == timeline.duration()
    assert not dialogue.enabled, "the mix carries the dialogue: the stems are muted"
    assert [c.source_range.duration.to_seconds() for c in dialogue] == DURATIONS


def test_the_other_takes_are_alternates_an_editor_can_swap_in(episode):
    shots = list(_read(episode.otio).video_tracks()[0].find_clips())
    meta = [dict(c.metadata["shortdrama"]) for c in shots]
    assert [m["take"] for m in meta] == [1, 2, 1]
    assert [m["lip_synced"] for m in meta] == [True, False, False]
    assert meta[1]["take_url"] == "ep01/clips/sc02/take02.mp4" and meta[1]["by"] == "review"
    alternates = [[dict(a) for a in m["alternates"]] for m in meta]
    assert [[a["take"] for a in alts] for alts in alternates] == [[2], [1], [2]]
    assert alternates[1][0]["target_url"] == "ep01/clips/sc02/take01.mp4"
    assert list(alternates[1][0]["flags"]) == ["soft"] and alternates[1][0]["passed"] is False
    assert all((episode.root / a["target_url"]).is_file() for alts in alternates for a in alts)


def test_cues_qc_flags_and_review_notes_are_markers_on_their_shots(episode):
    shots = list(_read(episode.otio).video_tracks()[0].find_clips())
    by_kind = [{kind: [(m.name, m.marked_range.start_time.value, m.marked_range.duration.value) for m in c.markers
                       if m.metadata["shortdrama"]["kind"] == kind] for kind in ("subtitle", "qc", "note")} for c in shots]
    assert [s["subtitle"] for s in by_kind] == [[("I know.", 6, 18)], [("You do?", 12, 30)], []], "a dropped line has none"
    assert [s["qc"] for s in by_kind] == [[("QC loudness: too quiet", 0, 0)], [("QC cue_overlap: two cues overlap", 12, 0)],
                                          [("QC freeze: frozen", 12, 0)]]
    assert [s["note"] for s in by_kind] == [[], [("review: take 2 picked", 0, 0)],
                                            [("review: retake 3 asked: slower push-in", 0, 0)]]
    colours = {m.metadata["shortdrama"]["kind"]: m.color for c in shots for m in c.markers}
    assert colours == {"subtitle": "YELLOW", "qc": "RED", "note": "GREEN"}


def _files(text: str) -> list[str]:
    return [unquote(urlparse(url).path) for url in text.split() if url.startswith(("file://", "file:/"))]


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "mlt"])
def test_each_export_is_read_back_by_its_adapter_with_the_same_cut(episode, tmp_path, fmt):
    made = export_episode(episode.otio, episode.root, fmt, tmp_path / f"episode_01{FORMATS[fmt].suffix}")
    original = _read(episode.otio)
    want = summary(original)
    back = otio.adapters.read_from_string(made.read_text(encoding="utf-8"), adapter_name=FORMATS[fmt].adapter)
    if isinstance(back, otio.schema.SerializableCollection):
        back = back[0]
    got = summary(back)
    assert [s["name"] for s in got["shots"]] == ["sc01", "sc02", "sc03"]
    assert [(s["file"], s["range"]) for s in got["shots"]] == [(s["file"], s["range"]) for s in want["shots"]]
    assert back.duration().to_frames() == original.duration().to_frames()
    if fmt == "edl":  # LOC comments: upper case, a point in time
        assert [sorted((m[0], m[1]) for m in s["markers"]) for s in got["shots"]] == [
            sorted((m[0].upper(), m[1]) for m in s["markers"]) for s in want["shots"]]
    elif fmt == "kdenlive":  # the shots' markers become guides on the episode's clock
        guides = sorted((m.name, m.marked_range.start_time.to_frames()) for m in back.tracks.markers)
        assert guides == sorted((m.name, m.marked_range.start_time.to_frames()) for m in episode_markers(original))
        assert len(guides) == 7  # 2 cues, 3 QC flags, 2 notes
    else:
        assert got["shots"] == want["shots"]
    if fmt != "otio":  # opened where it is written: absolute URLs of files that exist
        urls = [c.media_reference.target_url for c in back.find_clips()]
        assert urls and all(Path(unquote(urlparse(u).path) if "://" in u else u).is_file() for u in urls), urls
    else:
        alternates = back.video_tracks()[0].find_clips()[1].metadata["shortdrama"]["alternates"]
        assert Path(urlparse(alternates[0]["target_url"]).path).is_file()


def test_the_mlt_export_plays_the_shots_in_order_at_the_episodes_frame(episode, tmp_path):
    made = export_episode(episode.otio, episode.root, "mlt", tmp_path / "episode_01.mlt")
    mlt = ET.parse(made).getroot()
    profile = mlt.find("profile")
    assert (profile.get("width"), profile.get("height"), profile.get("frame_rate_num")) == ("64", "112", "24")
    producers = {p.get("id"): p.find("property[@name='resource']").text for p in mlt.iter("producer")}
    entries = [(producers[e.get("producer")], float(e.get("in")), float(e.get("out")))
               for e in mlt.find("playlist[@id='V1']").iter("entry")]
    assert [(Path(urlparse(r).path).relative_to(episode.root).as_posix(), i, o) for r, i, o in entries] == [
        ("ep01/lipsync/sc01.mp4", 0, 35), ("ep01/clips/sc02.mp4", 0, 47), ("ep01/clips/sc03.mp4", 0, 23)]
    assert "A2 dialogue" not in made.read_text() and "episode_music" not in made.read_text(), \
        "muted stems left out: MLT would play them over the mix"


def test_review_notes_come_from_the_decisions_and_reach_the_spec():
    cfg = load_config(["takes=2"])
    decisions = {("01", "02"): SimpleNamespace(take=2, retakes=()),
                 ("01", "03"): SimpleNamespace(take=None, retakes=("slower", "closer"))}
    wf = SimpleNamespace(cfg=cfg, decision=lambda ep, sc: decisions.get((ep, sc)))
    notes = review_notes(wf, "01", ["01", "02", "03"])
    assert notes == {"sc02": ["take 2 picked"], "sc03": ["retake 3 asked: slower", "retake 4 asked: closer"]}
    spec = TimelineSpec(title="t", durations=[1.0], frame={"width": 1, "height": 1, "fps": 1}, notes=notes)
    assert TimelineSpec.from_json(spec.to_json()) == spec
    assert TimelineSpec.from_json(TimelineSpec("t", [1.0], {}).to_json()).notes == {}


def test_export_without_a_timeline_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["export", "-d", str(tmp_path), "--format", "fcp7"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("shortdrama: error: no timeline yet (results/demo/episode_01.otio") and err.count("\n") == 1
    assert main(["export", "-d", str(tmp_path), "--format", "edl", "--episode", "9"]) == 2
    assert "no episode 9" in capsys.readouterr().err
