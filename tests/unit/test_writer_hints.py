"""Both writers write a dialogue line's emotion and delivery hints (issue 17): the offline writer from its
phrase book, deterministically; the LLM writer as the model answers them, asked for in its prompt and its
strict schema. A reply without hints (an older model, a cached reply) still makes a script, and a hint
the voices could not use is left out with a note instead of costing a repair round."""

from __future__ import annotations

import json
import logging

import pytest

from fakes.chat_flavours import strict_problem
from fakes.chat_server import FakeChatServer, Received, Reply
from shortdrama.config import load_config
from shortdrama.schemas import parse_script
from shortdrama.voice.emotion import basic
from shortdrama.writers import prompts
from shortdrama.writers.base import SeriesBrief
from shortdrama.writers.hints import DELIVERY_MAX_LENGTH, EMOTIONS, usable_hints
from shortdrama.writers.offline import OfflineWriter
from shortdrama.writers.openai_compat import ChatSettings, OpenAICompatWriter
from shortdrama.writers.phrasebook import LINE_HINTS, PHRASEBOOK
from shortdrama.writers.structured import reply_schema
from test_writer_openai import FAST, KEY, KEY_ENV, brief

# ------------------------------------------------------------------------------ offline writer


def _scripts(series: str) -> list[str]:
    brief_ = SeriesBrief.from_config(load_config([f"series={series}"]))
    writer = OfflineWriter()
    outline = writer.write_outline(brief_)
    return [writer.write_episode(brief_, outline, e).model_dump_json(indent=2) for e in outline.episodes]


@pytest.mark.parametrize("series", ["demo", "demo_zh", "demo_vi"])
def test_offline_lines_carry_known_hints_and_the_same_bytes_every_time(series):
    written = _scripts(series)
    assert written == _scripts(series), "same config, same script bytes"
    lines = [line for text in written for scene in parse_script(text).scenes for line in scene.dialogue]
    assert lines and all(line.emotion in EMOTIONS and basic(line.emotion) for line in lines)
    assert all(line.delivery is None or (line.delivery.isascii() and len(line.delivery) <= DELIVERY_MAX_LENGTH)
               for line in lines), "a delivery is a short English direction, whatever the series language"
    assert len({line.emotion for line in lines}) > 2, "the hints follow the lines, not one word for all"
    assert any(line.delivery for line in lines)
    assert all(json.loads(text) == parse_script(text).model_dump(mode="json") for text in written), \
        "the hints are written and read back as they are"


def test_every_phrase_book_line_has_its_hint():
    """The books' lines are translations of one another: one hint table serves every language."""
    for language, book in PHRASEBOOK.items():
        assert set(book["lines"]) == set(LINE_HINTS), language
        for beat, texts in book["lines"].items():
            assert len(texts) == len(LINE_HINTS[beat]), (language, beat)
    for emotion, delivery in (hint for hints in LINE_HINTS.values() for hint in hints):
        assert emotion in EMOTIONS and (delivery is None or usable_hints(
            {"dialogue": [{"delivery": delivery}]}, "-")["dialogue"][0] == {"delivery": delivery})


# ------------------------------------------------------------------------------ the LLM writer


def _line_schema(task: str) -> dict:
    scene = reply_schema(task)["properties"]["scenes"]["items"]
    return next(s for s in scene["properties"]["dialogue"]["anyOf"] if s.get("type") == "array")["items"]


@pytest.mark.parametrize("task", ["scenes", "patch"])
def test_the_strict_schema_asks_for_hints_from_the_known_words(task):
    line = _line_schema(task)
    assert line["required"] == ["speaker", "text", "emotion", "delivery"]  # strict: every property listed
    emotion, delivery = line["properties"]["emotion"]["anyOf"], line["properties"]["delivery"]["anyOf"]
    assert emotion[0]["enum"] == list(EMOTIONS) and emotion[1] == {"type": "null"}
    assert delivery[0]["type"] == "string" and delivery[1] == {"type": "null"}
    assert strict_problem(reply_schema(task)) is None


def test_the_prompt_says_what_the_hints_are_for():
    b = brief("zh")
    outline = OfflineWriter().write_outline(b)
    text = prompts.episode_messages(b, outline, outline.episodes[0])[1]["content"]
    assert '"emotion"' in text and '"delivery"' in text and "tell the voice how to say it" in text
    assert ", ".join(EMOTIONS) in text and "in English whatever the series language" in text


def _writer(server: FakeChatServer, mode: str) -> OpenAICompatWriter:
    return OpenAICompatWriter(ChatSettings(base_url=server.base_url, model="gpt-4.1", api_key_env=KEY_ENV,
                                           retry=FAST, structured_output=mode, critic_rounds=0))


def with_hints(*hints: tuple):
    """The fake model's scenes with (emotion, delivery) given to its lines in turn."""
    def fault(r: Received, default) -> Reply:
        reply = default()
        data = json.loads(reply.content)
        lines = [line for scene in data["scenes"] for line in scene["dialogue"]]
        for line, (emotion, delivery) in zip(lines, hints):
            line.update(emotion=emotion, delivery=delivery)
        reply.content = json.dumps(data, ensure_ascii=False)
        return reply
    return fault


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


def test_a_reply_with_hints_makes_lines_that_carry_them():
    b = brief()
    outline = OfflineWriter().write_outline(b)
    with FakeChatServer(expected_key=KEY, flavour="openai") as server:
        server.script("scenes", with_hints(("furious", "shouted"), ("heartbroken", None), (None, "barely a whisper")))
        script = _writer(server, "json_schema").write_episode(b, outline, outline.episodes[0])
    (request,) = server.requests
    assert request.status == 200 and request.body["response_format"]["json_schema"]["schema"] == reply_schema("scenes")
    lines = [line for scene in script.scenes for line in scene.dialogue]
    assert [(line.emotion, line.delivery) for line in lines[:3]] == [
        ("furious", "shouted"), ("heartbroken", None), (None, "barely a whisper")]
    written = json.loads(script.model_dump_json())["scenes"][0]["dialogue"]
    assert written[0]["emotion"] == "furious" and "emotion" not in written[2], "no null is written for a plain line"


@pytest.mark.parametrize("mode", ["json_object", "json_schema"])
def test_a_reply_without_hints_still_makes_a_script(mode):
    """The fake model writes no hints (an older model; a cached reply): in json_object mode it leaves the
    keys out, in json_schema mode it sends them as null."""
    b = brief()
    outline = OfflineWriter().write_outline(b)
    with FakeChatServer(expected_key=KEY, flavour="openai") as server:
        if mode == "json_schema":
            server.script("scenes", with_hints(*[(None, None)] * 40))
        script = _writer(server, mode).write_episode(b, outline, outline.episodes[0])
    assert len(server.requests) == 1 and not server.requests[0].repair
    lines = [line for scene in script.scenes for line in scene.dialogue]
    assert lines and all(line.emotion is None and line.delivery is None for line in lines)
    assert all(set(line) == {"speaker", "text"} for scene in json.loads(script.model_dump_json())["scenes"]
               for line in scene["dialogue"]), "written exactly as a script before hints"


def test_hints_the_voices_cannot_use_are_left_out_with_a_note_not_a_repair(caplog):
    b = brief()
    outline = OfflineWriter().write_outline(b)
    long_direction = "slowly, " * 12
    with FakeChatServer(expected_key=KEY, flavour="openai") as server:
        server.script("scenes", with_hints((" Furious ", "  through   gritted teeth "), ("smug", "none"),
                                           ("none", long_direction), (7, "whispered\u202e")))
        with caplog.at_level(logging.WARNING, logger="shortdrama.writers.hints"):
            script = _writer(server, "json_object").write_episode(b, outline, outline.episodes[0])
    assert len(server.requests) == 1, "no repair round for a hint"
    lines = [line for scene in script.scenes for line in scene.dialogue]
    assert [(line.emotion, line.delivery) for line in lines[:4]] == [
        ("furious", "through gritted teeth"), (None, None), (None, None), (None, None)]
    notes = " ".join(r.getMessage() for r in caplog.records)
    assert "scene 1: line 2: emotion 'smug' is not one the voices know" in notes
    assert f"is longer than {DELIVERY_MAX_LENGTH} characters" in notes and "emotion 7 is not one" in notes
    assert "bidirectional control character" in notes and "left out" in notes
    assert "'none'" not in notes, "a written 'none' is no hint, not an unknown one"


def test_a_broken_line_is_still_named_by_validation():
    """usable_hints only touches hints: anything else is left for validation (and a repair) to name."""
    scene = {"dialogue": ["not a line", {"speaker": "A", "text": "Hi.", "emotion": "sad"}]}
    assert usable_hints(scene, "scene 1") == scene
    assert usable_hints({"dialogue": None}, "scene 1") == {"dialogue": None}
    assert usable_hints("a scene", "scene 1") == "a scene"
