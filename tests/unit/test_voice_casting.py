"""Voice casting written down (shortdrama.voice.casting): without a record, casting is what the config
alone gives; with one, adding or reordering cast members never moves a recorded character to another voice,
for hosted catalogues and for the offline voices' indices alike."""

import json

import pytest

from shortdrama.config import load_config
from shortdrama.config.models import CharacterConfig
from shortdrama.errors import ConfigError
from shortdrama.schemas import Scene
from shortdrama.stages.audio import DialogueSpec
from shortdrama.voice.casting import age_of, casting, catalogue_voices, offline_indices, read_record, record_casting


def with_newcomer_first(cfg, newcomer: CharacterConfig, cid: str = "lan"):
    series = cfg.series.model_copy(update={"cast": {cid: newcomer, **cfg.series.cast}})
    return cfg.model_copy(update={"series": series})


NEWCOMER = CharacterConfig(name="Su Lan", role="the cousin", look="a woman in a red coat", gender="female")


def test_without_a_record_each_gender_takes_the_catalogue_in_cast_order():
    cfg = load_config(["voice=openai_tts"])
    assert catalogue_voices(cfg.voice, cfg) == {"xiaoyu": "coral", "meifang": "nova", "haoyu": "onyx"}


def test_a_newcomer_before_the_recorded_cast_takes_a_free_voice_and_nobody_is_recast(tmp_path):
    cfg = load_config(["voice=openai_tts"])
    path = tmp_path / "voices.json"
    assert record_casting(path, cfg.voice, cfg) and not record_casting(path, cfg.voice, cfg), "written once"
    grown = with_newcomer_first(cfg, NEWCOMER)
    unrecorded = catalogue_voices(grown.voice, grown)
    assert unrecorded["xiaoyu"] != "coral", "without the record the newcomer would have taken Xiaoyu's voice"
    cast = catalogue_voices(grown.voice, grown, read_record(path))
    assert {k: cast[k] for k in ("xiaoyu", "meifang", "haoyu")} == {"xiaoyu": "coral", "meifang": "nova", "haoyu": "onyx"}
    assert cast["lan"] not in ("coral", "nova", "onyx") and cast["lan"] in grown.voice.catalogue["female"]
    assert record_casting(path, grown.voice, grown)
    assert json.loads(path.read_text())["openai_speech"]["lan"] == {"voice": cast["lan"]}


def test_the_offline_voices_keep_their_indices_too(tmp_path):
    cfg = load_config([])
    path = tmp_path / "voices.json"
    record_casting(path, cfg.voice, cfg)
    assert offline_indices(cfg, "espeak") == {"xiaoyu": 0, "meifang": 1, "haoyu": 2}
    grown = with_newcomer_first(cfg, NEWCOMER)
    assert offline_indices(grown, "espeak") == {"lan": 0, "xiaoyu": 1, "meifang": 2, "haoyu": 3}
    assert offline_indices(grown, "espeak", read_record(path)) == {"xiaoyu": 0, "meifang": 1, "haoyu": 2, "lan": 3}
    scene = Scene.model_validate({"location": {"setting": "INT", "description": "the hall"}, "duration": 4,
                                  "characters": ["Lin Xiaoyu"], "dialogue": [{"speaker": "Lin Xiaoyu", "text": "Enough."}],
                                  "action": "She stands.", "camera": "static"})
    before = DialogueSpec.of(cfg, scene).to_json()
    assert DialogueSpec.of(grown, scene, record=read_record(path)).to_json() == before, "her line is not spoken again"
    assert DialogueSpec.of(grown, scene).to_json() != before


def test_other_providers_entries_are_kept_and_a_broken_record_is_one_line(tmp_path):
    path = tmp_path / "voices.json"
    path.write_text(json.dumps({"elevenlabs": {"xiaoyu": {"voice": "21m00Tcm4TlvDq8ikWAM"}}}))
    cfg = load_config(["voice=openai_tts"])
    record_casting(path, cfg.voice, cfg)
    record = read_record(path)
    assert record["elevenlabs"] == {"xiaoyu": {"voice": "21m00Tcm4TlvDq8ikWAM"}} and "openai_speech" in record
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="voices.json: not a readable voice casting record"):
        read_record(path)


def test_age_words_pick_the_age_pool_when_the_preset_has_one():
    assert age_of(CharacterConfig(name="A", role="a student", look="teen girl")) == "young"
    assert age_of(CharacterConfig(name="B", role="the matriarch", look="older woman, grey hair")) == "old"
    assert age_of(CharacterConfig(name="C", role="the lawyer", look="navy suit")) is None
    cfg = load_config(["voice=openai_tts", "+voice.catalogue.female_old=[sage]", "+voice.catalogue.female_young=[shimmer]"])
    cast = catalogue_voices(cfg.voice, cfg)
    assert cast["meifang"] == "sage" and cast["xiaoyu"] == "shimmer", "older woman / young woman"
    assert casting(cfg.voice, cfg)["haoyu"] == {"voice": "onyx"}


def test_a_cloned_character_keeps_its_place_so_nobody_after_it_moves():
    cloned = load_config(["voice=elevenlabs", "+series.cast.xiaoyu.voice.elevenlabs.sample=refs/lin.wav"])
    plain = load_config(["voice=elevenlabs"])
    voices = catalogue_voices(cloned.voice, cloned)
    assert "xiaoyu" not in voices, "she speaks in her clone"
    assert voices["meifang"] == catalogue_voices(plain.voice, plain)["meifang"], "the next woman keeps her voice"
