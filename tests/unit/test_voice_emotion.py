"""A line's emotion and delivery hints reach each voice as it can take them, and a line without hints
asks exactly what it asked before hints existed (its cache entry stays valid)."""

import json

import pytest

from fakes.elevenlabs_server import FakeElevenLabs
from fakes.minimax_speech_server import FakeMiniMaxSpeech
from fakes.speech_server import FakeSpeech
from shortdrama.schemas import DialogueLine
from shortdrama.voice import emotion
from shortdrama.voice.base import VoiceSpec, with_hints


def test_a_line_without_hints_is_written_as_before_and_hints_are_kept():
    plain = DialogueLine(speaker="Lin", text="Sign it.")
    assert plain.model_dump(mode="json") == {"speaker": "Lin", "text": "Sign it."}
    assert json.loads(plain.model_dump_json()) == {"speaker": "Lin", "text": "Sign it."}
    hinted = DialogueLine(speaker="Lin", text="Sign it.", emotion="furious", delivery="through her teeth")
    assert hinted.model_dump(mode="json")["emotion"] == "furious"


def test_words_map_to_what_each_provider_takes():
    assert emotion.basic("Furious") == "angry" and emotion.basic("terrified") == "fearful" and emotion.basic("smug") is None
    assert emotion.instructions("furious", "through her teeth") == "Speak furious; through her teeth."
    assert emotion.pace("sad") < 1 < emotion.pace("angry")
    assert emotion.elevenlabs_settings("shocked")["stability"] < 0.5 and emotion.elevenlabs_settings(None) == {}
    base = VoiceSpec(language="en-us", variant="f2", pitch=50, rate=165)
    angry, sad = with_hints(base, "angry", None, offline=True), with_hints(base, "sad", None, offline=True)
    assert angry.pitch > 50 and angry.rate > 165 and sad.pitch < 50 and sad.rate < 165
    assert with_hints(base, None, None, offline=True) is base
    assert with_hints(base, "angry", "low", offline=False) == VoiceSpec("en-us", "f2", 50, 165, "angry", "low")


def _voice(cfg_overrides, tmp_path, monkeypatch, key_env, key):
    from shortdrama.config import load_config
    from shortdrama.cost.call import Runtime
    from shortdrama.voice.hosted import HostedLineVoice

    monkeypatch.setenv(key_env, key)
    cfg = load_config(cfg_overrides)
    runtime = Runtime(output_dir=tmp_path / "results", cache_dir=tmp_path / "cache", cache_enabled=True,
                      budget=cfg.budget, providers={"voice": cfg.voice.model_dump(mode="json")})
    return HostedLineVoice(cfg.voice, runtime, 1, 1)


@pytest.mark.parametrize("model", ["gpt-4o-mini-tts", "tts-1"])
def test_openai_gets_instructions_or_pace(tmp_path, monkeypatch, model):
    with FakeSpeech(api_key="sk-e") as speech:
        voice = _voice(["voice=openai_tts", f"voice.base_url={speech.base_url}", f"voice.model={model}"],
                       tmp_path, monkeypatch, "OPENAI_API_KEY", "sk-e")
        voice.synthesize("Sign it.", VoiceSpec("en", "coral", 50, 165))
        voice.synthesize("Sign it!", VoiceSpec("en", "coral", 50, 165, "furious", "through her teeth"))
    plain, hinted = speech.bodies
    assert "instructions" not in plain and plain["speed"] == 1.0
    if model == "tts-1":
        assert "instructions" not in hinted and hinted["speed"] > 1.0
    else:
        assert hinted["instructions"] == "Speak furious; through her teeth." and hinted["speed"] == 1.0


def test_minimax_gets_its_emotion_and_elevenlabs_its_settings(tmp_path, monkeypatch):
    with FakeMiniMaxSpeech(api_key="mm-e") as minimax:
        voice = _voice(["voice=minimax", f"voice.base_url={minimax.base_url}"], tmp_path / "m", monkeypatch,
                       "MINIMAX_API_KEY", "mm-e")
        voice.synthesize("你签了它。", VoiceSpec("zh", "female-shaonv", 50, 165, "terrified"))
    assert minimax.bodies[0]["voice_setting"]["emotion"] == "fearful"
    with FakeElevenLabs(api_key="xi-e") as eleven:
        voice = _voice(["voice=elevenlabs", f"voice.base_url={eleven.base_url}"], tmp_path / "e", monkeypatch,
                       "ELEVENLABS_API_KEY", "xi-e")
        voice.synthesize("Sign it!", VoiceSpec("en", "JBFqnCBsd6RMkjVDRZzb", 50, 165, "angry"))
    assert eleven.speech[0]["voice_settings"]["stability"] == 0.3


def test_a_hosted_line_sped_up_to_fit_is_bought_once_and_stretched_here(tmp_path, monkeypatch):
    with FakeSpeech(api_key="sk-e") as speech:
        voice = _voice(["voice=openai_tts", f"voice.base_url={speech.base_url}"], tmp_path, monkeypatch,
                       "OPENAI_API_KEY", "sk-e")
        voice.base_rates = {"coral": 165}
        normal = voice.synthesize("I will not sign it, not today.", VoiceSpec("en", "coral", 50, 165))
        faster = voice.synthesize("I will not sign it, not today.", VoiceSpec("en", "coral", 50, 231))
    assert len(speech.bodies) == 1 and speech.bodies[0]["speed"] == 1.0, "bought once, at the voice's own speed"
    assert abs(faster.size / normal.size - 165 / 231) < 0.03
