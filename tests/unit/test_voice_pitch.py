"""A cast member's pitch (series.cast.<id>.voice.<provider>.pitch, semitones): MiniMax gets it as its own
voice_setting.pitch; every other voice's answer is shifted locally (the same length, the pitch moved by
exactly that interval); a character with no pitch named is spoken and keyed exactly as before."""

import numpy as np
import pytest

from fakes.minimax_speech_server import FakeMiniMaxSpeech
from fakes.speech_server import FakeSpeech
from shortdrama.config import load_config
from shortdrama.cost.call import Runtime
from shortdrama.schemas import Scene
from shortdrama.stages.audio import DialogueSpec
from shortdrama.voice.base import PitchedVoice, VoiceSpec, pitch_shift
from shortdrama.voice.hosted import HostedLineVoice, cast_hosted_voice

RATE = 24000


def dominant(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[spectrum.argmax()])


def tone(hz: float = 220.0, seconds: float = 1.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * hz * np.arange(int(RATE * seconds)) / RATE)).astype(np.float32)


def test_a_shift_moves_the_pitch_by_the_interval_and_keeps_the_length():
    up = pitch_shift(tone(), 12, RATE)
    assert dominant(up, RATE) == pytest.approx(440, abs=6) and up.size == pytest.approx(RATE, rel=0.02)
    down = pitch_shift(tone(), -5, RATE)
    assert dominant(down, RATE) == pytest.approx(220 * 2 ** (-5 / 12), abs=4)
    assert pitch_shift(tone(), 0, RATE) is not None and np.array_equal(pitch_shift(tone(), 0, RATE), tone())


class Sine:
    sample_rate = RATE

    def synthesize(self, text, spec):  # noqa: ANN001
        assert spec.semitones == 0, "the inner voice is asked at its own pitch"
        return tone()


def test_offline_voices_are_shifted_by_the_cast_entrys_semitones():
    spec = VoiceSpec(language="en-us", variant="f2", pitch=50, rate=165, semitones=7)
    assert dominant(PitchedVoice(Sine()).synthesize("hi", spec), RATE) == pytest.approx(220 * 2 ** (7 / 12), abs=5)


def _scene(speaker: str) -> Scene:
    return Scene.model_validate({"location": {"setting": "INT", "description": "the hall"}, "duration": 4,
                                 "characters": [speaker], "dialogue": [{"speaker": speaker, "text": "Enough."}],
                                 "action": "She stands.", "camera": "static"})


def test_the_pitch_is_in_the_spec_only_where_named():
    plain = load_config([])
    named = load_config(["+series.cast.xiaoyu.voice.espeak.pitch=-3"])
    scene = _scene("Lin Xiaoyu")
    assert "pitch" not in DialogueSpec.of(plain, scene).voices["Lin Xiaoyu"]
    assert DialogueSpec.of(named, scene).voices["Lin Xiaoyu"]["pitch"] == -3
    assert DialogueSpec.of(named, _scene("Chen Haoyu")).to_json() == DialogueSpec.of(plain, _scene("Chen Haoyu")).to_json()


def test_minimax_takes_the_pitch_itself_and_openai_answers_are_shifted(tmp_path, monkeypatch):
    monkeypatch.setenv("MM_KEY", "mm-pitch-1")
    monkeypatch.setenv("SPEECH_KEY", "sk-pitch-1")
    with FakeMiniMaxSpeech(api_key="mm-pitch-1") as minimax, FakeSpeech(api_key="sk-pitch-1") as openai:
        for overrides, server in ((["voice=minimax", "voice.api_key_env=MM_KEY"], minimax),
                                  (["voice=openai_tts", "voice.api_key_env=SPEECH_KEY"], openai)):
            cfg = load_config([*overrides, f"voice.base_url={server.base_url}"])
            runtime = Runtime(output_dir=tmp_path / cfg.voice.provider, cache_dir=tmp_path / "cache", cache_enabled=True,
                              budget=cfg.budget, providers={"voice": cfg.voice.model_dump(mode="json")})
            cast = cast_hosted_voice(cfg.voice, cfg, "xiaoyu", tmp_path)
            line = HostedLineVoice(cfg.voice, runtime, 1, 1)
            plain = line.synthesize("I will not sign it.", VoiceSpec("en", cast["voice"], 50, 165))
            higher = line.synthesize("I will not sign it.", VoiceSpec("en", cast["voice"], 50, 165, semitones=12))
            assert len(server.bodies) == 2, "a pitched line is its own request"
            if server is minimax:
                assert [b["voice_setting"]["pitch"] for b in minimax.bodies] == [0, 12]
            else:
                assert all("pitch" not in b for b in openai.bodies), "OpenAI has no pitch: shifted here"
                assert dominant(higher, line.sample_rate) == pytest.approx(2 * dominant(plain, line.sample_rate), rel=0.03)
