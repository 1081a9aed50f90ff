"""The offline espeak-ng voice and casting."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from shortdrama.errors import ProviderError, ShortDramaError
from shortdrama.voice import EspeakVoice, VoiceSpec, espeak_language, voice_for_character
from shortdrama.voice.espeak import utterance_seed

# f2 is breathy (eSpeak adds generated noise to it); m3 is not.
BREATHY_FEMALE = VoiceSpec("en-us", "f2", 50, 165)
MALE = VoiceSpec("en-us", "m3", 43, 171)
LINE = "You were never part of this family, and you never will be."
OTHER_LINES = [
    ("我不相信你。", VoiceSpec("cmn", "f5", 64, 158)),
    ("Then who signed the contract?", VoiceSpec("en-us", "f3", 36, 180)),
    ("Xin chào, hôm nay bạn có khỏe không?", VoiceSpec("vi", "m7", 57, 150)),
]

_SPEAK_IN_FRESH_PROCESS = """
import json, sys
import numpy as np
from shortdrama.voice import EspeakVoice, VoiceSpec
jobs, out = json.loads(sys.argv[1]), sys.argv[2]
voice = EspeakVoice()
np.savez(out, *[voice.synthesize(text, VoiceSpec(*spec)) for text, spec in jobs])
"""


def speak_in_fresh_process(jobs: list[tuple[str, VoiceSpec]], out: Path) -> list[np.ndarray]:
    """Samples of each (text, spec), spoken in order by a new Python process."""
    encoded = json.dumps([(text, [s.language, s.variant, s.pitch, s.rate]) for text, s in jobs])
    subprocess.run([sys.executable, "-c", _SPEAK_IN_FRESH_PROCESS, encoded, str(out)], check=True)
    with np.load(out) as saved:
        return [saved[f"arr_{i}"] for i in range(len(jobs))]


@pytest.fixture(scope="module")
def voice() -> EspeakVoice:
    return EspeakVoice()


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def fundamental_hz(samples: np.ndarray, sample_rate: int) -> float:
    """Median pitch of the loud frames, by autocorrelation within the range of voices."""
    frame = int(0.04 * sample_rate)
    frames = [samples[i : i + frame] for i in range(0, len(samples) - frame, frame // 2)]
    loudest = max(rms(f) for f in frames)
    estimates = []
    for f in frames:
        if rms(f) < 0.3 * loudest:
            continue
        f = f - f.mean()
        corr = np.fft.irfft(np.abs(np.fft.rfft(f, 2 * frame)) ** 2)[:frame]
        low, high = int(sample_rate / 500), int(sample_rate / 60)
        lag = low + int(np.argmax(corr[low:high]))
        estimates.append(sample_rate / lag)
    return float(np.median(estimates))


def test_english_sentence_is_audible_and_takes_about_its_reading_time(voice):
    text = "I never thought I would see you again after all these years."
    spec = VoiceSpec("en-us", "m3", 50, 165)
    audio = voice.synthesize(text, spec)
    seconds = len(audio) / voice.sample_rate
    reading_time = len(text.split()) / spec.rate * 60
    assert audio.dtype == np.float32
    assert 0.5 * reading_time < seconds < 2.0 * reading_time
    assert rms(audio) > 0.02
    assert np.max(np.abs(audio)) <= 1.0


def test_chinese_text_is_spoken_not_skipped(voice):
    text = "你好，今天天气很好。我们一起去公园吧！"
    audio = voice.synthesize(text, VoiceSpec("cmn", "f2", 50, 165))
    seconds = len(audio) / voice.sample_rate
    syllables = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    # Mandarin runs at roughly 3-7 syllables a second.
    assert syllables / 8 < seconds < syllables / 2
    assert rms(audio) > 0.02


def test_vietnamese_text_is_spoken(voice):
    audio = voice.synthesize("Xin chào, hôm nay bạn có khỏe không?", VoiceSpec("vi", "f1", 50, 165))
    assert len(audio) / voice.sample_rate > 0.8
    assert rms(audio) > 0.02


def test_silence_is_trimmed_from_both_ends(voice):
    audio = voice.synthesize("Hello.", VoiceSpec("en-us", "m1", 50, 165))
    edge = int(0.03 * voice.sample_rate)
    assert np.max(np.abs(audio[:edge])) > 0.003
    assert np.max(np.abs(audio[-edge:])) > 0.003


def test_higher_pitch_setting_raises_the_voice(voice):
    text = "We have to leave this place before the sun goes down."
    low = voice.synthesize(text, VoiceSpec("en-us", "m3", 15, 165))
    high = voice.synthesize(text, VoiceSpec("en-us", "m3", 85, 165))
    assert fundamental_hz(high, voice.sample_rate) > 1.2 * fundamental_hz(low, voice.sample_rate)


def test_female_variant_sounds_higher_than_male(voice):
    text = "We have to leave this place before the sun goes down."
    male = voice.synthesize(text, VoiceSpec("en-us", "m3", 50, 165))
    female = voice.synthesize(text, VoiceSpec("en-us", "f2", 50, 165))
    assert fundamental_hz(female, voice.sample_rate) > 1.4 * fundamental_hz(male, voice.sample_rate)


def test_faster_rate_speaks_faster(voice):
    text = "This is the last time I am going to ask you nicely."
    slow = voice.synthesize(text, VoiceSpec("en-us", "m3", 50, 130))
    fast = voice.synthesize(text, VoiceSpec("en-us", "m3", 50, 260))
    assert len(fast) < 0.75 * len(slow)


def test_repeating_a_line_gives_identical_samples(voice):
    for spec in (VoiceSpec("cmn", "m7", 40, 170), VoiceSpec("cmn", "f5", 40, 170)):
        first, again = voice.synthesize("我不相信你。", spec), voice.synthesize("我不相信你。", spec)
        assert first.size > 0
        np.testing.assert_array_equal(again, first)


def test_a_line_sounds_the_same_in_two_fresh_processes(voice, tmp_path):
    jobs = [(LINE, BREATHY_FEMALE), (LINE, MALE)]
    first = speak_in_fresh_process(jobs, tmp_path / "first.npz")
    # libespeak-ng seeds its noise from time(NULL) on initialisation: start the second
    # process in a later second so an unseeded breathy voice would come out different.
    time.sleep(1.1)
    second = speak_in_fresh_process(jobs, tmp_path / "second.npz")
    here = [voice.synthesize(text, spec) for text, spec in jobs]
    for a, b, c in zip(first, second, here):
        assert a.dtype == np.float32 and a.size > voice.sample_rate  # real speech, not silence
        assert a.tobytes() == b.tobytes()
        assert a.tobytes() == c.tobytes()
    assert not np.array_equal(first[0][: first[1].size], first[1][: first[0].size])


def test_other_lines_spoken_before_do_not_change_a_line(voice, tmp_path):
    alone = speak_in_fresh_process([(LINE, BREATHY_FEMALE), (LINE, MALE)], tmp_path / "alone.npz")
    # The same two lines, reversed, after other voices and languages (two of them breathy).
    crowded = speak_in_fresh_process([*OTHER_LINES, (LINE, MALE), *OTHER_LINES, (LINE, BREATHY_FEMALE)],
                                     tmp_path / "crowded.npz")
    np.testing.assert_array_equal(crowded[3], alone[1])
    np.testing.assert_array_equal(crowded[-1], alone[0])
    # Each line of the other lines came out the same both times it was spoken.
    for i in range(len(OTHER_LINES)):
        np.testing.assert_array_equal(crowded[4 + i], crowded[i])


def test_breath_noise_is_kept_and_driven_by_the_seed():
    one, two = EspeakVoice(seed=1), EspeakVoice(seed=2)
    breathy_1, breathy_2 = one.synthesize(LINE, BREATHY_FEMALE), two.synthesize(LINE, BREATHY_FEMALE)
    assert len(breathy_1) == len(breathy_2)
    noise = breathy_1 - breathy_2
    relative = float(np.sqrt(np.mean(np.square(noise)))) / rms(breathy_1)
    # The breath is audible but small beside the voice: the same line, a different breath.
    assert 0.01 < relative < 0.5
    np.testing.assert_array_equal(EspeakVoice(seed=1).synthesize(LINE, BREATHY_FEMALE), breathy_1)
    # A voice without breath has no noise for the seed to move.
    np.testing.assert_array_equal(one.synthesize(LINE, MALE), two.synthesize(LINE, MALE))


def test_utterance_seed_is_a_stable_hash_of_text_voice_and_seed():
    seed = utterance_seed(LINE, BREATHY_FEMALE)
    assert seed == utterance_seed(LINE, VoiceSpec("en-us", "f2", 50, 165), 0)
    assert 0 <= seed < 2**31
    assert len({seed, utterance_seed(LINE, MALE), utterance_seed(LINE + "!", BREATHY_FEMALE),
                utterance_seed(LINE, BREATHY_FEMALE, 1)}) == 4
    # Fixed by sha256, not by Python's per-process hash(): the same on every machine.
    assert utterance_seed("hello", VoiceSpec("en-us", "f2", 50, 165)) == 1970143366


def test_blank_text_gives_no_samples(voice):
    assert voice.synthesize("   ", VoiceSpec("en-us", "m3", 50, 165)).size == 0


def test_unknown_variant_or_language_is_a_provider_error(voice):
    with pytest.raises(ProviderError, match="variant"):
        voice.synthesize("hello", VoiceSpec("en-us", "nosuchvariant", 50, 165))
    with pytest.raises(ProviderError, match="no voice"):
        voice.synthesize("hello", VoiceSpec("xx-nowhere", "m3", 50, 165))


def test_voice_spec_rejects_out_of_range_values():
    with pytest.raises(ProviderError):
        VoiceSpec("en-us", "m3", 120, 165)
    with pytest.raises(ProviderError):
        VoiceSpec("en-us", "m3", 50, 20)


@pytest.mark.parametrize("gender", ["female", "male", None])
def test_cast_members_get_distinct_voices(gender):
    specs = [voice_for_character(i, gender, "en") for i in range(6)]
    assert len({(s.variant, s.pitch) for s in specs}) == 6
    # Neighbours in a cast (who often share a scene) differ in variant, not just pitch.
    assert all(a.variant != b.variant for a, b in zip(specs, specs[1:]))


def test_casting_is_deterministic_and_respects_gender():
    assert voice_for_character(3, "female", "zh") == voice_for_character(3, "female", "zh")
    assert all(voice_for_character(i, "female", "en").variant.startswith("f") for i in range(8))
    assert all(voice_for_character(i, "male", "en").variant.startswith("m") for i in range(8))
    assert {voice_for_character(i, None, "en").variant[0] for i in range(4)} == {"f", "m"}


def test_explicit_pitch_and_variant_override_casting():
    spec = voice_for_character(2, "male", "vi", base_rate=150, pitch=77, variant="m8")
    assert (spec.language, spec.variant, spec.pitch) == ("vi", "m8", 77)
    assert abs(spec.rate - 150) <= 15


def test_series_languages_map_to_espeak_voices():
    assert espeak_language("en") in ("en", "en-us")
    assert espeak_language("zh") == "cmn"
    assert espeak_language("vi") == "vi"
    assert voice_for_character(0, None, "zh").language == "cmn"


def test_unknown_language_is_a_clear_provider_error():
    with pytest.raises(ProviderError, match="klingon"):
        voice_for_character(0, None, "klingon")
    with pytest.raises(ShortDramaError):
        voice_for_character(0, "robot", "en")
