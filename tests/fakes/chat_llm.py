"""The fake "LLM" behind FakeChatServer: it plays every agent of `shortdrama.writers.openai_compat`.

It tells the agent from the system prompt ("outline writer", "episode writer", "continuity critic")
and the task from the user prompt (scene plan, "scenes 9-16 of 20", a revision with <fixes>), reads
the JSON the writer embeds in its prompts (<brief>, <episode>, <plan>, <script>, <fixes>) and answers
valid, deterministic JSON in the brief's language.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shortdrama.schemas import CAMERA_DIRECTIONS, MOODS

from .chat_server import Received, Reply

_TAG = re.compile(r"<(brief|story|episode|plan|previous_scenes|script|fixes)>(.*?)</\1>", re.S)
_BATCH = re.compile(r"scenes (\d+)\s*[-–]\s*(\d+) of (\d+)", re.I)
_SCENE_REF = re.compile(r"scene\s+(\d+)", re.I)

_TEXT = {
    "en": {
        "lines": ["Not now.", "You knew?", "We need to talk.", "I won't let you go.", "Then tell me the truth."],
        "places": ["the rain-streaked office", "the hospital corridor", "the rooftop at night", "the mansion hall"],
        "titles": ["The Hidden Heir", "Cold Tea", "The Ring", "Storm Night", "Unmasked", "The Will", "Face to Face"],
        "action": "{a} confronts {b} over the secret",
        "last": "{a} freezes: {cliffhanger}",
        "plan": "Beat {k}: {a} and {b} clash over the secret",
        "series": "Secrets of {lead}",
        "synopsis": "{lead} hides who she really is while {rival} plots against her. {theme}.",
        "points": ["{lead} hides her past", "{rival} finds a clue", "the truth comes out at the family banquet",
                   "{lead} takes her place"],
        "hook": "{lead} is humiliated in front of everyone",
        "conflict": "{rival} demands that {lead} leave for good",
        "cliffhanger": "a letter reveals {lead}'s real name",
    },
    "zh": {
        "lines": ["不行。", "你早知道？", "我们得谈谈。", "我不会放你走。", "那就告诉我真相。"],
        "places": ["雨夜的办公室", "医院走廊", "夜晚的天台", "豪宅大厅"],
        "titles": ["隐藏的继承人", "冷茶", "戒指", "风雨夜", "真相大白", "遗嘱", "对峙"],
        "action": "{a}与{b}为秘密当面对峙",
        "last": "{a}愣住了：{cliffhanger}",
        "plan": "第{k}场：{a}与{b}为秘密争执",
        "series": "{lead}的秘密",
        "synopsis": "{lead}隐瞒了自己的真实身份，而{rival}暗中算计她。{theme}。",
        "points": ["{lead}隐藏自己的过去", "{rival}发现线索", "家宴上真相揭开", "{lead}夺回属于她的位置"],
        "hook": "{lead}当众受辱",
        "conflict": "{rival}逼{lead}永远离开",
        "cliffhanger": "一封信揭开了{lead}的真名",
    },
}
_RATE = {"en": 2.4, "zh": 3.8}


class FakeLLM:
    """The default responder: deterministic, valid replies for every agent of the writer."""

    def __call__(self, r: Received) -> Reply:
        data = _tags(r.user)
        brief = data.get("brief")
        if r.kind == "unknown" or not isinstance(brief, dict):
            return Reply(content=json.dumps({"error": "the fake LLM does not know this task"}))
        answer = getattr(self, r.kind)(brief, data, r)
        return Reply(content=json.dumps(answer, ensure_ascii=False))

    # --- agents

    def outline(self, brief: dict, data: dict, r: Received) -> dict:
        t, fill = self._text(brief), self._fill(brief)
        episodes = [{
            "episode": n,
            "title": t["titles"][(n - 1) % len(t["titles"])],
            "hook": t["hook"].format(**fill), "conflict": t["conflict"].format(**fill),
            "cliffhanger": t["cliffhanger"].format(**fill), "mood": MOODS[(n - 1) % len(MOODS)],
        } for n in range(1, int(brief["episodes"]) + 1)]
        return {"series_title": t["series"].format(**fill), "synopsis": t["synopsis"].format(**fill),
                "main_plot_points": [p.format(**fill) for p in t["points"][:3]], "episodes": episodes}

    def plan(self, brief: dict, data: dict, r: Received) -> dict:
        e, t, names = self._episode(data), self._text(brief), self._names(brief)
        total = self._count(brief, e)
        return {"plan": [t["plan"].format(k=k, **self._pair(names, k)) for k in range(1, total + 1)]}

    def scenes(self, brief: dict, data: dict, r: Received) -> dict:
        e = self._episode(data)
        batch = _BATCH.search(r.user)
        if batch:
            first, last, total = (int(g) for g in batch.groups())
        else:
            first, last, total = 1, self._count(brief, e), self._count(brief, e)
        plan = data.get("plan") if isinstance(data.get("plan"), list) else None
        return {"scenes": [self.scene(brief, data, k, total, plan) for k in range(first, last + 1)]}

    def revise(self, brief: dict, data: dict, r: Received) -> dict:
        script = data.get("script") or []
        fixes = " ".join(data.get("fixes") or [])
        numbers = sorted({int(n) for n in _SCENE_REF.findall(fixes) if 1 <= int(n) <= len(script)}) or [len(script)]
        return {"scenes": [self.scene(brief, data, k, len(script), None) for k in numbers]}

    def critic(self, brief: dict, data: dict, r: Received) -> dict:
        names = self._names(brief)
        low, high = brief["scene_seconds"]["min"], brief["scene_seconds"]["max"]
        fixes = []
        for n, scene in enumerate(data.get("script") or [], start=1):
            for line in scene.get("dialogue", []):
                if line["speaker"] not in names:
                    fixes.append(f"Scene {n}: {line['speaker']!r} is not a cast member; give this line to "
                                 f"{scene['characters'][0]}")
                elif line["speaker"] not in scene.get("characters", []):
                    fixes.append(f"Scene {n}: {line['speaker']} speaks without being on screen")
            if not low <= scene.get("duration", 0) <= high:
                fixes.append(f"Scene {n}: make it last between {low} and {high} seconds")
        return {"ok": not fixes, "fixes": fixes}

    # --- helpers

    def scene(self, brief: dict, data: dict, k: int, total: int, plan: list | None) -> dict:
        e, t, names = self._episode(data), self._text(brief), self._names(brief)
        pair = self._pair(names, k)
        people = list(dict.fromkeys([pair["a"], pair["b"]]))
        low, high = brief["scene_seconds"]["min"], brief["scene_seconds"]["max"]
        duration = low + (k + e.get("episode", 1)) % (high - low + 1)
        if plan and k <= len(plan):
            action = str(plan[k - 1])
        elif k == total:
            action = t["last"].format(cliffhanger=e.get("cliffhanger", ""), **pair)
        else:
            action = t["action"].format(**pair)
        return {"number": k, "location": {"setting": "INT" if k % 2 else "EXT",
                                          "description": t["places"][k % len(t["places"])]},
                "duration": duration, "characters": people,
                "dialogue": self._dialogue(t, brief["language"], people, duration, k),
                "action": action[:400], "camera": CAMERA_DIRECTIONS[(k + e.get("episode", 1)) % len(CAMERA_DIRECTIONS)]}

    @staticmethod
    def _dialogue(t: dict, language: str, people: list[str], duration: float, k: int) -> list[dict]:
        """As many lines as fit when spoken, at least the shortest one."""
        pool = t["lines"][k % len(t["lines"]):] + t["lines"][: k % len(t["lines"])]
        rate, budget, lines = _RATE.get(language, 2.4), duration - 0.6, []
        for text in pool:
            units = len(text.split()) if language == "en" else sum(ch.isalnum() for ch in text)
            cost = units / rate + 0.3
            if cost > budget:
                continue
            lines.append({"speaker": people[len(lines) % len(people)], "text": text})
            budget -= cost
        return lines or [{"speaker": people[0], "text": min(t["lines"], key=len)}]

    @staticmethod
    def _text(brief: dict) -> dict:
        return _TEXT.get(brief.get("language"), _TEXT["en"])

    @staticmethod
    def _names(brief: dict) -> list[str]:
        return [c["name"] for c in brief["cast"]]

    def _fill(self, brief: dict) -> dict:
        names = self._names(brief)
        return {"lead": names[0], "rival": names[1 % len(names)], "theme": str(brief.get("theme", "")).rstrip("。. ")}

    @staticmethod
    def _pair(names: list[str], k: int) -> dict:
        return {"a": names[(k - 1) % len(names)], "b": names[k % len(names)]}

    @staticmethod
    def _episode(data: dict) -> dict:
        return data.get("episode") if isinstance(data.get("episode"), dict) else {}

    @staticmethod
    def _count(brief: dict, e: dict) -> int:
        low, high = brief["scenes_per_episode"]["min"], brief["scenes_per_episode"]["max"]
        return low + (e.get("episode", 1) - 1) % (high - low + 1)


def _tags(text: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, raw in _TAG.findall(text):
        try:
            found[name] = json.loads(raw)
        except ValueError:
            found[name] = raw
    return found
