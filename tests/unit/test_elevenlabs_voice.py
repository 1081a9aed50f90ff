"""ElevenLabs speech and instant voice cloning against a fake on 127.0.0.1 (its route, key header, PCM
answer and error shapes), and a hosted voice through the cost layer: a character cloned from a sample
once, however many lines; a line asked twice is bought once; a bad sample is one line."""

import wave
from pathlib import Path

import numpy as np
import pytest

from fakes.elevenlabs_server import FakeElevenLabs
from shortdrama.errors import ConfigError, ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.voice.elevenlabs import clone_voice, speak
from shortdrama.voice.speech_api import decode_wav

KEY = "xi-test-5521"
FAST = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0, request_timeout_s=2.0)


@pytest.fixture
def eleven(monkeypatch):
    monkeypatch.setenv("XI_KEY", KEY)
    with FakeElevenLabs(api_key=KEY) as server:
        yield server


def sample(path: Path, seconds: float = 5.0, amplitude: float = 0.4, rate: int = 44100) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    pcm = (np.clip(amplitude * np.sin(2 * np.pi * 180 * t) * (1 + 0.3 * np.sin(t)), -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def test_speech_is_asked_as_elevenlabs_documents_and_answered_with_pcm(eleven):
    audio = speak(eleven.base_url, "XI_KEY", "JBFqnCBsd6RMkjVDRZzb", "Sign it.", "eleven_multilingual_v2", 1.1, FAST)
    samples, rate = decode_wav(audio, "test")
    assert rate == 24000 and samples.size > 0
    (asked,) = eleven.speech
    assert asked["voice_id"] == "JBFqnCBsd6RMkjVDRZzb" and asked["output_format"] == "output_format=pcm_24000"
    assert asked["model_id"] == "eleven_multilingual_v2" and asked["voice_settings"]["speed"] == 1.1


@pytest.mark.parametrize("fault, message", [("json200", "not 16-bit PCM"), ("empty", "holds no samples|too short")])
def test_an_answer_that_is_not_speech_is_an_error(eleven, fault, message):
    eleven.faults.append(fault)
    with pytest.raises(ProviderError, match=message):
        speak(eleven.base_url, "XI_KEY", "v1", "Sign it.", "eleven_multilingual_v2", 1.0, FAST)


def test_rate_limits_are_retried_and_a_wrong_key_says_what_elevenlabs_said(eleven, monkeypatch):
    eleven.faults.append("429")
    speak(eleven.base_url, "XI_KEY", "v1", "Sign it.", "eleven_multilingual_v2", 1.0, FAST)
    assert len(eleven.speech) == 1
    monkeypatch.setenv("XI_KEY", "xi-wrong")
    with pytest.raises(ProviderError, match="HTTP 401: invalid_api_key: Invalid API key") as wrong:
        speak(eleven.base_url, "XI_KEY", "v1", "Sign it.", "eleven_multilingual_v2", 1.0, FAST)
    assert "xi-wrong" not in str(wrong.value)


def test_cloning_sends_the_sample_as_a_multipart_form(eleven, tmp_path):
    assert clone_voice(eleven.base_url, "XI_KEY", "lin", [sample(tmp_path / "lin.wav")], FAST) == "cloned001"
    assert eleven.clones[0]["fields"] == ["files", "name", "remove_background_noise"]


def test_a_cloned_character_is_cloned_once_and_each_line_bought_once(eleven, tmp_path):
    from shortdrama.config import load_config
    from shortdrama.cost.call import Runtime
    from shortdrama.cost.ledger import Ledger
    from shortdrama.voice.base import VoiceSpec
    from shortdrama.voice.hosted import HostedLineVoice, cast_hosted_voice

    sample(tmp_path / "lin.wav")
    cfg = load_config(["voice=openai_tts", "voice.provider=elevenlabs", "voice.model=eleven_multilingual_v2",
                       f"voice.base_url={eleven.base_url}", "voice.api_key_env=XI_KEY",
                       "+series.cast.xiaoyu.voice.elevenlabs.sample=lin.wav"])
    cast = cast_hosted_voice(cfg.voice, cfg, "xiaoyu", tmp_path)
    assert cast["voice"].startswith("clone:") and cast["sample"] == str(tmp_path / "lin.wav")
    runtime = Runtime(output_dir=tmp_path / "results", cache_dir=tmp_path / "cache", cache_enabled=True,
                      budget=cfg.budget, providers={"voice": cfg.voice.model_dump(mode="json")})
    voice = HostedLineVoice(cfg.voice, runtime, 1, 2, {cast["voice"]: cast["sample"]})
    spec = VoiceSpec(language="en", variant=cast["voice"], pitch=50, rate=165)
    for text in ("Sign it.", "Never.", "Sign it."):
        assert voice.synthesize(text, spec).size > 0
    assert len(eleven.clones) == 1, "cloned once"
    assert [s["text"] for s in eleven.speech] == ["Sign it.", "Never."], "the repeated line came from the cache"
    assert {s["voice_id"] for s in eleven.speech} == {"cloned001"}
    steps = [e.step for e in Ledger(tmp_path / "results/ledger.jsonl").entries()]
    assert steps.count("voice_clone") == 2 and steps.count("speech_line") == 3  # the second of each a hit


@pytest.mark.parametrize("make, message", [
    (lambda p: sample(p, seconds=1.0), "1.0 s long"), (lambda p: sample(p, amplitude=0.0), "silent"),
    (lambda p: sample(p, amplitude=3.0), "clipped"), (lambda p: sample(p, rate=8000), "8000 Hz"),
    (lambda p: p.write_bytes(b"not audio at all"), "not readable audio")])
def test_a_sample_unfit_to_clone_from_is_one_line(tmp_path, make, message):
    from shortdrama.voice.hosted import validate_sample

    make(tmp_path / "bad.wav")
    with pytest.raises(ConfigError, match=message) as error:
        validate_sample(str(tmp_path / "bad.wav"), "Lin Xiaoyu")
    assert "\n" not in str(error.value) and "Lin Xiaoyu" in str(error.value)
