"""A local Piper-style ONNX voice, run with onnxruntime on a tiny model of the same interface built in
code: phonemes from the bundled eSpeak NG, Piper's phoneme ids, one speaker per character, and a scene
spoken through the real dialogue step (cues, the cache, the ledger) with nothing downloaded."""

import json

import numpy as np
import pytest

from shortdrama.errors import ConfigError
from shortdrama.testing.tiny_piper import build_tiny_piper
from shortdrama.voice.base import VoiceSpec
from shortdrama.voice.espeak import phonemize
from shortdrama.voice.piper import PiperVoice


def test_espeak_reads_text_into_ipa_with_its_final_punctuation():
    assert phonemize("Sign it.", "en-us").endswith(".") and "ˈ" in phonemize("Sign it.", "en-us")
    assert phonemize("你签了它。", "cmn")


def test_a_line_becomes_piper_ids_and_audio_one_hop_per_id(tmp_path):
    voice = PiperVoice(build_tiny_piper(tmp_path, hop=160))
    ids = voice.phoneme_ids("hɛ.")
    assert ids == [1, 0, *voice.id_map["h"], 0, *voice.id_map["ɛ"], 0, *voice.id_map["."], 0, 2]
    voice.phoneme_ids("h☃")  # an unknown symbol is dropped, not an error
    audio = voice.synthesize("Sign it.", VoiceSpec("en-us", "sid0", 50, 165))
    assert audio.dtype == np.float32 and audio.size == 160 * len(voice.phoneme_ids(phonemize("Sign it.", "en-us")))
    assert 0.1 < np.abs(audio).max() <= 1.0


def test_each_character_speaks_as_its_own_speaker(tmp_path):
    voice = PiperVoice(build_tiny_piper(tmp_path, speakers=3))
    one, two = (voice.synthesize("Sign it.", VoiceSpec("en-us", f"sid{n}", 50, 165)) for n in (0, 1))
    assert one.shape == two.shape and not np.allclose(one, two)


def test_a_missing_or_broken_voice_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="needs voice.model_path"):
        PiperVoice("")
    with pytest.raises(ConfigError, match="a .onnx file with its .onnx.json"):
        PiperVoice(tmp_path / "none.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    (tmp_path / "bad.onnx.json").write_text(json.dumps({"audio": {"sample_rate": 16000}, "phoneme_id_map": {}}))
    with pytest.raises(ConfigError, match="onnxruntime cannot load it"):
        PiperVoice(tmp_path / "bad.onnx")


def test_a_scene_is_spoken_with_the_piper_voice_through_the_dialogue_step(tmp_path):
    from shortdrama.config import load_config
    from shortdrama.cost.call import Runtime
    from shortdrama.schemas import DialogueLine, Location, Scene
    from shortdrama.stages.audio import DialogueSpec, speak_dialogue

    model = build_tiny_piper(tmp_path / "voices", speakers=4)
    cfg = load_config(["voice=piper", f"voice.model_path={model}"])
    lead, rival = cfg.series.cast["xiaoyu"].name, cfg.series.cast["meifang"].name
    scene = Scene(location=Location(setting="INT", description="A kitchen"), duration=5.0, characters=[lead, rival],
                  dialogue=[DialogueLine(speaker=lead, text="Sign it."), DialogueLine(speaker=rival, text="Never.")],
                  action="They argue.", camera="close-up")
    runtime = Runtime(output_dir=tmp_path / "results", cache_dir=tmp_path / "cache", cache_enabled=True,
                      budget=cfg.budget, providers={"voice": cfg.voice.model_dump(mode="json")})
    spec = DialogueSpec.of(cfg, scene)
    assert spec.voice == {"provider": "piper", "model": "piper", "rate": 165, "model_path": str(model)}
    speak_dialogue(spec.to_json(), tmp_path / "sc01.wav", tmp_path / "sc01.cues.json", 1, 1, runtime=runtime)
    cues = json.loads((tmp_path / "sc01.cues.json").read_text())
    assert [c["text"] for c in cues] == ["Sign it.", "Never."] and all(c["end"] > c["start"] for c in cues)
