"""The writer against each LLM provider's quirks, played by the fake chat server's flavours
(tests/fakes/chat_flavours.py), and the LLM presets in conf/llm/."""

from __future__ import annotations

import json

import httpx
import jsonschema
import pytest

from fakes.chat_flavours import strict_problem
from fakes.chat_server import (FakeChatServer, Reply, blank, content, critic_says, refusal, schema_invalid,
                               truncated)
from shortdrama.config import CONF_DIR, load_config
from shortdrama.errors import ConfigError, ProviderError, SchemaError
from shortdrama.http import RetryPolicy
from shortdrama.writers import make_writer, prompts
from shortdrama.writers.base import CastMember, SeriesBrief
from shortdrama.writers.offline import OfflineWriter
from shortdrama.writers.openai_compat import ChatSettings, OpenAICompatWriter
from shortdrama.writers.structured import TASKS, reply_schema, request_fields, unknown_model_message

KEY_ENV = "SHORTDRAMA_TEST_LLM_KEY"
KEY = "sk-test-providers-DO-NOT-LEAK"
FAST = RetryPolicy(max_attempts=2, base_delay_s=0.001, max_delay_s=0.01, max_total_s=10, request_timeout_s=5)
TASK_OF = {"outline": "outline", "plan": "plan", "scenes": "scenes", "revise": "patch", "critic": "verdict"}
# preset: (flavour of its provider, key variable, structured output mode)
PRESETS = {
    "deepseek": ("deepseek", "DEEPSEEK_API_KEY", "json_object"),
    "gpt41": ("openai", "OPENAI_API_KEY", "json_schema"),
    "claude_sonnet": ("anthropic", "ANTHROPIC_API_KEY", "none"),
    "gemini_flash": ("gemini", "GEMINI_API_KEY", "json_object"),
    "local": ("ollama", None, "json_schema"),
    "vllm": ("vllm", None, "structured_outputs"),
}
GEMINI_NOT_FOUND = ("models/{} is not found for API version v1beta, or is not supported for generateContent. "
                    "Call ListModels to see the list of available models and their supported methods.")
CAST = (CastMember("xiaoyu", "Lin Xiaoyu", "the daughter-in-law", "female"),
        CastMember("meifang", "Zhang Meifang", "the mother-in-law", "female"))


def brief(scenes: tuple[int, int] = (3, 4)) -> SeriesBrief:
    return SeriesBrief(name="demo", theme="A gentle daughter-in-law hides that she is the lost heiress", language="en",
                       episodes=2, scenes_min=scenes[0], scenes_max=scenes[1], scene_seconds_min=3,
                       scene_seconds_max=6, cast=CAST, seed=7)


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


def writer(server: FakeChatServer, model: str, **settings) -> OpenAICompatWriter:
    return OpenAICompatWriter(ChatSettings(base_url=server.base_url, model=model, api_key_env=KEY_ENV, retry=FAST,
                                           **settings))


def write_episode(w: OpenAICompatWriter, b: SeriesBrief | None = None):
    b = b or brief()
    outline = w.write_outline(b)
    return w.write_episode(b, outline, outline.episodes[0])


def post(server: FakeChatServer, **body) -> tuple[int, dict]:
    response = httpx.post(f"{server.base_url}/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                          json={"messages": [{"role": "user", "content": "Say hello."}], **body})
    return response.status_code, response.json()


def field_names(schema: dict) -> list[str]:
    """Every property name in a schema, nested ones too."""
    names = list(schema.get("properties", {}))
    for sub in [*schema.get("properties", {}).values(), *schema.get("anyOf", []), *filter(None, [schema.get("items")])]:
        names += field_names(sub)
    return names


def format_fields(body: dict) -> dict:
    return {k: body[k] for k in ("response_format", "structured_outputs", "guided_json") if k in body}


# ------------------------------------------------------------------------------------ presets


@pytest.mark.parametrize("option", PRESETS)
def test_preset_names_its_key_variable_mode_price_and_check_date(option):
    flavour, key_env, mode = PRESETS[option]
    llm = load_config([f"llm={option}"]).llm
    header = " ".join(line for line in (CONF_DIR / "llm" / f"{option}.yaml").read_text().splitlines()
                      if line.startswith("#"))
    assert llm.api_key_env == key_env and (key_env or "Needs no key") in header
    assert llm.structured_output == mode and llm.preset == f"conf/llm/{option}.yaml"
    if key_env:  # hosted: priced per 1M tokens, and the basis of the price is said
        assert llm.pricing.input_per_mtok > 0 and llm.pricing.output_per_mtok > 0 and "per 1M tokens" in header
    else:
        assert llm.pricing.is_free
    assert llm.checked == "2026-12-04" or (llm.checked is None and "NOT CHECKED" in header)
    assert llm.result_fields()["structured_output"] == mode  # the mode changes replies: it is in the cache key
    assert not {"checked", "preset", "base_url", "pricing"} & set(llm.result_fields())


def test_the_speech_overrun_tolerance_is_a_result_field_that_reaches_the_writer(monkeypatch):
    from shortdrama.writers import make_writer
    from shortdrama.writers.replies import MAX_SPEECH_OVERRUN

    default = load_config(["llm=deepseek"]).llm
    assert default.max_speech_overrun == MAX_SPEECH_OVERRUN == 1.6
    assert default.result_fields()["max_speech_overrun"] == 1.6  # it changes what the critic accepts: in the key
    wider = load_config(["llm=deepseek", "llm.max_speech_overrun=2.5"]).llm
    assert wider.result_fields() != default.result_fields()
    assert make_writer(wider).settings.max_speech_overrun == 2.5
    assert "max_speech_overrun" not in load_config(["llm=offline"]).llm.result_fields()  # offline writes the same
    with pytest.raises(ConfigError, match="max_speech_overrun"):
        load_config(["llm=deepseek", "llm.max_speech_overrun=0.5"])


def test_retired_model_names_are_gone_from_the_presets():
    deepseek, claude = load_config(["llm=deepseek"]).llm, load_config(["llm=claude_sonnet"]).llm
    assert deepseek.model == "deepseek-flash"
    assert (deepseek.pricing.input_per_mtok, deepseek.pricing.output_per_mtok) == (0.30, 1.20)
    assert claude.model == "claude-sonnet-4-6"
    assert "not re-verified online" in (CONF_DIR / "llm" / "claude_sonnet.yaml").read_text().replace("NOT", "not")


@pytest.mark.parametrize("option", PRESETS)
def test_preset_writes_an_outline_against_its_provider(option, monkeypatch):
    flavour, key_env, mode = PRESETS[option]
    if key_env:
        monkeypatch.setenv(key_env, KEY)
    with FakeChatServer(expected_key=KEY if key_env else None, flavour=flavour) as server:
        llm = load_config([f"llm={option}", f"llm.base_url={server.base_url}"]).llm
        outline = make_writer(llm).write_outline(brief())
    assert len(outline.episodes) == 2
    assert [(r.status, r.repair) for r in server.requests] == [(200, False)]
    assert format_fields(server.requests[0].body) == request_fields(mode, "outline")  # nothing pointless sent


def test_config_has_structured_output_instead_of_json_mode():
    with pytest.raises(ConfigError, match="json_mode"):
        load_config(["llm=deepseek", "llm.json_mode=false"])
    with pytest.raises(ConfigError, match="structured_output"):
        load_config(["llm=deepseek", "llm.structured_output=xml"])
    with pytest.raises(ConfigError, match="checked"):
        load_config(["llm=deepseek", "llm.checked=yesterday"])


# ---------------------------------------------------------------------------- retired models


@pytest.mark.parametrize("flavour, status, body", [
    ("deepseek", 400, {"error": {"message": "Model Not Exist", "type": "invalid_request_error", "param": None,
                                 "code": "invalid_request_error"}}),
    ("openai", 404, {"error": {"message": "The model `old-model` does not exist or you do not have access to it.",
                               "type": "invalid_request_error", "param": None, "code": "model_not_found"}}),
    ("anthropic", 404, {"type": "error", "error": {"type": "not_found_error", "message": "model: old-model"}}),
    ("ollama", 404, {"error": 'model "old-model" not found, try pulling it first'}),
    ("vllm", 404, {"object": "error", "message": "The model `old-model` does not exist.", "type": "NotFoundError",
                   "param": None, "code": 404}),
    ("gemini", 404, [{"error": {"code": 404, "message": GEMINI_NOT_FOUND.format("old-model"),
                                "status": "NOT_FOUND"}}]),  # a list around the error, longer than 200 characters
])
def test_an_unknown_model_fails_in_one_line_naming_the_preset_file(flavour, status, body):
    with FakeChatServer(expected_key=KEY, flavour=flavour) as server:
        assert post(server, model="old-model") == (status, body)  # each provider's own error shape
        with pytest.raises(ProviderError) as caught:
            writer(server, "old-model", preset=f"conf/llm/{flavour}.yaml").write_outline(brief())
    first = body[0] if isinstance(body, list) else body
    error = first.get("error")
    reason = error if isinstance(error, str) else error["message"] if error else first["message"]
    assert str(caught.value) == (f"llm: {flavour} does not know the model 'old-model' ({reason}); model names "
                                 f"retire: update `model` in conf/llm/{flavour}.yaml or override llm.model=...")
    assert [r.status for r in server.requests] == [status, status]  # asked once: no retry, no downgrade


def test_an_unknown_model_is_recognised_in_an_error_body_cut_short():
    model = "ft:gpt-4.1-2025-04-14:acme:" + "x" * 40  # the error text keeps 200 characters of the body: "code" is cut
    with FakeChatServer(expected_key=KEY, flavour="openai") as server:
        with pytest.raises(ProviderError) as caught:
            writer(server, model, preset="conf/llm/gpt41.yaml").write_outline(brief())
    assert str(caught.value).startswith(f"llm: gpt41 does not know the model '{model}' (The model `{model}` does not")
    assert str(caught.value).endswith("update `model` in conf/llm/gpt41.yaml or override llm.model=...")


def test_the_retired_deepseek_chat_names_the_deepseek_preset(monkeypatch):
    monkeypatch.setenv("DEEPSEEK_API_KEY", KEY)
    with FakeChatServer(expected_key=KEY, flavour="deepseek") as server:
        llm = load_config(["llm=deepseek", f"llm.base_url={server.base_url}", "llm.model=deepseek-chat"]).llm
        with pytest.raises(ProviderError) as caught:
            make_writer(llm).write_outline(brief())
    assert str(caught.value) == ("llm: deepseek does not know the model 'deepseek-chat' (Model Not Exist); model names "
                                 "retire: update `model` in conf/llm/deepseek.yaml or override llm.model=...")
    assert caught.value.__context__ is None


def test_the_retired_gemini_2_5_flash_names_the_gemini_flash_preset(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    with FakeChatServer(expected_key=KEY, flavour="gemini") as server:
        llm = load_config(["llm=gemini_flash", f"llm.base_url={server.base_url}", "llm.model=gemini-2.5-flash"]).llm
        with pytest.raises(ProviderError) as caught:
            make_writer(llm).write_outline(brief())
    assert str(caught.value) == (f"llm: gemini_flash does not know the model 'gemini-2.5-flash' "
                                 f"({GEMINI_NOT_FOUND.format('gemini-2.5-flash')}); model names retire: update `model` "
                                 f"in conf/llm/gemini_flash.yaml or override llm.model=...")
    assert caught.value.__context__ is None and len(server.requests) == 1


@pytest.mark.parametrize("shape", ["list", "object", "pretty-printed"])
def test_google_s_unknown_model_error_is_recognised_in_each_body_shape(shape):
    message = GEMINI_NOT_FOUND.format("gemini-x").replace("v1beta", "v1main")
    error = {"error": {"code": 404, "message": message, "status": "NOT_FOUND"}}
    text = {"list": json.dumps([error]), "object": json.dumps(error), "pretty-printed": json.dumps([error], indent=2)}
    with FakeChatServer(expected_key=KEY) as server:  # Google's error, sent by a plain server: the shape alone counts
        server.script("outline", lambda r, default: Reply(status=404, error=message, body=json.loads(text[shape])))
        with pytest.raises(ProviderError) as caught:
            writer(server, "gemini-x", preset="conf/llm/gemini_flash.yaml").write_outline(brief())
    assert str(caught.value) == (f"llm: gemini_flash does not know the model 'gemini-x' ({message}); model names "
                                 f"retire: update `model` in conf/llm/gemini_flash.yaml or override llm.model=...")
    cut = f"llm gemini-x outline: HTTP 404: {text[shape].replace(chr(10), ' ')[:200]}"  # the error's text alone
    assert unknown_model_message(404, cut, "gemini-x", "conf/llm/gemini_flash.yaml", server.base_url) is not None
    other = json.dumps([{"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}])
    assert unknown_model_message(404, other, "gemini-x", None, server.base_url) is None  # the model is not named


def test_an_unknown_model_without_a_preset_says_the_llm_preset():
    with FakeChatServer(expected_key=KEY, flavour="openai") as server:
        with pytest.raises(ProviderError, match=r"^llm: 127\.0\.0\.1 does not know the model 'gpt-x' .*update `model` "
                                                r"in the llm preset or override llm\.model=\.\.\.$"):
            writer(server, "gpt-x").write_outline(brief())


# --------------------------------------------------------------------------------- DeepSeek


@pytest.mark.parametrize("flavour, model, message", [
    ("deepseek", "deepseek-flash", "Prompt must contain the word 'json' in some form to use 'response_format' of type "
                                   "'json_object'."),
    ("openai", "gpt-4.1", "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                          "'json_object'."),
])
def test_json_mode_is_refused_without_the_word_json(flavour, model, message):
    with FakeChatServer(expected_key=KEY, flavour=flavour) as server:
        status, body = post(server, model=model, response_format={"type": "json_object"})
    assert status == 400 and body["error"]["message"] == message and body["error"]["type"] == "invalid_request_error"


def test_every_prompt_says_json_and_shows_an_example_of_every_field():
    b = brief((10, 10))
    outline = OfflineWriter().write_outline(b)
    episode, scenes = outline.episodes[0], OfflineWriter().write_episode(b, outline, outline.episodes[0]).scenes
    plan = [f"scene {k}" for k in range(1, 11)]
    messages = {"outline": prompts.outline_messages(b), "plan": prompts.plan_messages(b, outline, episode),
                "scenes": prompts.episode_messages(b, outline, episode),
                "batch": prompts.batch_messages(b, outline, episode, plan, scenes[:4], 5, 8),
                "patch": prompts.revise_messages(b, outline, episode, scenes, ["scene 1: shorter"]),
                "verdict": prompts.critic_messages(b, outline, episode, scenes)}
    for name, conversation in messages.items():
        text = "\n".join(m["content"] for m in conversation)
        assert "json" in text.lower(), name
        fields = field_names(reply_schema("scenes" if name == "batch" else name))
        assert all(f'"{field}"' in text for field in fields), (name, [f for f in fields if f'"{f}"' not in text])


def test_deepseek_accepts_every_request_of_an_episode_in_json_mode():
    with FakeChatServer(expected_key=KEY, flavour="deepseek") as server:
        server.script("scenes", schema_invalid())  # a repair round too
        server.script("critic", critic_says("Scene 2: Zhang Meifang cannot know about the will yet"))
        write_episode(writer(server, "deepseek-flash", scene_batch_size=4), brief((6, 6)))
    requests = server.requests
    assert {r.kind for r in requests} == {"outline", "plan", "scenes", "critic", "revise"}
    assert any(r.repair for r in requests)
    assert all(r.status == 200 and r.body["response_format"] == {"type": "json_object"} for r in requests)


def test_a_blank_reply_is_asked_again_unchanged():
    with FakeChatServer(expected_key=KEY, flavour="deepseek") as server:
        server.script("outline", blank(), blank("\n\n"))
        outline = writer(server, "deepseek-flash").write_outline(brief())
    assert len(outline.episodes) == 2
    first, *again = server.requests
    assert [r.fault for r in server.requests] == ["blank", "blank", None]
    assert all(r.body == first.body and not r.repair for r in again)  # the same request, not a repair turn


def test_blank_replies_are_bounded_and_end_in_one_line():
    with FakeChatServer(expected_key=KEY, flavour="deepseek") as server:
        server.always(blank(), kind="outline")
        with pytest.raises(ProviderError) as caught:
            writer(server, "deepseek-flash", blank_retries=2).write_outline(brief())
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("llm deepseek-flash outline: 3 blank replies in a row (finish_reason=stop)")
    assert len(server.requests) == 3


def test_deepseek_has_no_json_schema_mode_so_json_object_is_used():
    with FakeChatServer(expected_key=KEY, flavour="deepseek") as server:
        write_episode(writer(server, "deepseek-flash", structured_output="json_schema"))
    first, *rest = server.requests
    assert first.status == 400 and first.body["response_format"]["type"] == "json_schema"
    assert rest and all(r.status == 200 and r.body["response_format"] == {"type": "json_object"} for r in rest)


def test_a_reply_cut_at_max_tokens_is_asked_again_shorter_and_complete():
    with FakeChatServer(expected_key=KEY, flavour="deepseek") as server:
        server.script("outline", truncated())
        writer(server, "deepseek-flash").write_outline(brief())
    cut, again = server.requests
    assert cut.fault == "truncated" and again.repair and again.status == 200
    assert again.messages[-2]["role"] == "assistant"
    assert "cut off" in again.last and "complete JSON object, written more concisely" in again.last


def test_replies_always_cut_at_max_tokens_end_in_a_hint_to_raise_it():
    with FakeChatServer(expected_key=KEY, flavour="deepseek") as server:  # the flavour stops at max_tokens
        with pytest.raises(SchemaError) as caught:
            writer(server, "deepseek-flash", max_tokens=60, repair_rounds=1).write_outline(brief())
    assert [r.status for r in server.requests] == [200, 200]
    assert "\n" not in str(caught.value)
    assert str(caught.value).endswith("the last reply was cut off at max_tokens=60: raise llm.max_tokens "
                                      "(or lower llm.scene_batch_size)")


# ------------------------------------------------------------------------ OpenAI strict schemas


@pytest.mark.parametrize("task", TASKS)
def test_reply_schemas_are_strict_and_match_what_the_parsers_accept(task):
    schema = reply_schema(task)
    assert strict_problem(schema) is None
    b = brief()
    outline = OfflineWriter().write_outline(b)
    scenes = [{"number": k, **s.model_dump()} for k, s in
              enumerate(OfflineWriter().write_episode(b, outline, outline.episodes[0]).scenes, start=1)]
    for scene in scenes:  # a strict reply names every field: null for a hint a line goes without
        scene["dialogue"] = [{"emotion": None, "delivery": None, **line} for line in scene["dialogue"]]
    sample = {"outline": {k: v for k, v in outline.model_dump().items() if k != "language"},
              "plan": {"plan": ["scene 1: ..."]}, "scenes": {"scenes": scenes}, "patch": {"scenes": scenes[:1]},
              "verdict": {"ok": False, "fixes": ["scene 1: ..."]}}[task]
    jsonschema.validate(sample, schema)
    with pytest.raises(jsonschema.ValidationError, match="Additional properties"):
        jsonschema.validate({**sample, "note": "extra"}, schema)


def test_openai_refuses_a_schema_that_is_not_strict():
    loose = reply_schema("outline")
    del loose["properties"]["episodes"]["items"]["additionalProperties"]
    partial = reply_schema("outline")
    partial["properties"]["episodes"]["items"]["required"].remove("hook")
    with FakeChatServer(expected_key=KEY, flavour="openai") as server:
        answers = [post(server, model="gpt-4.1", response_format={"type": "json_schema", "json_schema": {
            "name": "outline", "strict": True, "schema": schema}}) for schema in (loose, partial)]
    context = "('properties', 'episodes', 'items')"
    assert answers == [(400, {"error": {"message": f"Invalid schema for response_format 'outline': In context={context}, "
                                                   f"'additionalProperties' is required to be supplied and to be false.",
                                        "type": "invalid_request_error", "param": "response_format", "code": None}}),
                       (400, {"error": {"message": f"Invalid schema for response_format 'outline': In context={context}, "
                                                   f"'required' is required to be supplied and to be an array including "
                                                   f"every key in properties. Missing 'hook'.",
                                        "type": "invalid_request_error", "param": "response_format", "code": None}})]


def test_gpt41_writes_an_episode_with_a_strict_schema_per_reply_shape():
    with FakeChatServer(expected_key=KEY, flavour="openai") as server:
        server.script("critic", critic_says("Scene 2: Zhang Meifang cannot know about the will yet"))
        write_episode(writer(server, "gpt-4.1", structured_output="json_schema", scene_batch_size=2), brief((4, 4)))
    assert {r.kind for r in server.requests} == {"outline", "plan", "scenes", "critic", "revise"}
    for r in server.requests:
        assert r.status == 200
        assert r.body["response_format"] == {"type": "json_schema", "json_schema": {
            "name": TASK_OF[r.kind], "strict": True, "schema": reply_schema(TASK_OF[r.kind])}}


def test_null_for_an_optional_field_means_left_out():
    b = brief()
    outline = OfflineWriter().write_outline(b)
    scenes = [{"number": k, **s.model_dump(), "dialogue": None} for k, s in
              enumerate(OfflineWriter().write_episode(b, outline, outline.episodes[0]).scenes, start=1)]
    with FakeChatServer(expected_key=KEY, flavour="openai") as server:
        server.script("scenes", content(json.dumps({"scenes": scenes})))
        script = writer(server, "gpt-4.1", structured_output="json_schema", critic_rounds=0).write_episode(
            b, outline, outline.episodes[0])
    assert all(scene.dialogue == [] for scene in script.scenes) and len(server.requests) == 1


@pytest.mark.parametrize("kind, agent", [("outline", "outline writer"), ("critic", "continuity critic"),
                                         ("scenes", "episode writer")])
def test_a_refusal_is_one_clear_error_naming_the_agent(kind, agent):
    with FakeChatServer(expected_key=KEY, flavour="openai") as server:
        server.script(kind, refusal("I'm sorry, but I can't help with\nthat request."))
        with pytest.raises(ProviderError) as caught:
            write_episode(writer(server, "gpt-4.1", structured_output="json_schema"))
    message = str(caught.value)
    assert "\n" not in message and f"the model refused the {agent}'s request" in message
    assert "I'm sorry, but I can't help with that request." in message and "not retried" in message
    assert len(server.of(kind)) == 1  # refused again if asked again, and billed: not retried


# -------------------------------------------------------------------------------- Anthropic


def test_claude_gets_no_response_format_and_json_wrapped_in_prose_is_read(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with FakeChatServer(expected_key=KEY, flavour="anthropic") as server:
        llm = load_config(["llm=claude_sonnet", f"llm.base_url={server.base_url}"]).llm
        write_episode(make_writer(llm))
        assert post(server, model="claude-sonnet-4-6", response_format={"type": "json_object"})[0] == 200  # ignored
    chat = server.requests[:-1]
    assert len(chat) >= 3 and all(r.status == 200 and not r.repair and not format_fields(r.body) for r in chat)
    assert server.flavour.wrapped >= 1  # prose and fences around the JSON, read without a repair round
    assert server.flavour.ignored == ["response_format"]  # only the raw request above sent one


def test_anthropic_refuses_a_message_with_empty_content():
    with FakeChatServer(expected_key=KEY, flavour="anthropic") as server:
        answers = [post(server, model="claude-sonnet-4-6", messages=[
            {"role": "user", "content": "Say hello in json."}, {"role": "assistant", "content": text},
            {"role": "user", "content": "Again."}]) for text in ("", "  \n")]
    assert answers == [(400, {"type": "error", "error": {"type": "invalid_request_error", "message": message}})
                       for message in ("messages: text content blocks must be non-empty",
                                       "messages: text content blocks must contain non-whitespace text")]


def test_a_blank_reply_cut_at_max_tokens_is_not_sent_back_as_an_empty_assistant_message():
    # a reasoning model that spent all of max_tokens thinking: no content, finish_reason=length
    with FakeChatServer(expected_key=KEY, flavour="anthropic") as server:
        server.script("outline", content("", finish_reason="length"))
        outline = writer(server, "claude-sonnet-4-6", structured_output="none").write_outline(brief())
    assert len(outline.episodes) == 2
    cut, again = server.requests
    assert (cut.status, again.status) == (200, 200) and again.repair
    assert [m["role"] for m in again.messages] == [m["role"] for m in cut.messages] + ["user"]  # no assistant turn
    assert "previous answer was empty" in again.last and "finish_reason=length" in again.last


def test_blank_replies_always_cut_at_max_tokens_end_in_a_hint_to_raise_it():
    with FakeChatServer(expected_key=KEY, flavour="anthropic") as server:
        server.always(content("", finish_reason="length"), kind="outline")
        with pytest.raises(SchemaError) as caught:
            writer(server, "claude-sonnet-4-6", structured_output="none", max_tokens=60,
                   repair_rounds=2).write_outline(brief())
    assert [r.status for r in server.requests] == [200, 200, 200]
    assert all(m["role"] != "assistant" for r in server.requests for m in r.messages)
    assert "\n" not in str(caught.value) and "previous answer was empty" in str(caught.value)
    assert str(caught.value).endswith("the last reply was empty, cut off at max_tokens=60 before any JSON (a reasoning "
                                      "model may spend them all thinking): raise llm.max_tokens")


# --------------------------------------------------------------------------- Ollama and vLLM


def test_vllm_gets_structured_outputs_and_never_guided_json():
    with FakeChatServer(flavour="vllm") as server:
        w = OpenAICompatWriter(ChatSettings(base_url=server.base_url, model="Qwen/Qwen2.5-7B-Instruct",
                                            api_key_env=None, structured_output="structured_outputs", retry=FAST))
        write_episode(w)
    assert len(server.requests) >= 3 and server.flavour.ignored == []
    for r in server.requests:
        assert r.status == 200 and format_fields(r.body) == {"structured_outputs": {"json": reply_schema(TASK_OF[r.kind])}}


def test_ollama_gets_a_json_schema_in_response_format():
    with FakeChatServer(flavour="ollama") as server:
        w = OpenAICompatWriter(ChatSettings(base_url=server.base_url, model="qwen2.5:7b-instruct", api_key_env=None,
                                            structured_output="json_schema", retry=FAST))
        write_episode(w)
        status, body = post(server, model="qwen2.5:7b-instruct", response_format={"type": "json_schema"})
    assert all(r.status == 200 and r.body["response_format"]["json_schema"]["schema"] == reply_schema(TASK_OF[r.kind])
               for r in server.requests[:-1])
    assert (status, body) == (400, {"error": "invalid json schema in format"})
