"""MiniMax speech (T2A v2) against a fake on 127.0.0.1: the body MiniMax documents, hex audio decoded and
checked, errors inside HTTP 200 (rate limit retried; bad key, empty balance, sensitive text one line)."""

import pytest

from fakes.minimax_speech_server import FakeMiniMaxSpeech
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.voice.minimax import speak
from shortdrama.voice.speech_api import decode_wav

KEY = "mm-test-3301"
FAST = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0, request_timeout_s=2.0)


@pytest.fixture
def minimax(monkeypatch):
    monkeypatch.setenv("MM_KEY", KEY)
    with FakeMiniMaxSpeech(api_key=KEY) as server:
        yield server


def say(server, **kwargs) -> bytes:
    return speak(server.base_url, "MM_KEY", kwargs.pop("voice", "female-shaonv"), kwargs.pop("text", "你签了它。"),
                 "speech-02-hd", kwargs.pop("speed", 1.0), FAST, **kwargs)


def test_a_line_is_asked_as_minimax_documents_and_the_hex_audio_decoded(minimax):
    samples, rate = decode_wav(say(minimax, emotion="angry", speed=1.2), "test")
    assert rate == 24000 and samples.size > 0
    (body,) = minimax.bodies
    assert body["model"] == "speech-02-hd" and body["text"] == "你签了它。" and body["stream"] is False
    assert body["voice_setting"] == {"voice_id": "female-shaonv", "speed": 1.2, "vol": 1, "pitch": 0, "emotion": "angry"}
    assert body["audio_setting"]["format"] == "wav"
    say(minimax, emotion="smug")
    assert "emotion" not in minimax.bodies[-1]["voice_setting"], "only MiniMax's own emotions are sent"


def test_its_rate_limit_inside_http_200_is_retried(minimax):
    minimax.faults.append("1002")
    say(minimax)
    assert len(minimax.bodies) == 2


@pytest.mark.parametrize("fault, message", [("1008", "balance is used up"), ("1026", "sensitive"),
                                            ("nohex", "not hex")])
def test_refusals_and_broken_audio_are_one_line(minimax, fault, message):
    minimax.faults.append(fault)
    with pytest.raises(ProviderError, match=message) as error:
        say(minimax)
    assert "\n" not in str(error.value)


def test_a_wrong_key_is_named_and_never_shown(minimax, monkeypatch):
    monkeypatch.setenv("MM_KEY", "mm-wrong")
    with pytest.raises(ProviderError, match="refused the key") as error:
        say(minimax)
    assert "mm-wrong" not in str(error.value)
