"""Prompt texts of the OpenAI-compatible writer's agents: outline writer, episode writer, continuity critic.

Every user message carries its data as JSON between XML-like tags (<brief>, <story>, <episode>,
<plan>, <previous_scenes>, <script>, <fixes>), so a model (or a test's fake model) can find it.
The first line of each system prompt names the agent ("outline writer", "episode writer",
"continuity critic"); the fake chat server in the tests relies on these names.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from ..schemas import CAMERA_DIRECTIONS, MOODS, EpisodeOutline, Outline, Scene
from .base import SeriesBrief
from .hints import DELIVERY_MAX_LENGTH, EMOTIONS

Message = dict[str, str]

LANGUAGE_NAMES = {"en": "English", "zh": "Simplified Chinese (简体中文)", "vi": "Vietnamese (tiếng Việt)"}
LANGUAGE_ORDERS = {
    "en": "Write every text value in English.",
    "zh": "所有文字内容（标题、梗概、情节、台词、动作、地点描述）必须用简体中文书写；JSON 的键名和 mood、camera、setting 的取值保持英文原样。",
    "vi": "Mọi nội dung chữ (tên phim, tóm tắt, tình tiết, lời thoại, hành động, mô tả bối cảnh) phải viết bằng tiếng Việt "
          "có dấu đầy đủ, không dùng tiếng Anh; tên khóa JSON và các giá trị của mood, camera, setting giữ nguyên tiếng Anh. "
          "Vietnamese dialogue is spoken at about 3.5 syllables per second.",
}
REPAIR_OPENING = "Your previous reply could not be used."


def _language(brief: SeriesBrief) -> str:
    name = LANGUAGE_NAMES.get(brief.language, brief.language)
    order = LANGUAGE_ORDERS.get(brief.language, f"Write every text value in {name}.")
    return (f"Language: {name}. {order} Only JSON keys and the enumerated values (mood, camera, setting) "
            f"stay exactly as given in English.")


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=None, separators=(", ", ": "))


def brief_data(brief: SeriesBrief) -> dict[str, Any]:
    return {
        "series": brief.name, "theme": brief.theme, "language": brief.language, "episodes": brief.episodes,
        "scenes_per_episode": {"min": brief.scenes_min, "max": brief.scenes_max},
        "scene_seconds": {"min": brief.scene_seconds_min, "max": brief.scene_seconds_max},
        "cast": [{"name": c.name, "role": c.role, "gender": c.gender} for c in brief.cast],
    }


def story_data(outline: Outline, upto: int) -> dict[str, Any]:
    """The outline as far as an episode may know it: nothing of later episodes leaks into earlier ones."""
    return {
        "series_title": outline.series_title, "synopsis": outline.synopsis,
        "main_plot_points": outline.main_plot_points,
        "episodes": [e.model_dump() for e in outline.episodes if e.episode <= upto],
    }


def scene_data(scenes: Sequence[Scene], first: int = 1) -> list[dict[str, Any]]:
    return [{"number": first + i, **s.model_dump()} for i, s in enumerate(scenes)]


def scene_summary(scenes: Sequence[Scene]) -> list[str]:
    """One line per scene: enough for the next batch to continue without resending every line."""
    lines = []
    for number, s in enumerate(scenes, start=1):
        last = f' Last line: {s.dialogue[-1].speaker}: "{s.dialogue[-1].text}"' if s.dialogue else ""
        lines.append(f"Scene {number} ({s.location.setting} {s.location.description}; {', '.join(s.characters)}; "
                     f"{s.duration:g} s): {s.action}{last}")
    return lines


OUTLINE_SYSTEM = """You are the outline writer of a vertical short-drama series (the one-to-two-minute melodrama episodes of Douyin, Kuaishou and ReelShort).
You write a series outline that follows the short-drama formula: every episode opens on a hook in its first seconds, escalates one conflict, and ends on a cliffhanger that makes the viewer swipe to the next episode. Secrets, reversals and face-slapping turns are welcome; keep the story consistent across episodes.
Reply with one JSON object and nothing else (no code fences, no commentary)."""

OUTLINE_SHAPE = """{
  "series_title": "...",
  "synopsis": "two or three sentences",
  "main_plot_points": ["...", "...", "..."],
  "episodes": [
    {"episode": 1, "title": "...", "hook": "...", "conflict": "...", "cliffhanger": "...", "mood": "tense"}
  ]
}"""


def outline_messages(brief: SeriesBrief) -> list[Message]:
    user = f"""<brief>{_dump(brief_data(brief))}</brief>

Write the outline of this series as JSON of exactly this shape:
{OUTLINE_SHAPE}

Rules:
- "episodes" has exactly {brief.episodes} entries, numbered 1 to {brief.episodes} in order.
- "main_plot_points" has 3 to 5 entries.
- "mood" is one of: {", ".join(MOODS)}.
- Use only the cast of the brief, by the names given there.
- {_language(brief)}"""
    return [{"role": "system", "content": OUTLINE_SYSTEM}, {"role": "user", "content": user}]


EPISODE_SYSTEM = """You are the episode writer of a vertical short-drama series. You turn one episode of the outline into shootable scenes.
Each scene has a location, a duration in seconds, the cast members on screen, a few lines of dialogue, one action line and one camera direction. Dialogue must be short enough to be spoken aloud within the scene's duration (about 2.4 English words or 3.8 Chinese characters per second, plus a short pause per line). Every speaker must be on screen in that scene. The episode opens on its hook and its last scene delivers its cliffhanger.
Reply with one JSON object and nothing else (no code fences, no commentary)."""

SCENE_SHAPE = """{"number": 1, "location": {"setting": "INT", "description": "..."}, "duration": 6, "characters": ["<cast name>", "<cast name>"], "dialogue": [{"speaker": "<cast name>", "text": "...", "emotion": "<emotion or null>", "delivery": "<direction or null>"}], "action": "...", "camera": "close-up"}"""


def _scene_rules(brief: SeriesBrief) -> str:
    return f"""Rules for every scene:
- "setting" is "INT" or "EXT"; "description" names the place in at most 200 characters.
- "duration" is a number of seconds from {brief.scene_seconds_min} to {brief.scene_seconds_max}.
- "characters" lists who is on screen, using only these exact cast names: {", ".join(brief.cast_names)}.
- every "speaker" is one of the scene's "characters"; keep each line short enough to be spoken within the scene.
- a line's "emotion" and "delivery" tell the voice how to say it (never shown or spoken), in English whatever the series language; use null for a plain line. "emotion" is one of: {", ".join(EMOTIONS)}. "delivery" is a short direction of at most {DELIVERY_MAX_LENGTH} characters ("barely a whisper", "shouted", "through gritted teeth").
- "action" is one line (at most 400 characters) of what the camera sees.
- "camera" is one of: {", ".join(CAMERA_DIRECTIONS)}.
- {_language(brief)}"""


def _episode_context(brief: SeriesBrief, outline: Outline, episode: EpisodeOutline) -> str:
    return (f"<brief>{_dump(brief_data(brief))}</brief>\n"
            f"<story>{_dump(story_data(outline, episode.episode))}</story>\n"
            f"<episode>{_dump(episode.model_dump())}</episode>\n")


def episode_messages(brief: SeriesBrief, outline: Outline, episode: EpisodeOutline) -> list[Message]:
    user = f"""{_episode_context(brief, outline, episode)}
Write all scenes of episode {episode.episode} "{episode.title}": between {brief.scenes_min} and {brief.scenes_max} scenes. Reply with JSON of this shape:
{{"scenes": [{SCENE_SHAPE}, ...]}}

{_scene_rules(brief)}"""
    return [{"role": "system", "content": EPISODE_SYSTEM}, {"role": "user", "content": user}]


def plan_messages(brief: SeriesBrief, outline: Outline, episode: EpisodeOutline) -> list[Message]:
    user = f"""{_episode_context(brief, outline, episode)}
Write the scene plan of episode {episode.episode} "{episode.title}" before its scenes are written: between {brief.scenes_min} and {brief.scenes_max} scenes, one line each saying who is on screen and what happens. The first scene carries the hook, the last one the cliffhanger. Reply with JSON of this shape:
{{"plan": ["scene 1: ...", "scene 2: ...", ...]}}

Use only these exact cast names: {", ".join(brief.cast_names)}.
{_language(brief)}"""
    return [{"role": "system", "content": EPISODE_SYSTEM}, {"role": "user", "content": user}]


def batch_messages(brief: SeriesBrief, outline: Outline, episode: EpisodeOutline, plan: Sequence[str],
                   previous: Sequence[Scene], first: int, last: int) -> list[Message]:
    total = len(plan)
    so_far = (f"<previous_scenes>{_dump(scene_summary(previous))}</previous_scenes>\n" if previous
              else "")
    closing = f" Scene {total} is the last one: it delivers the cliffhanger." if last == total else ""
    user = f"""{_episode_context(brief, outline, episode)}<plan>{_dump(list(plan))}</plan>
{so_far}
Write scenes {first}-{last} of {total} of episode {episode.episode} "{episode.title}", following the plan and continuing from the previous scenes.{closing} Reply with JSON of this shape, with exactly {last - first + 1} scenes numbered {first} to {last}:
{{"scenes": [{SCENE_SHAPE.replace('"number": 1', f'"number": {first}')}, ...]}}

{_scene_rules(brief)}"""
    return [{"role": "system", "content": EPISODE_SYSTEM}, {"role": "user", "content": user}]


def revise_messages(brief: SeriesBrief, outline: Outline, episode: EpisodeOutline, scenes: Sequence[Scene],
                    fixes: Sequence[str]) -> list[Message]:
    user = f"""{_episode_context(brief, outline, episode)}<script>{_dump(scene_data(scenes))}</script>
<fixes>{_dump(list(fixes))}</fixes>

Revise the script of episode {episode.episode} so that every point in <fixes> is resolved. Keep the number of scenes ({len(scenes)}) and leave the scenes that need no change as they are. Reply with JSON holding only the scenes you changed, each complete and with its "number":
{{"scenes": [{SCENE_SHAPE}, ...]}}

{_scene_rules(brief)}"""
    return [{"role": "system", "content": EPISODE_SYSTEM}, {"role": "user", "content": user}]


CRITIC_SYSTEM = """You are the continuity critic of a vertical short-drama series. You check one episode script against the series outline and the cast, and you name concrete fixes; you never rewrite the script yourself.
Check: speakers or characters that are not in the cast; speakers who are not on screen in their scene; characters who know or mention something the story so far has not revealed to them; scene durations outside the allowed range; dialogue too long to be spoken within its scene; the episode's hook missing from its opening; the cliffhanger missing from the last scene; contradictions with earlier episodes.
Reply with one JSON object and nothing else: {"ok": true, "fixes": []} when the script is fine, otherwise {"ok": false, "fixes": ["scene N: what is wrong and what to change", ...]}."""


def critic_messages(brief: SeriesBrief, outline: Outline, episode: EpisodeOutline,
                    scenes: Sequence[Scene]) -> list[Message]:
    user = f"""{_episode_context(brief, outline, episode)}<script>{_dump(scene_data(scenes))}</script>

Review the script of episode {episode.episode} "{episode.title}" for continuity with <story> and <episode> and for the cast of <brief>. Scene durations must lie between {brief.scene_seconds_min} and {brief.scene_seconds_max} seconds. Reply with JSON: {{"ok": true|false, "fixes": ["scene N: ...", ...]}}. Write the fixes in English or in the series language."""
    return [{"role": "system", "content": CRITIC_SYSTEM}, {"role": "user", "content": user}]


def repair_message(problems: Sequence[str], truncated: bool) -> Message:
    if truncated:
        ask = ("It was cut off before the end (the token limit was reached). Reply again with the complete JSON "
               "object, written more concisely so that it fits.")
    else:
        ask = "Reply again with the corrected, complete JSON object only."
    listed = "\n".join(f"- {p}" for p in problems)
    return {"role": "user", "content": f"{REPAIR_OPENING} Problems:\n{listed}\n{ask}"}
