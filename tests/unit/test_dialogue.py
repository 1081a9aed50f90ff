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
