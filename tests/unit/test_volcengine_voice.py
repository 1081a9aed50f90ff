"""Volcengine speech synthesis (HTTP one-shot V1) against a fake on 127.0.0.1: the body and `Bearer;` header
Volcengine documents, base64 audio decoded and checked, its codes retried (3003, 3005, 5xx, 429) or turned
into one line (3050, bad token, used-up quota), nothing sent without the token or the app id, the token in
no error; and a line through the cost layer with the preset's voices and emotions."""

import base64
from pathlib import Path

import pytest

from fakes.volcengine_speech_server import FakeVolcengineSpeech
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.voice.speech_api import decode_wav
from shortdrama.voice.volcengine import speak

TOKEN, APP_ID = "volc-token-7781", "4242424242"
FEMALE = "zh_female_gaolengyujie_emo_v2_mars_bigtts"
FAST = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0, request_timeout_s=2.0)


@pytest.fixture
def volc(monkeypatch):
    monkeypatch.setenv("VOLC_TOKEN", TOKEN)
    monkeypatch.setenv("VOLC_APPID", APP_ID)
    with FakeVolcengineSpeech(token=TOKEN, app_id=APP_ID) as server:
        yield server


def say(server, **kwargs) -> bytes:
    return speak(server.base_url, kwargs.pop("key_env", "VOLC_TOKEN"), kwargs.pop("app_id_env", "VOLC_APPID"),
                 kwargs.pop("voice", FEMALE), kwargs.pop("text", "你签了它。"), "volcano_tts",
                 kwargs.pop("speed", 1.0), FAST, **kwargs)


def test_a_line_is_asked_as_volcengine_documents_and_the_base64_audio_decoded(volc):
    samples, rate = decode_wav(say(volc, speed=1.3, emotion="angry"), "test")
    assert rate == 24000 and samples.size > 0
    (body,) = volc.bodies
    assert volc.headers[0]["Authorization"] == f"Bearer;{TOKEN}"
    assert body["app"] == {"appid": APP_ID, "token": "access_token", "cluster": "volcano_tts"}, "token: header only"
    assert body["audio"] == {"voice_type": FEMALE, "encoding": "wav", "rate": 24000, "speed_ratio": 1.3,
                             "emotion": "angry", "enable_emotion": True}
    assert body["request"]["text"] == "你签了它。" and body["request"]["operation"] == "query"
    assert len(body["request"]["reqid"]) == 36 and body["user"]["uid"]
    say(volc, voice="zh_female_cancan_mars_bigtts", emotion="angry", speed=0.5)
    plain = volc.bodies[-1]["audio"]
    assert "emotion" not in plain and "enable_emotion" not in plain, "only multi-emotion voices take an emotion"
    assert plain["speed_ratio"] == 0.8, "Volcengine's speed_ratio range is 0.8-2"


@pytest.mark.parametrize("fault", ["3003", "3005", "3005@500", "3030@504", "html500", "429"])
def test_concurrency_busy_timeouts_and_5xx_are_retried_each_with_a_new_reqid(volc, fault):
    volc.faults.append(fault)
    decode_wav(say(volc), "test")
    first, second = volc.bodies
    assert first["request"]["reqid"] != second["request"]["reqid"], "Volcengine answers 3006 to a reqid it has seen"


@pytest.mark.parametrize("fault, message", [
    ("3050", f"no voice_type {FEMALE}"), ("3050@400", f"no voice_type {FEMALE}"),
    ("3011", "no speakable text"), ("3001@400", "refused the request as invalid"),
    ("lifetime", "quota is used up"), ("nobase64", "not base64"), ("truncated", "truncated audio"),
    ("notaudio", "not WAV audio")])
def test_refusals_and_broken_audio_are_one_clear_line_and_not_retried(volc, fault, message):
    volc.faults.append(fault)
    with pytest.raises(ProviderError, match=message) as error:
        say(volc)
    assert "\n" not in str(error.value) and TOKEN not in str(error.value)
    assert len(volc.bodies) == 1


def test_an_unknown_voice_from_the_server_itself_is_one_line(volc):
    with pytest.raises(ProviderError, match="no voice_type zh_female_nobody_bigtts: check the preset"):
        say(volc, voice="zh_female_nobody_bigtts")


def test_a_wrong_token_is_named_and_never_shown(volc, monkeypatch):
    monkeypatch.setenv("VOLC_TOKEN", "volc-wrong-0001")
    with pytest.raises(ProviderError, match="refused the token and app id .*HTTP 401.*grant not found") as error:
        say(volc)
    assert "volc-wrong-0001" not in str(error.value) and "\n" not in str(error.value)
    assert volc.bodies == [], "the fake saw no authenticated request"


@pytest.mark.parametrize("unset, message", [("VOLC_TOKEN", "set the environment variable VOLC_TOKEN"),
                                            ("VOLC_APPID", "set the environment variable VOLC_APPID to your app id")])
def test_a_missing_token_or_app_id_is_one_line_and_nothing_is_sent(volc, monkeypatch, unset, message):
    monkeypatch.delenv(unset)
    with pytest.raises(ProviderError, match=message) as error:
        say(volc)
    assert "\n" not in str(error.value) and volc.bodies == [] and volc.headers == []


def test_a_line_over_volcengines_1024_bytes_is_refused_before_sending(volc):
    with pytest.raises(ProviderError, match="1029 bytes of UTF-8 .* at most 1024"):
        say(volc, text="你" * 343)
    assert volc.bodies == []


def test_a_hosted_line_uses_the_preset_and_volcengines_own_emotions(volc, tmp_path):
    """The preset as composed (conf/voice/volcengine.yaml, validated as VoiceConfig) through the cost layer:
    an emotion becomes Volcengine's value, a repeated line comes from the cache."""
    import yaml

    from shortdrama.config import BudgetConfig, VoiceConfig
    from shortdrama.cost.call import Runtime
    from shortdrama.voice.base import VoiceSpec
    from shortdrama.voice.hosted import HostedLineVoice

    preset = yaml.safe_load((Path(__file__).parents[2] / "conf/voice/volcengine.yaml").read_text(encoding="utf-8"))
    voice = VoiceConfig.model_validate({**preset, "base_url": volc.base_url, "api_key_env": "VOLC_TOKEN",
                                        "app_id_env": "VOLC_APPID"})
    assert voice.result_fields() == {"provider": "volcengine_speech", "model": "volcano_tts", "speed": 1.0}
    assert set(voice.catalogue["female"]) | set(voice.catalogue["male"]) >= {FEMALE}
    runtime = Runtime(output_dir=tmp_path / "results", cache_dir=tmp_path / "cache", cache_enabled=True,
                      budget=BudgetConfig(series_usd=1.0), providers={"voice": voice.model_dump(mode="json")})
    line = HostedLineVoice(voice, runtime, 1, 1)
    for text in ("你签了它。", "你签了它。"):
        assert line.synthesize(text, VoiceSpec("zh", FEMALE, 50, 165, "terrified")).size > 0
    line.synthesize("滚出去！", VoiceSpec("zh", FEMALE, 50, 165, "disgust"))
    assert [b["audio"]["emotion"] for b in volc.bodies] == ["fear", "hate"], "the repeat came from the cache"


def test_the_fake_answers_base64_wav_as_volcengine_documents(volc):
    """The fake's own contract (so the adapter is tested against the documented shape)."""
    import httpx

    body = {"app": {"appid": APP_ID, "token": "t", "cluster": "volcano_tts"}, "user": {"uid": "u"},
            "audio": {"voice_type": FEMALE, "encoding": "wav"},
            "request": {"reqid": "r-1", "text": "好", "operation": "query"}}
    reply = httpx.post(f"{volc.base_url}/tts", json=body, headers={"Authorization": f"Bearer;{TOKEN}"}).json()
    assert reply["code"] == 3000 and reply["sequence"] == -1 and base64.b64decode(reply["data"])[:4] == b"RIFF"
    again = httpx.post(f"{volc.base_url}/tts", json=body, headers={"Authorization": f"Bearer;{TOKEN}"}).json()
    assert again["code"] == 3006


def test_words_map_to_volcengines_own_emotions():
    from shortdrama.voice import emotion

    assert [emotion.volcengine(w) for w in ("furious", "terrified", "disgust", "excited", "cold", "depressed")] == \
        ["angry", "fear", "hate", "excited", "coldness", "depressed"]
    assert emotion.volcengine("smug") is None and emotion.volcengine(None) is None


def test_the_build_asks_for_the_token_and_the_app_id_before_any_job():
    from shortdrama.config import load_config
    from shortdrama.credentials import missing_keys

    cfg = load_config(["voice=volcengine"])
    (need,) = [n for n in missing_keys(cfg, environ={}) if n.group == "voice"]
    assert need.variables == ("VOLCENGINE_TTS_TOKEN", "VOLCENGINE_TTS_APPID") and need.option == "voice=volcengine"
    assert not [n for n in missing_keys(cfg, {"VOLCENGINE_TTS_TOKEN": "t", "VOLCENGINE_TTS_APPID": "1"})
                if n.group == "voice"]
