"""Music beds, ducking, WAV I/O and the loudness-normalised episode mix."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from shortdrama.audio.dialogue import SpokenLine, render_scene_dialogue
from shortdrama.audio.mix import duck, limit_peaks, mix_episode
from shortdrama.audio.music import MOODS, synthesize_bed
from shortdrama.audio.wav import read_wav, resample, write_wav
from shortdrama.errors import MediaError, ProviderError
from shortdrama.media import run_ffmpeg
from shortdrama.voice import EspeakVoice, voice_for_character

BED_RATE = 16000  # beds are tested at a low rate to keep the suite fast


def db(ratio: float) -> float:
    return 20 * np.log10(ratio)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))


def band_levels_db(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Energy in half-octave bands from 100 Hz up: a coarse picture of the timbre and register."""
    power = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / sample_rate)
    edges = 100 * 2 ** np.arange(0, 6.5, 0.5)
    bands = [power[(freqs >= low) & (freqs < high)].sum() for low, high in zip(edges, edges[1:])]
    return 10 * np.log10(np.array(bands) + 1e-12)


def integrated_loudness(path: Path) -> float:
    report = run_ffmpeg(["-i", str(path), "-af", "ebur128", "-f", "null", "-"])
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", report)[-1])


@pytest.fixture(scope="module")
def beds() -> dict[str, np.ndarray]:
    return {mood: synthesize_bed(mood, 3.0, BED_RATE) for mood in MOODS}


@pytest.mark.parametrize("mood", MOODS)
def test_every_mood_renders_the_exact_length_and_is_audible(beds, mood):
    bed = beds[mood]
    assert bed.dtype == np.float32 and bed.shape == (3 * BED_RATE,)
    assert db(np.max(np.abs(bed))) == pytest.approx(-6.0, abs=0.5)
    middle = bed[BED_RATE : 2 * BED_RATE]
    assert db(rms(middle)) > -30.0
    # Faded in and out rather than starting or stopping abruptly.
    assert rms(bed[:160]) < 0.1 * rms(middle)
    assert rms(bed[-160:]) < 0.1 * rms(middle)


def test_moods_sound_different(beds):
    profiles = {mood: band_levels_db(bed, BED_RATE) for mood, bed in beds.items()}
    for a, b in itertools.combinations(MOODS, 2):
        assert np.max(np.abs(profiles[a] - profiles[b])) > 3.0, (a, b)
        assert abs(np.corrcoef(beds[a], beds[b])[0, 1]) < 0.5, (a, b)


def test_beds_are_deterministic_per_seed():
    same = synthesize_bed("sad", 2.0, BED_RATE, seed=7)
    assert np.array_equal(same, synthesize_bed("sad", 2.0, BED_RATE, seed=7))
    other = synthesize_bed("sad", 2.0, BED_RATE, seed=8)
    assert not np.allclose(same, other, atol=1e-3)


def test_bed_length_is_exact_for_awkward_durations():
    assert len(synthesize_bed("comedic", 1.2345, BED_RATE)) == round(1.2345 * BED_RATE)
    assert len(synthesize_bed("comedic", 0.0, BED_RATE)) == 0


def test_unknown_mood_lists_the_known_ones():
    with pytest.raises(ProviderError, match="romantic"):
        synthesize_bed("jazzy", 1.0)


def test_duck_lowers_music_under_speech_and_restores_it_after():
    rate = 16000
    seconds = np.arange(4 * rate) / rate
    music = (0.5 * np.sin(2 * np.pi * 330 * seconds)).astype(np.float32)
    speech = np.zeros_like(music)
    speech[rate : 2 * rate] = 0.3 * np.random.default_rng(0).standard_normal(rate).astype(np.float32)
    ducked = duck(music, speech, rate, depth_db=-14.0)

    def gain_db(start: float, end: float) -> float:
        span = slice(int(start * rate), int(end * rate))
        return db(rms(ducked[span]) / rms(music[span]))

    assert gain_db(1.1, 1.9) == pytest.approx(-14.0, abs=1.5)
    assert gain_db(0.0, 0.8) == pytest.approx(0.0, abs=0.2)
    assert gain_db(3.2, 4.0) == pytest.approx(0.0, abs=0.2)
    # The change is a smooth ramp, not a step: no single sample jumps in gain.
    ratio = ducked[music != 0] / music[music != 0]
    assert np.max(np.abs(np.diff(ratio))) < 0.01


def test_duck_leaves_music_alone_without_dialogue():
    music = np.full(8000, 0.25, dtype=np.float32)
    assert np.allclose(duck(music, np.zeros(100, dtype=np.float32), 8000), music)


def test_limiter_holds_the_ceiling_and_leaves_quiet_parts():
    rate = 16000
    signal = (0.1 * np.sin(2 * np.pi * 200 * np.arange(rate) / rate)).astype(np.float32)
    signal[8000:8200] *= 9.0
    limited = limit_peaks(signal, 0.5, rate)
    assert np.max(np.abs(limited)) <= 0.5 + 1e-6
    assert np.allclose(limited[:6000], signal[:6000], atol=1e-6)


def test_wav_round_trip_and_resample(tmp_path):
    rate = 22050
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    write_wav(tmp_path / "mono.wav", tone, rate)
    back, back_rate = read_wav(tmp_path / "mono.wav")
    assert back_rate == rate and back.shape == tone.shape
    assert np.max(np.abs(back - tone)) < 1e-4
    write_wav(tmp_path / "stereo.wav", np.stack([tone, -tone], axis=1), rate)
    assert read_wav(tmp_path / "stereo.wav")[0].shape == (rate, 2)

    upsampled = resample(tone, rate, 48000)
    assert len(upsampled) == 48000
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)
    assert np.max(np.abs(upsampled - expected)[500:-500]) < 1e-3
    with pytest.raises(MediaError):
        read_wav(tmp_path / "missing.wav")


@pytest.fixture(scope="module")
def scene_wavs(tmp_path_factory) -> list[Path]:
    """Two real dialogue scenes; the second at espeak's own rate and longer than its scene."""
    folder = tmp_path_factory.mktemp("scenes")
    voice = EspeakVoice()
    first = [SpokenLine("Mei", "You lied to me.", voice_for_character(0, "female", "en"))]
    track, _ = render_scene_dialogue(first, 3.0, voice, sample_rate=48000)
    write_wav(folder / "scene1.wav", track, 48000)
    second = [SpokenLine("Jun", "我没有骗你，请相信我。", voice_for_character(1, "male", "zh"))]
    track, _ = render_scene_dialogue(second, 3.5, voice, sample_rate=voice.sample_rate)
    write_wav(folder / "scene2.wav", track, voice.sample_rate)
    return [folder / "scene1.wav", folder / "scene2.wav"]


def test_episode_mix_has_exact_length_format_and_target_loudness(scene_wavs, tmp_path):
    durations = [3.0, 2.5]  # the second scene's WAV (3.5 s) is trimmed to 2.5 s
    out = tmp_path / "episode.wav"
    mix_episode(scene_wavs, durations, "tense", out)
    samples, rate = read_wav(out)
    assert rate == 48000
    assert samples.shape == (round(5.5 * 48000), 2)
    assert integrated_loudness(out) == pytest.approx(-16.0, abs=1.5)
    # Music fills the pause after the first scene's line, well below the speech.
    pause = db(rms(samples[int(2.0 * rate) : int(2.9 * rate)]))
    speech = db(rms(samples[int(3.5 * rate) : int(4.5 * rate)]))
    assert -50.0 < pause < speech - 8.0
    assert not list(tmp_path.glob(".*part*"))


def test_episode_mix_without_music_keeps_timeline_and_loudness(scene_wavs, tmp_path):
    out = tmp_path / "dry.wav"
    mix_episode(scene_wavs, [3.0, 3.5], "sad", out, music_enabled=False, target_lufs=-20.0)
    samples, rate = read_wav(out)
    assert samples.shape == (round(6.5 * 48000), 2)
    assert integrated_loudness(out) == pytest.approx(-20.0, abs=1.5)
    # The second scene starts exactly at 3.0 s: silence up to its lead-in.
    assert np.max(np.abs(samples[int(3.02 * rate) : int(3.2 * rate)])) < 1e-3


def test_silent_episode_is_written_as_silence(tmp_path):
    quiet = tmp_path / "quiet.wav"
    write_wav(quiet, np.zeros(4800, dtype=np.float32), 48000)
    out = tmp_path / "silent.wav"
    mix_episode([quiet], [1.5], "sad", out, music_enabled=False)
    samples, rate = read_wav(out)
    assert samples.shape == (72000, 2) and not samples.any()


def test_mismatched_scene_count_is_a_media_error(scene_wavs, tmp_path):
    with pytest.raises(MediaError, match="scenes"):
        mix_episode(scene_wavs, [3.0], "tense", tmp_path / "x.wav")


def test_the_music_stem_is_the_mix_where_nobody_speaks_and_quiet_under_speech(scene_wavs, tmp_path):
    """The stem an editor gets beside the mix: the ducked bed at the mix's own gain."""
    out, stem_path = tmp_path / "episode.wav", tmp_path / "music.wav"
    mix_episode(scene_wavs, [3.0, 2.5], "tense", out, music_out=stem_path)
    mix, rate = read_wav(out)
    stem, stem_rate = read_wav(stem_path)
    assert stem_rate == rate and stem.shape == mix.shape
    pause = slice(int(2.0 * rate), int(2.9 * rate))  # no line is spoken here: the mix is the music alone
    assert np.max(np.abs(mix[pause] - stem[pause])) < 0.02 * max(np.max(np.abs(mix[pause])), 1e-3) + 2e-3
    speech = slice(int(3.5 * rate), int(4.5 * rate))
    assert db(rms(stem[speech])) < db(rms(mix[speech])) - 8.0, "under speech the stem is ducked, the mix is not"
    silent = tmp_path / "none.wav"
    mix_episode(scene_wavs, [3.0, 2.5], "tense", tmp_path / "dry.wav", music_enabled=False, music_out=silent)
    assert np.max(np.abs(read_wav(silent)[0])) == 0.0, "no music: a silent stem"
