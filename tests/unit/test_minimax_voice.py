"""MiniMax speech (T2A v2) against a fake on 127.0.0.1: the body MiniMax documents, hex audio decoded and
checked, errors inside HTTP 200 (rate limit retried; bad key, empty balance, sensitive text one line).
Rapid voice cloning: the sample uploaded (multipart, purpose voice_clone) and cloned under our own voice
id, its base_resp codes one clear line, a sample MiniMax cannot clone from refused before anything is
sent, and a character cloned once whose lines all name the clone."""

import wave
from pathlib import Path

import numpy as np
import pytest

from fakes.minimax_speech_server import FakeMiniMaxSpeech
from shortdrama.errors import ProviderError
from shortdrama.http import RetryPolicy
from shortdrama.voice.minimax import clone_id, clone_voice, speak
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


def sample(path: Path, seconds: float = 12.0, rate: int = 24000) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    pcm = (0.4 * np.sin(2 * np.pi * 180 * t) * (1 + 0.3 * np.sin(t)) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


NAME = "shortdrama clone:0123456789abcdef"


def test_cloning_uploads_the_sample_and_clones_it_under_our_own_voice_id(minimax, tmp_path):
    voice_id = clone_voice(minimax.base_url, "MM_KEY", NAME, [sample(tmp_path / "lin.wav")], FAST)
    assert voice_id == "shortdrama-clone-0123456789abcdef"
    (upload,) = minimax.uploads
    assert (upload["purpose"], upload["filename"], upload["content_type"]) == ("voice_clone", "lin.wav", "audio/wav")
    assert minimax.clones == [{"file_id": upload["file_id"], "voice_id": voice_id}], "the int64 file_id as given"
    samples, _rate = decode_wav(say(minimax, voice=voice_id), "test")
    assert samples.size > 0 and minimax.bodies[-1]["voice_setting"]["voice_id"] == voice_id


@pytest.mark.parametrize("name, expected", [(NAME, "shortdrama-clone-0123456789abcdef"), ("7 lin", "v7-lin-voice01"),
                                            ("x" * 300 + "_", "x" * 256)])
def test_our_voice_ids_follow_minimaxs_rules(name, expected):
    assert clone_id(name) == expected


@pytest.mark.parametrize("code, message", [("2037", "10 s to 5 min"), ("1043", "ASR similarity"),
                                           ("2038", "cloning is disabled"), ("1008", "balance is used up"),
                                           ("20132", "refused the sample or the voice id")])
def test_clone_refusals_are_one_clear_line(minimax, tmp_path, code, message):
    minimax.clone_faults.append(code)
    with pytest.raises(ProviderError, match=f"minimax voice cloning: .*{message}.*code {code}") as error:
        clone_voice(minimax.base_url, "MM_KEY", NAME, [sample(tmp_path / "lin.wav")], FAST)
    assert "\n" not in str(error.value) and KEY not in str(error.value)
    assert len(minimax.clones) == 1, "not retried"


def test_a_rate_limited_clone_is_retried_and_a_voice_minimax_already_has_is_used_again(minimax, tmp_path):
    minimax.clone_faults.append("1002")
    first = clone_voice(minimax.base_url, "MM_KEY", NAME, [sample(tmp_path / "lin.wav")], FAST)
    again = clone_voice(minimax.base_url, "MM_KEY", NAME, [tmp_path / "lin.wav"], FAST)
    assert first == again and len(minimax.clones) == 3 and minimax.voices == {first}, "2039: cloned before, not twice"


@pytest.mark.parametrize("make, message", [(lambda p: sample(p.with_suffix(".wav"), seconds=5.0), "5.0 s long"),
                                           (lambda p: sample(p.with_suffix(".flac")), "mp3, m4a or wav")])
def test_a_sample_minimax_cannot_clone_from_is_refused_before_anything_is_sent(minimax, tmp_path, make, message):
    path = make(tmp_path / "lin")
    with pytest.raises(ProviderError, match=message):
        clone_voice(minimax.base_url, "MM_KEY", NAME, [path], FAST)
    assert minimax.uploads == [] and minimax.clones == []


def test_a_missing_key_clones_nothing(minimax, tmp_path, monkeypatch):
    monkeypatch.delenv("MM_KEY")
    with pytest.raises(ProviderError, match="set the environment variable MM_KEY"):
        clone_voice(minimax.base_url, "MM_KEY", NAME, [sample(tmp_path / "lin.wav")], FAST)
    assert minimax.uploads == []


def test_a_cloned_character_is_cloned_once_and_every_line_names_the_clone(minimax, tmp_path):
    from shortdrama.config import load_config
    from shortdrama.cost.call import Runtime
    from shortdrama.cost.ledger import Ledger
    from shortdrama.voice.base import VoiceSpec
    from shortdrama.voice.hosted import HostedLineVoice, cast_hosted_voice

    sample(tmp_path / "lin.wav")
    cfg = load_config(["voice=minimax", f"voice.base_url={minimax.base_url}", "voice.api_key_env=MM_KEY",
                       "+series.cast.xiaoyu.voice.minimax_speech.sample=lin.wav"])
    cast = cast_hosted_voice(cfg.voice, cfg, "xiaoyu", tmp_path)
    runtime = Runtime(output_dir=tmp_path / "results", cache_dir=tmp_path / "cache", cache_enabled=True,
                      budget=cfg.budget, providers={"voice": cfg.voice.model_dump(mode="json")})
    spec = VoiceSpec(language="zh", variant=cast["voice"], pitch=50, rate=165)
    for scene, text in ((1, "你签了它。"), (1, "我不签。"), (2, "你签了它。")):
        line = HostedLineVoice(cfg.voice, runtime, 1, scene, {cast["voice"]: cast["sample"]})
        assert line.synthesize(text, spec).size > 0
    assert len(minimax.uploads) == 1 and len(minimax.clones) == 1, "one upload and one clone for the character"
    cloned = minimax.clones[0]["voice_id"]
    assert cloned == "shortdrama-clone-" + cast["voice"].removeprefix("clone:")
    assert [b["voice_setting"]["voice_id"] for b in minimax.bodies] == [cloned, cloned], "the repeat from the cache"
    entries = [(e.step, e.cache) for e in Ledger(tmp_path / "results/ledger.jsonl").entries()]
    assert entries.count(("voice_clone", "miss")) == 1 and entries.count(("voice_clone", "hit")) == 1
    assert entries.count(("speech_line", "miss")) == 2 and entries.count(("speech_line", "hit")) == 1
