"""A scene's dialogue from its clip's own sound (shortdrama.audio.own_audio): where the track speaks, how
the script's lines are laid over it, and what a silent clip gives (dropped cues, which QC flags)."""

import numpy as np
import pytest

from shortdrama.audio.own_audio import lay_cues, voiced_spans
from shortdrama.config import load_config
from shortdrama.errors import ConfigError

RATE = 48000


def phrases(*spans: tuple[float, float], seconds: float = 5.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    track = np.zeros_like(t, dtype=np.float32)
    for start, end in spans:
        on = (t >= start) & (t < end)
        track[on] = 0.3 * np.sin(2 * np.pi * 200 * t[on])
    return track + np.float32(1e-4) * np.random.default_rng(1).standard_normal(t.size).astype(np.float32)


def test_voiced_spans_find_the_phrases_and_bridge_short_breaths():
    spans = voiced_spans(phrases((0.3, 1.4), (1.5, 2.0), (2.8, 4.1)), RATE)
    assert len(spans) == 2, "a 0.1 s breath is bridged, a 0.8 s pause is not"
    assert spans[0][0] == pytest.approx(0.3, abs=0.03) and spans[0][1] == pytest.approx(2.0, abs=0.03)
    assert spans[1][0] == pytest.approx(2.8, abs=0.03) and spans[1][1] == pytest.approx(4.1, abs=0.03)


def test_lines_share_the_speech_by_length_and_snap_to_the_pause_between_them():
    lines = [{"speaker": "Lin", "text": "You came back."}, {"speaker": "Wei", "text": "I never left."}]
    cues = lay_cues(lines, [(0.3, 1.9), (2.5, 4.0)], 5.0)
    assert [c["speaker"] for c in cues] == ["Lin", "Wei"]
    assert cues[0]["start"] == 0.3 and cues[1]["end"] == 4.0
    assert cues[0]["end"] == cues[1]["start"] == pytest.approx(2.2), "the boundary moved to the pause"
    one = lay_cues([{"speaker": "Lin", "text": "..."}, lines[0]], [(1.0, 2.0)], 5.0)
    assert [c["text"] for c in one] == ["You came back."], "a line with nothing to say aloud gets no cue"


def test_a_silent_clip_drops_every_line_so_qc_flags_them():
    lines = [{"speaker": "Lin", "text": "You came back."}]
    assert voiced_spans(np.zeros(RATE * 3, dtype=np.float32), RATE) == []
    assert lay_cues(lines, [], 3.0) == [{"speaker": "Lin", "text": "You came back.", "start": 3.0, "end": 3.0,
                                         "dropped": True}]


def test_own_audio_needs_a_model_that_makes_sound():
    with pytest.raises(ConfigError, match="animatic .* makes no sound"):
        load_config(["video.own_audio=true"])
    with pytest.raises(ConfigError, match="pro mode only: set video.options.mode=pro"):
        load_config(["video=kling", "video.model=kling-v2-6", "video.own_audio=true", "video.fallback=null"])
    with pytest.raises(ConfigError, match="its fallback kling-v1-6.*video.fallback.model=kling-v2-6"):
        load_config(["video=kling", "video.model=kling-v2-6", "video.options.mode=pro", "video.own_audio=true"])
    cfg = load_config(["video=kling", "video.model=kling-v2-6", "video.options.mode=pro", "video.own_audio=true",
                       "video.fallback=null"])
    assert cfg.video.result_fields()["own_audio"] is True
    assert "own_audio" not in load_config(["video=kling"]).video.result_fields(), "clips asked before keep their key"


def test_a_keyframe_held_for_approval_is_spoken_by_the_voice_until_approved(tmp_path):
    import json

    from shortdrama.workflow import Workflow

    cfg = load_config(["video=kling", "video.model=kling-v2-6", "video.options.mode=pro", "video.own_audio=true",
                       "video.fallback=null", "series.episodes=1", "review.gate=keyframes",
                       f"review.decisions={tmp_path / 'review.yaml'}"])
    wf = Workflow(cfg, [], checkout=tmp_path, workdir=tmp_path / "work")
    lin = next(iter(cfg.series.cast.values())).name
    scene = {"location": {"setting": "INT", "description": "the hall"}, "duration": 4, "characters": [lin],
             "dialogue": [{"speaker": lin, "text": "Enough."}], "action": "She stands.", "camera": "static"}
    path = wf.at(wf.paths.script("01"))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"episode": 1, "title": "t", "language": "en", "mood": "tense", "scenes": [scene]}))
    job = next(j for j in wf.episode_jobs(wf.paths.script("01")) if j.rule == "speak_dialogue")
    assert not job.spec.own_audio and job.inputs["clip"] == (), "the held still has no sound to take"
    (tmp_path / "review.yaml").write_text("ep01:\n  sc01:\n    keyframe: approved\n")
    wf = Workflow(cfg, [], checkout=tmp_path, workdir=tmp_path / "work")
    job = next(j for j in wf.episode_jobs(wf.paths.script("01")) if j.rule == "speak_dialogue")
    assert job.spec.own_audio and job.inputs["clip"] == ("results/demo/ep01/clips/sc01.mp4",)
