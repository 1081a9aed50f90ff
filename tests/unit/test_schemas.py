import json

import pytest

from shortdrama.config import load_config
from shortdrama.errors import SchemaError
from shortdrama.schemas import CAMERA_DIRECTIONS, EpisodeScript, check_script, json_schemas, parse_script
from shortdrama.writers import make_writer
from shortdrama.writers.base import SeriesBrief


def _script() -> EpisodeScript:
    cfg = load_config()
    brief = SeriesBrief.from_config(cfg)
    writer = make_writer(cfg.llm)
    outline = writer.write_outline(brief)
    return writer.write_episode(brief, outline, outline.episodes[0])


def test_camera_direction_outside_the_vocabulary_is_rejected():
    assert len(CAMERA_DIRECTIONS) == 8
    data = json.loads(_script().model_dump_json())
    data["scenes"][0]["camera"] = "dolly"
    with pytest.raises(SchemaError, match="camera"):
        parse_script(json.dumps(data))


def test_negative_duration_is_rejected():
    data = json.loads(_script().model_dump_json())
    data["scenes"][0]["duration"] = -2
    with pytest.raises(SchemaError, match=r"scenes.0.duration: Input should be greater than 0"):
        parse_script(json.dumps(data))


def test_speakers_must_belong_to_the_cast():
    script = _script()
    script.scenes[0].dialogue[0].speaker = "Mystery Guest"
    with pytest.raises(SchemaError, match="speaker 'Mystery Guest' is not in the cast"):
        check_script(script, ["Lin Xiaoyu", "Zhang Meifang", "Chen Haoyu"])


def test_durations_must_sum_to_the_target():
    script = _script()
    check_script(script, ["Lin Xiaoyu", "Zhang Meifang", "Chen Haoyu"])
    script.scenes[0].duration += 3
    with pytest.raises(SchemaError, match="but the target is"):
        check_script(script, ["Lin Xiaoyu", "Zhang Meifang", "Chen Haoyu"])


def test_unknown_fields_are_rejected():
    data = json.loads(_script().model_dump_json())
    data["scenes"][0]["mood_lighting"] = "noir"
    with pytest.raises(SchemaError, match="Extra inputs are not permitted"):
        parse_script(json.dumps(data))


def test_json_schemas_export_and_match_the_committed_copies(repo):
    schemas = json_schemas()
    assert set(schemas) == {"outline.schema.json", "episode_script.schema.json", "character.schema.json"}
    scene = schemas["episode_script.schema.json"]["$defs"]["Scene"]
    assert set(scene["properties"]["camera"]["enum"]) == set(CAMERA_DIRECTIONS)
    for name, schema in schemas.items():
        committed = json.loads((repo / "schemas" / name).read_text())
        assert committed == schema, f"schemas/{name} is stale: run `shortdrama schema schemas/`"


def test_script_language_and_episode_number_must_match():
    script = _script()
    cast = ["Lin Xiaoyu", "Zhang Meifang", "Chen Haoyu"]
    check_script(script, cast, language="en", episode=1)
    with pytest.raises(SchemaError, match="series language is 'zh'"):
        check_script(script, cast, language="zh")
    with pytest.raises(SchemaError, match="the script of episode 2 says it is episode 1"):
        check_script(script, cast, episode=2)
