"""The OpenAI-compatible speech client against a fake server on 127.0.0.1: the body OpenAI documents,
the key only in the Authorization header, its faults (429 with Retry-After, 5xx, a missing key, a
wrong key) and answers that must never be cached (not audio, truncated, silent)."""

import pytest

from fakes.speech_server import FakeSpeech
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.voice.speech_api import SpeechRequest, decode_wav, synthesize

KEY = "sk-speech-test-7781"
FAST = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0, request_timeout_s=0.5)


@pytest.fixture
def speech(monkeypatch):
    monkeypatch.setenv("SPEECH_KEY", KEY)
    with FakeSpeech(api_key=KEY) as server:
        yield server


def say(server, **kwargs) -> bytes:
    request = SpeechRequest(**{"text": "I will not sign it.", "voice": "coral", **kwargs})
    return synthesize(server.base_url, "SPEECH_KEY", request, FAST, sleep=lambda s: None)


def test_a_line_is_asked_as_openai_documents_and_answered_with_audio(speech):
    audio = say(speech, instructions="cold, barely above a whisper", speed=0.9)
    samples, rate = decode_wav(audio, "test")
    assert rate == 24000 and samples.size / rate > 1.0 and abs(samples).max() > 0.2
    assert speech.bodies == [{"model": "gpt-4o-mini-tts", "input": "I will not sign it.", "voice": "coral",
                              "response_format": "wav", "speed": 0.9, "instructions": "cold, barely above a whisper"}]
    say(speech, model="tts-1", instructions="angry")
    assert "instructions" not in speech.bodies[-1], "tts-1 takes no instructions"
    say(speech, voice={"id": "voice_1234"})
    assert speech.bodies[-1]["voice"] == {"id": "voice_1234"}


@pytest.mark.parametrize("fault", ["429", "500"])
def test_a_rate_limit_or_server_error_is_retried(speech, fault):
    speech.faults.append(fault)
    decode_wav(say(speech), "test")
    assert len(speech.bodies) == 2


@pytest.mark.parametrize("fault, message", [("html", "not WAV audio"), ("json200", "not WAV audio"),
                                            ("truncated", "truncated audio"), ("silence", "silent")])
def test_an_answer_that_is_not_whole_audible_audio_is_an_error(speech, fault, message):
    speech.faults.append(fault)
    with pytest.raises(ProviderError, match=message):
        say(speech)


def test_a_missing_key_sends_nothing_and_a_wrong_one_says_what_the_api_said(speech, monkeypatch):
    monkeypatch.delenv("SPEECH_KEY")
    with pytest.raises(ProviderError, match="set the environment variable SPEECH_KEY") as missing:
        say(speech)
    assert speech.authorized == [] and KEY not in str(missing.value)
    monkeypatch.setenv("SPEECH_KEY", "sk-wrong")
    with pytest.raises(ProviderError, match="HTTP 401: Incorrect API key provided") as wrong:
        say(speech)
    assert "sk-wrong" not in str(wrong.value)


def test_requests_the_api_would_refuse_are_refused_before_sending(speech):
    for kwargs, message in (({"text": "  "}, "empty text"), ({"speed": 5.0}, "outside 0.25-4"),
                            ({"text": "x" * 4097}, "at most 4096")):
        with pytest.raises(ProviderError, match=message):
            say(speech, **kwargs)
    assert speech.bodies == []
