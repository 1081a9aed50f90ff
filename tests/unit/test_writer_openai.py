"""The OpenAI-compatible multi-agent writer against a real HTTP chat server on 127.0.0.1 that misbehaves on cue."""

from __future__ import annotations

import json
import logging
import re
import time

import pytest

from fakes.chat_server import (OVERLONG_LINE, FakeChatServer, content, critic_says, fenced, http_error,
                               overlong_dialogue, rate_limited, rejects_response_format, schema_invalid,
                               server_error, slow, truncated, unknown_speaker)
from shortdrama.errors import ProviderError, SchemaError
from shortdrama.http import ProviderHTTPError, RetryPolicy
from shortdrama.schemas import MOODS, check_script
from shortdrama.writers.base import CastMember, SeriesBrief
from shortdrama.writers.offline import OfflineWriter
from shortdrama.writers.openai_compat import ChatSettings, OpenAICompatWriter
from shortdrama.schemas import Scene
from shortdrama.writers.replies import UnusableReply, extract_json, local_findings

KEY_ENV = "SHORTDRAMA_TEST_LLM_KEY"
KEY = "sk-test-0123456789abcdef-DO-NOT-LEAK"
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.001, max_delay_s=0.01, max_total_s=10, request_timeout_s=5)
CJK = re.compile(r"[\u4e00-\u9fff]")

EN_CAST = (CastMember("xiaoyu", "Lin Xiaoyu", "the daughter-in-law", "female"),
           CastMember("meifang", "Zhang Meifang", "the mother-in-law", "female"),
           CastMember("haoyu", "Chen Haoyu", "the son", "male"))
ZH_CAST = (CastMember("xiaoyu", "林晓雨", "儿媳，温柔却坚韧", "female"),
           CastMember("meifang", "张美芳", "婆婆，骄傲而刻薄", "female"),
           CastMember("haoyu", "陈浩宇", "儿子，夹在妻子和母亲之间", "male"))


def brief(language: str = "en", episodes: int = 2, scenes: tuple[int, int] = (3, 4),
          seconds: tuple[int, int] = (3, 6)) -> SeriesBrief:
    return SeriesBrief(
        name="demo" if language == "en" else "demo_zh",
        theme=("A gentle daughter-in-law hides that she is the lost heiress" if language == "en"
               else "温柔的儿媳隐瞒了自己是失散多年的继承人"),
        language=language, episodes=episodes, scenes_min=scenes[0], scenes_max=scenes[1],
        scene_seconds_min=seconds[0], scene_seconds_max=seconds[1],
        cast=EN_CAST if language == "en" else ZH_CAST, seed=7)


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def server():
    with FakeChatServer(expected_key=KEY) as s:
        yield s


def writer(server: FakeChatServer, **settings) -> OpenAICompatWriter:
    return OpenAICompatWriter(ChatSettings(base_url=server.base_url, model="fake-chat", api_key_env=KEY_ENV,
                                           retry=FAST, **settings))


def episode_one(b: SeriesBrief):
    """An outline without a server call (the offline writer's), and its first episode."""
    outline = OfflineWriter().write_outline(b)
    return outline, outline.episodes[0]


def assert_valid(script, b: SeriesBrief, number: int = 1) -> None:
    check_script(script, b.cast_names, language=b.language, episode=number)
    assert b.scenes_min <= len(script.scenes) <= b.scenes_max
    assert script.target_duration == sum(s.duration for s in script.scenes)
    for scene in script.scenes:
        assert b.scene_seconds_min <= scene.duration <= b.scene_seconds_max
        assert {line.speaker for line in scene.dialogue} <= set(scene.characters)


# ----------------------------------------------------------------------------- the happy path


@pytest.mark.parametrize("language", ["en", "zh"])
def test_outline_has_every_episode_in_the_brief_language(server, language):
    b = brief(language, episodes=5)
    outline = writer(server).write_outline(b)
    assert [e.episode for e in outline.episodes] == [1, 2, 3, 4, 5]
    assert outline.language == language
    assert 3 <= len(outline.main_plot_points) <= 5
    assert all(e.mood in MOODS for e in outline.episodes)
    texts = [outline.synopsis, outline.series_title, *(e.hook for e in outline.episodes)]
    if language == "zh":
        assert all(CJK.search(t) for t in texts)
        assert "简体中文" in server.of("outline")[0].user  # the prompt tells the model which language to write
    else:
        assert not any(CJK.search(t) for t in texts)
        assert "English" in server.of("outline")[0].user
    request = server.of("outline")[0]
    assert f"exactly {b.episodes} entries" in request.user
    assert request.body["model"] == "fake-chat" and request.body["max_tokens"] == 4000
    assert request.body["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_full_series_is_valid_and_reviewed(server, language):
    b = brief(language)
    w = writer(server)
    outline = w.write_outline(b)
    scripts = [w.write_episode(b, outline, e) for e in outline.episodes]
    for number, script in enumerate(scripts, start=1):
        assert_valid(script, b, number)
        assert script.title == outline.episodes[number - 1].title and script.mood == outline.episodes[number - 1].mood
    assert [r.kind for r in server.requests] == ["outline", "scenes", "critic", "scenes", "critic"]
    assert all(r.status == 200 for r in server.requests)


def test_usage_accumulates_over_every_call(server):
    b = brief()
    w = writer(server)
    outline = w.write_outline(b)
    first = (w.usage.prompt_tokens, w.usage.completion_tokens)
    assert w.usage.calls == 1 and all(first)
    w.write_episode(b, outline, outline.episodes[0])
    sent = server.usage_sent()
    assert (w.usage.prompt_tokens, w.usage.completion_tokens, w.usage.calls) == (
        sent["prompt_tokens"], sent["completion_tokens"], sent["calls"]) == (
        sum(r.usage["prompt_tokens"] for r in server.requests), sum(r.usage["completion_tokens"] for r in server.requests), 3)
    assert w.usage.prompt_tokens > first[0]


def test_requests_are_deterministic():
    bodies = []
    for _ in range(2):
        with FakeChatServer(expected_key=KEY) as s:
            s.script("scenes", unknown_speaker())
            b = brief()
            w = writer(s)
            outline = w.write_outline(b)
            w.write_episode(b, outline, outline.episodes[1])
            bodies.append([json.dumps(r.body, sort_keys=True) for r in s.requests])
    assert bodies[0] == bodies[1]


# ---------------------------------------------------------------------------------- HTTP faults


def test_429_with_retry_after_is_honoured(server):
    server.script("outline", rate_limited(retry_after=0.3))
    started = time.monotonic()
    outline = writer(server).write_outline(brief())
    assert time.monotonic() - started >= 0.3  # the policy's own backoff is 1 ms: the wait is the server's
    assert [r.status for r in server.requests] == [429, 200]
    assert len(outline.episodes) == 2


def test_a_burst_of_5xx_is_survived(server):
    server.script("any", server_error(500), server_error(502), server_error(503))
    writer(server).write_outline(brief())
    assert [r.status for r in server.requests] == [500, 502, 503, 200]


def test_5xx_beyond_the_attempts_fails_with_one_clear_error(server):
    for _ in range(FAST.max_attempts):
        server.script("outline", server_error(500))
    with pytest.raises(ProviderError, match=r"failed after 4 attempts \(last: HTTP 500\)"):
        writer(server).write_outline(brief())


def test_a_slow_reply_past_the_timeout_is_retried(server):
    server.script("outline", slow(1.0))
    w = OpenAICompatWriter(ChatSettings(base_url=server.base_url, model="fake-chat", api_key_env=KEY_ENV,
                                        retry=RetryPolicy(max_attempts=3, base_delay_s=0.001, request_timeout_s=0.3)))
    w.write_outline(brief())
    assert len(server.of("outline")) == 2


def test_server_rejecting_response_format_is_asked_again_without_it(server):
    server.always(rejects_response_format())
    b = brief()
    w = writer(server)
    outline = w.write_outline(b)
    w.write_episode(b, outline, outline.episodes[0])
    requests = server.requests
    assert requests[0].status == 400 and "response_format" in requests[0].body
    assert all("response_format" not in r.body and r.status == 200 for r in requests[1:])  # remembered
    assert len(requests) == 4  # 400, outline, scenes, critic
    assert "JSON" in requests[1].user


def test_a_400_about_something_else_is_not_retried(server):
    server.script("outline", http_error(400, "context length exceeded"))
    with pytest.raises(ProviderHTTPError, match="HTTP 400: .*context length exceeded") as caught:
        writer(server).write_outline(brief())
    assert caught.value.status == 400 and len(server.requests) == 1


# ------------------------------------------------------------------------- auth and secrets


def test_bearer_key_is_sent_and_never_leaks(server, caplog):
    caplog.set_level(logging.DEBUG)
    b = brief()
    w = writer(server)
    outline = w.write_outline(b)
    assert all(r.auth_present and r.auth_ok for r in server.requests)
    server.script("scenes", http_error(401, "invalid key", echo_auth=True))  # a server that echoes the header
    with pytest.raises(ProviderError) as caught:
        w.write_episode(b, outline, outline.episodes[0])
    assert "***" in str(caught.value) and KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None
    assert KEY not in caplog.text and KEY not in repr(w) and KEY not in json.dumps([r.body for r in server.requests])


def test_wrong_key_is_a_clear_error(server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-wrong")
    with pytest.raises(ProviderHTTPError, match="HTTP 401") as caught:
        writer(server).write_outline(brief())
    assert "sk-wrong" not in str(caught.value) and server.requests[0].auth_ok is False


def test_missing_key_names_the_variable_and_sends_nothing(server, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ProviderError, match=KEY_ENV):
        writer(server).write_outline(brief())
    assert server.requests == []


def test_no_key_env_sends_no_authorization():
    with FakeChatServer() as s:
        OpenAICompatWriter(ChatSettings(base_url=s.base_url, model="local", api_key_env=None, retry=FAST)).write_outline(brief())
        assert [r.auth_present for r in s.requests] == [False]


# ------------------------------------------------------------------------ structured output


def test_fenced_json_with_prose_is_accepted(server):
    server.script("outline", fenced())
    writer(server).write_outline(brief())
    assert len(server.requests) == 1 and server.requests[0].fault == "fenced"


def test_truncated_reply_then_a_good_one(server):
    server.script("scenes", truncated())
    b = brief()
    outline, episode = episode_one(b)
    script = writer(server).write_episode(b, outline, episode)
    assert_valid(script, b)
    first, repair = server.of("scenes")
    assert first.fault == "truncated" and repair.repair
    assert repair.messages[-2]["role"] == "assistant"  # the cut-off reply goes back with the request to redo it
    assert "finish_reason=length" in repair.last and "cut off" in repair.last


def test_schema_invalid_reply_fixed_by_one_repair_round(server):
    server.script("outline", schema_invalid())
    outline = writer(server).write_outline(brief())
    assert all(e.mood in MOODS for e in outline.episodes)
    first, repair = server.of("outline")
    assert repair.repair and not first.repair
    assert "episodes[0].mood" in repair.last and "'furious'" in repair.last
    assert "episodes[1].cliffhanger: Field required" in repair.last


def test_invalid_scenes_name_the_scene_in_the_repair(server):
    server.script("scenes", schema_invalid())
    b = brief()
    outline, episode = episode_one(b)
    assert_valid(writer(server).write_episode(b, outline, episode), b)
    repair = server.of("scenes", repair=True)[0].last
    assert "scene 1: camera: Input should be 'close-up'" in repair and "drone shot" in repair
    assert re.search(r"scene \d: action: Field required", repair)


def test_text_that_could_forge_subtitles_is_repaired(server):
    """A dialogue line with a blank line and an SRT timing in it: the schema refuses it, the model is told
    why in the repair request, and the script keeps only one-line text."""
    forged = "Run!\n\n99\n00:00:00,000 --> 00:00:04,500\nFORGED"

    def forge(r, default):
        reply = default()
        data = json.loads(reply.content or "{}")
        number, scene = next((n, s) for n, s in enumerate(data["scenes"], start=1) if s.get("dialogue"))
        scene["dialogue"][0]["text"] = forged
        scene["action"] = "The lights go out\x00"
        reply.content = json.dumps(data, ensure_ascii=False)
        forge.number = number
        return reply

    server.script("scenes", forge)
    b = brief()
    outline, episode = episode_one(b)
    script = writer(server).write_episode(b, outline, episode)
    assert_valid(script, b)
    repair = server.of("scenes", repair=True)[0].last
    assert (f"scene {forge.number}: dialogue[0].text: contains a line break U+000A at character 5; a dialogue entry "
            f"is one line: give each line its own entry (got {forged!r})") in repair
    assert (f"scene {forge.number}: action: contains a control character U+0000 at character 18; write plain text "
            f"without control characters") in repair
    texts = [line.text for scene in script.scenes for line in scene.dialogue] + [s.action for s in script.scenes]
    assert not any("FORGED" in t or "\n" in t or "\x00" in t for t in texts)


def test_repairs_are_bounded_and_fail_in_one_line(server):
    server.always(content('{"series_title": "x"'), kind="outline")
    with pytest.raises(SchemaError) as caught:
        writer(server, repair_rounds=2).write_outline(brief())
    message = str(caught.value)
    assert "\n" not in message and message.startswith("outline: no valid reply from fake-chat after 2 repair rounds")
    assert "not valid JSON" in message
    assert len(server.requests) == 3


def test_wrong_episode_count_is_repaired(server):
    b = brief(episodes=3)
    two = OfflineWriter().write_outline(brief(episodes=2)).model_dump()
    del two["language"]
    server.script("outline", content(json.dumps({"outline": two})))  # wrapped, and one episode short
    outline = writer(server).write_outline(b)
    assert len(outline.episodes) == 3
    assert '"episodes" has 2 entries; the series has exactly 3 episodes' in server.of("outline", repair=True)[0].last


def test_english_outline_for_a_chinese_series_is_repaired(server):
    english = OfflineWriter().write_outline(brief("en")).model_dump()
    server.script("outline", content(json.dumps(english)))
    outline = writer(server).write_outline(brief("zh"))
    assert CJK.search(outline.synopsis)
    assert "synopsis: is not written in Simplified Chinese" in server.of("outline", repair=True)[0].last


@pytest.mark.parametrize("reply, expected", [
    ('{"a": 1}', {"a": 1}),
    ('```json\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
    ('Here you go: {"a": "b"} -- hope it {helps}', {"a": "b"}),
    ('The {format} you asked for:\n```\n{"a": {"b": 2}}\n```', {"a": {"b": 2}}),
    ('<think>I should write {json}</think>\n{"ok": true, "fixes": []}', {"ok": True, "fixes": []}),
])
def test_extract_json(reply, expected):
    assert extract_json(reply) == expected


@pytest.mark.parametrize("reply, problem", [
    ("", "empty"), ("no json here", "no JSON object"), ('{"a": [1, 2', "not valid JSON"),
    ('{"scenes": [{"number": 1, "location": {"setting": "INT", "description": "x"}, "characters": ["A"], "dur',
     "not valid JSON"),  # truncated: its inner objects are not taken for the answer
    ('{"a": {"b": 1} "c": {"d": 2}}', "not valid JSON"),  # a missing comma
])
def test_extract_json_problems(reply, problem):
    with pytest.raises(UnusableReply, match=problem):
        extract_json(reply)


# ----------------------------------------------------------------------------- batches


def test_long_episode_is_written_in_batches_in_order(server):
    b = brief(episodes=1, scenes=(20, 20), seconds=(2, 4))
    outline, episode = episode_one(b)
    script = writer(server, scene_batch_size=8).write_episode(b, outline, episode)
    assert_valid(script, b)
    assert [r.kind for r in server.requests] == ["plan", "scenes", "scenes", "scenes", "critic"]
    batches = server.of("scenes")
    for request, span in zip(batches, ["1-8", "9-16", "17-20"]):
        assert f"Write scenes {span} of 20" in request.user
    assert "<previous_scenes>" not in batches[0].user
    assert '"Scene 8 (' in batches[1].user and "Scene 9 (" not in batches[1].user  # the summary of what came before
    assert '"Scene 16 (' in batches[2].user
    assert all("<plan>" in r.user for r in batches)
    # the fake writes each scene's action from the plan line it was given: the scenes are assembled in order
    assert [s.action.split(":")[0] for s in script.scenes] == [f"Beat {k}" for k in range(1, 21)]
    assert len(script.scenes) == 20


def test_a_batch_with_the_wrong_number_of_scenes_is_repaired(server):
    b = brief(episodes=1, scenes=(10, 10), seconds=(2, 4))
    outline, episode = episode_one(b)
    short = {"scenes": [json.loads(json.dumps(s.model_dump())) for s in
                        OfflineWriter().write_episode(brief(episodes=1, scenes=(3, 3), seconds=(2, 4)), outline, episode).scenes]}
    server.script("scenes", content(json.dumps(short)))
    script = writer(server, scene_batch_size=8).write_episode(b, outline, episode)
    assert len(script.scenes) == 10
    assert '"scenes" has 3 scenes; write exactly 8 scenes' in server.of("scenes", repair=True)[0].last


# ------------------------------------------------------------------------------- the critic


def test_unknown_speaker_flagged_by_the_critic_and_fixed(server):
    server.script("scenes", unknown_speaker("Stranger"))
    b = brief()
    outline, episode = episode_one(b)
    script = writer(server).write_episode(b, outline, episode)
    assert_valid(script, b)
    assert [r.kind for r in server.requests] == ["scenes", "critic", "revise", "critic"]
    first_critic = server.of("critic")[0]
    assert '"speaker": "Stranger"' in first_critic.user  # the critic saw the draft
    revise = server.of("revise")[0]
    fixes = json.loads(re.search(r"<fixes>(.*?)</fixes>", revise.user, re.S).group(1))
    assert "Scene 1: 'Stranger' is not a cast member; give this line to" in " ".join(fixes)  # the critic's words
    assert any("speaker 'Stranger' is not in the cast" in f for f in fixes)  # and the local check's
    assert '"Stranger"' in revise.user  # the script under revision goes along
    assert "Stranger" not in json.dumps(script.model_dump())


def test_critic_judgement_is_sent_back_for_a_revision(server):
    note = "Scene 2: Zhang Meifang cannot know about the will yet; she learns of it in episode 2"
    server.script("critic", critic_says(note))
    b = brief()
    outline, episode = episode_one(b)
    script = writer(server).write_episode(b, outline, episode)
    assert_valid(script, b)
    revise = server.of("revise")
    assert len(revise) == 1 and note in revise[0].user
    assert [r.kind for r in server.requests] == ["scenes", "critic", "revise", "critic"]
    assert revise[0].body["temperature"] == 0.7 and server.of("critic")[0].body["temperature"] == 0.2


def test_judgement_findings_may_remain_after_the_rounds(server, caplog):
    note = "Scene 1: the hook is too weak"
    server.always(critic_says(note), kind="critic")
    b = brief()
    outline, episode = episode_one(b)
    with caplog.at_level(logging.WARNING):
        script = writer(server, critic_rounds=2).write_episode(b, outline, episode)
    assert_valid(script, b)
    assert [r.kind for r in server.requests] == ["scenes", "critic", "revise", "critic", "revise", "critic"]
    assert "accepted with open notes after 2 critic rounds" in caplog.text and note in caplog.text


def test_local_problems_must_be_gone_after_the_rounds(server):
    server.script("scenes", unknown_speaker("Stranger"))
    server.always(unknown_speaker("Stranger"), kind="revise")  # an episode writer that never learns
    b = brief()
    outline, episode = episode_one(b)
    with pytest.raises(SchemaError) as caught:
        writer(server, critic_rounds=2).write_episode(b, outline, episode)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("episode 1: still wrong after 2 critic rounds: scene 1: speaker 'Stranger'")
    assert len(server.of("revise")) == 2


def test_critic_rounds_zero_skips_the_critic(server):
    b = brief()
    outline, episode = episode_one(b)
    writer(server, critic_rounds=0).write_episode(b, outline, episode)
    assert [r.kind for r in server.requests] == ["scenes"]


def test_out_of_range_durations_and_absent_speakers_are_found_locally(server):
    b = brief(seconds=(3, 6))
    outline, episode = episode_one(b)
    draft = OfflineWriter().write_episode(b, outline, episode).model_dump()
    draft["scenes"][0]["duration"] = 12
    draft["scenes"][1]["characters"] = [b.cast_names[0]]
    draft["scenes"][1]["dialogue"] = [{"speaker": b.cast_names[1], "text": "Not now."}]
    server.script("scenes", content(json.dumps({"scenes": draft["scenes"]})))
    server.script("critic", content('{"ok": true, "fixes": []}'))  # a lenient critic: the code still catches both
    script = writer(server).write_episode(b, outline, episode)
    assert_valid(script, b)
    fixes = server.of("revise")[0].user
    assert "scene 1: duration 12 s is outside 3-6 s" in fixes
    assert "scene 2: speaker" in fixes and "is not in the scene's characters" in fixes


# ------------------------------------------------------- dialogue that cannot be spoken in time


def scene_with(lines: list[str], duration: float, b: SeriesBrief) -> Scene:
    speaker = b.cast_names[0]
    return Scene.model_validate({
        "location": {"setting": "INT", "description": "the family dining room"}, "duration": duration,
        "characters": [speaker], "dialogue": [{"speaker": speaker, "text": t} for t in lines],
        "action": "She stands.", "camera": "medium"})


def test_an_absurd_overrun_is_hard_and_a_mild_one_a_note():
    b = brief(scenes=(1, 4))
    # 75 lines of 18 words in 4.5 s: 562.5 s of speech at 2.4 words a second
    [absurd] = local_findings(b, [scene_with([OVERLONG_LINE] * 75, 4.5, b)])
    assert absurd.hard
    assert absurd.text == ("scene 1: the dialogue needs about 562.5 s of speech but the scene lasts 4.5 s "
                           "(at most 7.2 s fits, spoken fast): cut lines or shorten them, or make the scene longer")
    # 12 words in 4 s: 5 s of speech (the voice step speaks 1.25x faster), 5.75 s with the pauses
    [mild] = local_findings(b, [scene_with(["Sign it now, or leave this house tonight and never come back."], 4, b)])
    assert not mild.hard and "needs about 5.8 s to be spoken but the scene lasts 4 s; shorten the lines" in mild.text
    fits = scene_with(["Sign it now."], 4, b)
    assert local_findings(b, [fits]) == []


def test_the_tolerance_is_configured():
    b = brief(scenes=(1, 4))
    twice = scene_with(["one two three four five six seven eight nine ten eleven twelve"], 3, b)  # 5 s of speech
    assert [f.hard for f in local_findings(b, [twice])] == [True]  # 5 s > 1.6 x 3 s
    assert [f.hard for f in local_findings(b, [twice], max_speech_overrun=2.5)] == [False]  # a note only


@pytest.mark.parametrize("seconds", [(3, 6), (6, 10), (2, 3)])
@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_offline_writer_passes_the_speech_check(language, seconds):
    b = brief(language, episodes=3, scenes=(3, 6), seconds=seconds)
    writer_ = OfflineWriter()
    outline = writer_.write_outline(b)
    for episode in outline.episodes:
        scenes = writer_.write_episode(b, outline, episode).scenes
        assert not [f.text for f in local_findings(b, scenes) if f.hard]


def test_an_absurd_overrun_goes_back_for_a_revision_and_is_fixed(server):
    server.script("scenes", overlong_dialogue(lines=20))
    server.script("critic", content('{"ok": true, "fixes": []}'))  # a lenient critic: the code catches it
    b = brief()
    outline, episode = episode_one(b)
    script = writer(server).write_episode(b, outline, episode)
    assert_valid(script, b)
    assert [r.kind for r in server.requests] == ["scenes", "critic", "revise", "critic"]
    fixes = json.loads(re.search(r"<fixes>(.*?)</fixes>", server.of("revise")[0].user, re.S).group(1))
    assert [f for f in fixes if "of speech but the scene lasts" in f] == [
        f"scene 1: the dialogue needs about 150.0 s of speech but the scene lasts {script.scenes[0].duration:g} s "
        f"(at most {script.scenes[0].duration * 1.6:.1f} s fits, spoken fast): cut lines or shorten them, "
        f"or make the scene longer"]
    assert OVERLONG_LINE not in json.dumps(script.model_dump(), ensure_ascii=False)


def test_an_overrun_left_after_the_rounds_fails_in_one_line(server):
    server.always(overlong_dialogue(lines=20), kind="scenes")
    server.always(overlong_dialogue(lines=20), kind="revise")  # an episode writer that never shortens
    b = brief()
    outline, episode = episode_one(b)
    with pytest.raises(SchemaError) as caught:
        writer(server, critic_rounds=1).write_episode(b, outline, episode)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("episode 1: still wrong after 1 critic rounds: scene 1: the dialogue needs about "
                              "150.0 s of speech but the scene lasts")
    assert [r.kind for r in server.requests] == ["scenes", "critic", "revise", "critic"]


def test_a_writer_with_a_wider_tolerance_accepts_it_with_a_note(server, caplog):
    server.script("scenes", overlong_dialogue(lines=2))  # two 18-word lines: 15 s of speech in a 5 s scene
    server.always(content('{"ok": true, "fixes": []}'), kind="critic")
    server.always(overlong_dialogue(lines=2), kind="revise")
    b = brief()
    outline, episode = episode_one(b)
    with caplog.at_level(logging.WARNING):
        script = writer(server, critic_rounds=1, max_speech_overrun=3.5).write_episode(b, outline, episode)
    assert [line.text for line in script.scenes[0].dialogue] == [OVERLONG_LINE] * 2
    assert "accepted with open notes after 1 critic rounds: scene 1: the dialogue needs about" in caplog.text
    assert [f.hard for f in local_findings(b, script.scenes)] == [True]  # the default tolerance would not accept it
