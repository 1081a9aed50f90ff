"""Laying a scene's lines onto a track of exactly the scene's length."""

from __future__ import annotations

import numpy as np
import pytest

from shortdrama.audio.dialogue import LineCue, SpokenLine, render_scene_dialogue
from shortdrama.errors import ShortDramaError
from shortdrama.voice import EspeakVoice, VoiceSpec, voice_for_character

SAMPLE_RATE = 48000


class ToneVoice:
    """A stand-in voice: a steady tone lasting one 'word' per 60/rate seconds."""

    sample_rate = 16000

    def __init__(self) -> None:
        self.rates: list[int] = []

    def synthesize(self, text: str, spec: VoiceSpec) -> np.ndarray:
        self.rates.append(spec.rate)
        seconds = len(text.split()) * 60.0 / spec.rate
        t = np.arange(int(seconds * self.sample_rate)) / self.sample_rate
        return (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def espeak() -> EspeakVoice:
    return EspeakVoice()


def line(speaker: str, text: str, index: int, language: str = "en") -> SpokenLine:
    return SpokenLine(speaker, text, voice_for_character(index, None, language))


def words(count: int) -> str:
    return " ".join(["word"] * count)


def assert_well_formed(track: np.ndarray, cues: list[LineCue], duration: float) -> None:
    assert track.dtype == np.float32
    assert len(track) == round(duration * SAMPLE_RATE)
    for cue in cues:
        assert 0.0 <= cue.start < cue.end <= duration
    for earlier, later in zip(cues, cues[1:]):
        assert earlier.end <= later.start


def loudness_inside_and_outside(track: np.ndarray, cues: list[LineCue]) -> tuple[list[float], float]:
    inside = np.zeros(len(track), dtype=bool)
    levels = []
    for cue in cues:
        span = slice(int(round(cue.start * SAMPLE_RATE)), int(round(cue.end * SAMPLE_RATE)))
        inside[span] = True
        levels.append(float(np.sqrt(np.mean(np.square(track[span])))))
    outside = float(np.max(np.abs(track[~inside]))) if (~inside).any() else 0.0
    return levels, outside


def test_lines_play_in_order_inside_the_scene_where_the_cues_say(espeak):
    lines = [
        line("Mei", "Where were you last night?", 1),
        line("Jun", "I was at the office. I swear.", 0),
        line("Mei", "Liar.", 1),
    ]
    track, cues = render_scene_dialogue(lines, 8.0, espeak, sample_rate=SAMPLE_RATE)
    assert_well_formed(track, cues, 8.0)
    assert [(c.speaker, c.text) for c in cues] == [(l.speaker, l.text) for l in lines]
    assert cues[0].start == pytest.approx(0.25, abs=0.01)
    assert cues[1].start - cues[0].end == pytest.approx(0.2, abs=0.01)
    levels, outside = loudness_inside_and_outside(track, cues)
    assert min(levels) > 0.03
    assert outside < 1e-4
    assert track[: int(0.2 * SAMPLE_RATE)].max() == 0.0


def test_chinese_dialogue_renders_with_cues(espeak):
    lines = [line("美", "你昨晚去哪里了？", 1, "zh"), line("军", "我在公司加班。", 0, "zh")]
    track, cues = render_scene_dialogue(lines, 5.0, espeak, sample_rate=SAMPLE_RATE)
    assert_well_formed(track, cues, 5.0)
    assert len(cues) == 2
    levels, outside = loudness_inside_and_outside(track, cues)
    assert min(levels) > 0.03 and outside < 1e-4


def test_characters_are_levelled_alike(espeak):
    lines = [line("A", "I will never forgive you for this.", 0), line("B", "I will never forgive you for this.", 3)]
    track, cues = render_scene_dialogue(lines, 6.0, espeak, sample_rate=SAMPLE_RATE)
    levels, _ = loudness_inside_and_outside(track, cues)
    assert abs(20 * np.log10(levels[0] / levels[1])) < 3.0


def test_no_lines_is_silence_of_the_scene_length(espeak):
    track, cues = render_scene_dialogue([], 2.5, espeak, sample_rate=SAMPLE_RATE)
    assert cues == []
    assert len(track) == round(2.5 * SAMPLE_RATE) and not track.any()


def test_overlong_dialogue_is_sped_up_to_fit():
    voice = ToneVoice()
    lines = [SpokenLine("A", words(6), VoiceSpec("en-us", "m3", 50, 150)) for _ in range(2)]
    # 12 words at 150 wpm is 4.8 s of speech; 4.5 s of scene needs roughly 1.2x speed.
    track, cues = render_scene_dialogue(lines, 4.5, voice, sample_rate=SAMPLE_RATE)
    assert_well_formed(track, cues, 4.5)
    assert len(cues) == 2
    assert max(voice.rates) > 150
    assert max(voice.rates) <= 150 * 1.6
    assert cues[-1].end < 4.5  # it fits without cutting anything


def test_dialogue_too_long_even_when_fast_is_cut_with_a_fade():
    voice = ToneVoice()
    lines = [SpokenLine("A", words(10), VoiceSpec("en-us", "m3", 50, 150)) for _ in range(3)]
    track, cues = render_scene_dialogue(lines, 5.0, voice, sample_rate=SAMPLE_RATE, max_speedup=1.5)
    assert_well_formed(track, cues, 5.0)
    assert max(voice.rates) == 225  # sped up as far as allowed first
    assert cues[0].start == 0.0  # then the pauses went
    assert cues[-1].end == pytest.approx(5.0)
    assert np.abs(track[-48:]).max() < 0.05  # faded out, no click at the cut
    levels, outside = loudness_inside_and_outside(track, cues)
    assert min(levels) > 0.05 and outside < 1e-4


def test_gaps_shrink_before_anything_is_cut():
    voice = ToneVoice()
    lines = [SpokenLine("A", words(5), VoiceSpec("en-us", "m3", 50, 150)) for _ in range(2)]
    # 4 s of speech at 1x; speed capped at 1x so only the pauses can give way.
    track, cues = render_scene_dialogue(lines, 4.2, voice, sample_rate=SAMPLE_RATE, max_speedup=1.0)
    assert_well_formed(track, cues, 4.2)
    assert cues[-1].end - cues[-1].start == pytest.approx(2.0, abs=0.01)  # nothing cut
    assert 0.0 < cues[0].start < 0.25
    assert 0.0 < cues[1].start - cues[0].end < 0.2


def test_other_sample_rates_and_exact_lengths(espeak):
    lines = [line("A", "Hello.", 0)]
    track, cues = render_scene_dialogue(lines, 1.23456, espeak, sample_rate=16000)
    assert len(track) == round(1.23456 * 16000)
    assert cues and cues[0].end <= 1.23456


def test_negative_duration_is_rejected(espeak):
    with pytest.raises(ShortDramaError):
        render_scene_dialogue([line("A", "Hi.", 0)], -1.0, espeak)


# -- the voice step: what did not fit shows in the build's output and beside the cues ----------------


def _scene(lines: list[tuple[str, str]], duration: float):
    from shortdrama.schemas import Scene

    return Scene.model_validate({
        "location": {"setting": "INT", "description": "the family dining room"}, "duration": duration,
        "characters": sorted({speaker for speaker, _ in lines}),
        "dialogue": [{"speaker": speaker, "text": text} for speaker, text in lines],
        "action": "They argue.", "camera": "medium"})


def test_lines_dropped_by_the_voice_step_are_reported_and_recorded(tmp_path, capsys):
    import json

    from shortdrama.stages.audio import DialogueSpec, speak_dialogue
    from shortdrama.stages.render import SubtitlesSpec, write_subtitles
    from shortdrama.config import load_config
    from shortdrama.cost.call import Runtime
    from shortdrama.schemas import EpisodeScript
    from shortdrama.subtitles import parse_srt

    cfg = load_config()
    lead, rival = cfg.series.cast["xiaoyu"].name, cfg.series.cast["meifang"].name
    said = [(lead if i % 2 else rival, f"Line number {i}: I will never forgive what you did to this family.")
            for i in range(1, 21)]
    scene = _scene(said, 4.5)
    rt = Runtime(output_dir=tmp_path / "results/demo", cache_dir=tmp_path / "cache", cache_enabled=True,
                 budget=cfg.budget, providers={"voice": cfg.voice.model_dump(mode="json")})
    audio = tmp_path / "results/demo/ep01/audio"
    speak_dialogue(DialogueSpec.of(cfg, scene).to_json(), audio / "sc02.wav", audio / "sc02.cues.json", 1, 2, runtime=rt)

    records = json.loads((audio / "sc02.cues.json").read_text())
    heard = [r for r in records if not r.get("dropped")]
    dropped = [r for r in records if r.get("dropped")]
    assert 1 <= len(heard) < 5 and len(heard) + len(dropped) == 20
    assert [(r["speaker"], r["text"]) for r in heard + dropped] == said, "every line, heard or dropped, in order"
    assert all(r["start"] == r["end"] == 4.5 for r in dropped)
    assert all(0 <= r["start"] < r["end"] <= 4.5 for r in heard)
    err = capsys.readouterr().err.splitlines()
    warning = (f"shortdrama: warning: ep01 sc02: {len(dropped)} of 20 dialogue lines do not fit in 4.5 s and "
               f"were dropped: shorten them or lengthen the scene")
    assert err == [warning]
    again = tmp_path / "again"  # the same scene answered by the cache: still said
    speak_dialogue(DialogueSpec.of(cfg, scene).to_json(), again / "sc02.wav", again / "sc02.cues.json", 1, 2, runtime=rt)
    assert capsys.readouterr().err.splitlines() == [warning]
    assert (again / "sc02.cues.json").read_bytes() == (audio / "sc02.cues.json").read_bytes()

    # The subtitles show the heard lines only: the cues file is still a list the subtitle step reads.
    script = EpisodeScript.model_validate({"episode": 1, "title": "t", "language": "en", "mood": "tense",
                                           "scenes": [scene.model_dump(mode="json")]})
    srt = tmp_path / "ep01.srt"
    write_subtitles(SubtitlesSpec.of(cfg, script).to_json(), [audio / "sc02.cues.json"], srt, tmp_path / "ep01.vtt",
                    tmp_path / "ep01.ass")
    assert [c.text for c in parse_srt(srt.read_text())] == [r["text"] for r in heard]


def test_dialogue_that_fits_drops_nothing_and_says_nothing(tmp_path, capsys):
    import json

    from shortdrama.stages.audio import DialogueSpec, produce_dialogue
    from shortdrama.config import load_config

    cfg = load_config()
    lead = cfg.series.cast["xiaoyu"].name
    spec = DialogueSpec.of(cfg, _scene([(lead, "Sign it."), (lead, "...")], 3.0))
    outputs = {"wav": tmp_path / "sc01.wav", "cues": tmp_path / "sc01.cues.json"}
    produce_dialogue(spec)(cfg.voice, outputs)
    records = json.loads(outputs["cues"].read_text())
    assert [(r["text"], r.get("dropped", False)) for r in records] == [("Sign it.", False)]  # "..." says nothing
    assert capsys.readouterr().err == ""
