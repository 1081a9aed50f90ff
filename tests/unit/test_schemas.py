import json

import pytest

from shortdrama.config import load_config
from shortdrama.errors import SchemaError
from shortdrama.schemas import (CAMERA_DIRECTIONS, EpisodeScript, check_script, json_schemas, parse_outline,
                                parse_script)
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


def test_target_duration_is_derived_from_the_scenes():
    data = json.loads(_script().model_dump_json())
    durations = [scene["duration"] for scene in data["scenes"]]
    assert data["target_duration"] == sum(durations)
    data["scenes"][0]["duration"] = durations[0] + 2.5  # a hand edit of one scene, target left stale
    edited = parse_script(json.dumps(data))
    check_script(edited, ["Lin Xiaoyu", "Zhang Meifang", "Chen Haoyu"])
    assert edited.target_duration == edited.duration == sum(durations) + 2.5
    assert json.loads(edited.model_dump_json())["target_duration"] == sum(durations) + 2.5
    del data["target_duration"]  # an old or hand-written document without it loads too
    assert parse_script(json.dumps(data)).target_duration == sum(durations) + 2.5
    data["target_duration"] = -1  # nor is a written value checked: it is never read
    assert parse_script(json.dumps(data)) == edited
    scenes = [{**data["scenes"][0], "duration": d} for d in (2.3, 2.9)]  # written rounded to the millisecond
    assert json.loads(parse_script(json.dumps({**data, "scenes": scenes})).model_dump_json())["target_duration"] == 5.2


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


# ------------------------------------------------------------------------------------- plain text

FORGED = "Run!\n\n99\n00:00:00,000 --> 00:00:04,500\nFORGED"


def _outline_data() -> dict:
    cfg = load_config()
    return json.loads(make_writer(cfg.llm).write_outline(SeriesBrief.from_config(cfg)).model_dump_json())


def _edit(data: dict, path: tuple, value) -> dict:
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize("path, value, problem", [
    (("scenes", 0, "dialogue", 0, "text"), "Hi\x00there",
     "scenes.0.dialogue.0.text: contains a control character U+0000 at character 3; "
     "write plain text without control characters"),
    (("scenes", 0, "dialogue", 0, "text"), FORGED,
     "scenes.0.dialogue.0.text: contains a line break U+000A at character 5; "
     "a dialogue entry is one line: give each line its own entry"),
    (("scenes", 0, "dialogue", 0, "text"), "Hi\u2028there",
     "scenes.0.dialogue.0.text: contains a line break U+2028 at character 3; "
     "a dialogue entry is one line: give each line its own entry"),
    (("title",), "Episode\x00One",
     "title: contains a control character U+0000 at character 8; write plain text without control characters"),
    (("title",), "\x1b[2JEpisode",
     "title: contains a control character U+001B at character 1; write plain text without control characters"),
    (("title",), "Episode\x7f", "title: contains a control character U+007F at character 8; "
                                "write plain text without control characters"),
    (("title",), "Episode\x9b1m", "title: contains a control character U+009B at character 8; "
                                  "write plain text without control characters"),
    (("title",), "Ep\u202eenO", "title: contains a bidirectional control character U+202E at character 3; "
                                "write plain text without it"),
    (("title",), "A\u2066B\u2069", "title: contains a bidirectional control character U+2066 at character 2; "
                                   "write plain text without it"),
    (("title",), "Episode\nOne", "title: contains a line break U+000A at character 8; write it as one line"),
    (("title",), "x" * 201, "title: String should have at most 200 characters"),
    (("title",), "   ", "title: is blank; write some text"),
    (("scenes", 0, "dialogue", 0, "speaker"), "Lin Xiaoyu\r",
     "scenes.0.dialogue.0.speaker: contains a line break U+000D at character 11; write it as one line"),
    (("scenes", 0, "characters", 0), "Lin\tXiaoyu",
     "scenes.0.characters.0: contains a tab U+0009 at character 4; use a space"),
    (("scenes", 0, "action", ), "She turns.\x85He runs.",
     "scenes.0.action: contains a line break U+0085 at character 11; write it as one line"),
    (("scenes", 0, "location", "description"), "kitchen\u2029hall",
     "scenes.0.location.description: contains a line break U+2029 at character 8; write it as one line"),
])
def test_script_text_must_be_one_plain_line(path, value, problem):
    data = _edit(json.loads(_script().model_dump_json()), path, value)
    with pytest.raises(SchemaError) as caught:
        parse_script(json.dumps(data), "ep01/script.json")
    assert str(caught.value) == f"ep01/script.json: {problem}"


@pytest.mark.parametrize("path, value, problem", [
    (("synopsis",), "First paragraph.\n\nSecond.", "synopsis: line 2 is blank; write the text without blank lines"),
    (("synopsis",), "First.\r\nSecond.", "synopsis: contains a line break U+000D at character 7; "
                                        "separate lines with a plain line feed (U+000A) only"),
    (("synopsis",), "\nFirst.", "synopsis: line 1 is blank; write the text without blank lines"),
    (("main_plot_points", 1), "She\nlies", "main_plot_points.1: contains a line break U+000A at character 4; "
                                           "write it as one line"),
    (("episodes", 0, "hook"), "A\x00B", "episodes.0.hook: contains a control character U+0000 at character 2; "
                                       "write plain text without control characters"),
    (("episodes", 0, "cliffhanger"), "The end?\n", "episodes.0.cliffhanger: contains a line break U+000A at "
                                                  "character 9; write it as one line"),
    (("series_title",), "\u202eesroh", "series_title: contains a bidirectional control character U+202E at "
                                       "character 1; write plain text without it"),
])
def test_outline_text_is_plain(path, value, problem):
    data = _edit(_outline_data(), path, value)
    with pytest.raises(SchemaError) as caught:
        parse_outline(json.dumps(data), "outline.json")
    assert str(caught.value) == f"outline.json: {problem}"


def test_plain_text_in_any_script_and_markup_characters_are_accepted():
    data = json.loads(_script().model_dump_json())
    texts = ["你好，妈妈。", "مرحبا يا أمي", "Wait\u00a0— what?! 😱", "<i>not italic</i> {\\an8} C:\\New --> x"]
    for text in texts:
        data["scenes"][0]["dialogue"][0]["text"] = text
        assert parse_script(json.dumps(data)).scenes[0].dialogue[0].text == text
    outline = _outline_data()
    outline["synopsis"] = "Line one.\nLine two."
    assert parse_outline(json.dumps(outline)).synopsis == "Line one.\nLine two."


def test_the_exported_schemas_state_the_text_rule(repo):
    import jsonschema

    schema = json.loads((repo / "schemas" / "episode_script.schema.json").read_text())
    data = json.loads(_script().model_dump_json())
    jsonschema.validate(data, schema)
    for value in ("Hi\x00there", "two\nlines", "x\u202ey"):
        with pytest.raises(jsonschema.ValidationError, match="does not match"):
            jsonschema.validate(_edit(json.loads(json.dumps(data)), ("scenes", 0, "dialogue", 0, "text"), value), schema)
    del data["target_duration"]
    jsonschema.validate(data, schema)  # optional: derived, never required
    assert schema["properties"]["target_duration"]["readOnly"] is True
    outline = json.loads((repo / "schemas" / "outline.schema.json").read_text())
    jsonschema.validate({**_outline_data(), "synopsis": "Line one.\nLine two."}, outline)


def test_writer_replies_get_the_text_rule_as_a_repair_hint():
    from shortdrama.writers.replies import UnusableReply, parse_outline_reply, parse_plan_reply, parse_scenes_reply

    scene = json.loads(_script().model_dump_json())["scenes"][0]
    scene["dialogue"][0]["text"] = FORGED
    scene["action"] = "She runs\x00"
    with pytest.raises(UnusableReply) as caught:
        parse_scenes_reply({"scenes": [scene]}, count=(1, 1))
    assert caught.value.problems == [
        "scene 1: dialogue[0].text: contains a line break U+000A at character 5; a dialogue entry is one line: "
        "give each line its own entry (got 'Run!\\n\\n99\\n00:00:00,000 --> 00:00:04,500\\nFORGED')",
        "scene 1: action: contains a control character U+0000 at character 9; write plain text without control "
        "characters (got 'She runs\\x00')",
    ]
    cfg = load_config()
    outline = _outline_data()
    outline["episodes"][0]["title"] = "Episode\x00One"
    del outline["language"]
    with pytest.raises(UnusableReply) as caught:
        parse_outline_reply(outline, SeriesBrief.from_config(cfg))
    assert caught.value.problems == ["episodes[0].title: contains a control character U+0000 at character 8; "
                                     "write plain text without control characters (got 'Episode\\x00One')"]
    with pytest.raises(UnusableReply) as caught:
        parse_plan_reply({"plan": ["scene one", "scene\ttwo"]}, 2, 2)
    assert caught.value.problems == ["plan[1]: contains a tab U+0009 at character 6; use a space"]
