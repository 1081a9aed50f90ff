"""A fake OpenAI-compatible chat completions server: a real HTTP server on 127.0.0.1 with a fake "LLM".

    POST {base_url}/chat/completions   {model, messages, temperature, max_tokens, response_format?}
        -> {"choices": [{"message": {"role": "assistant", "content": ...}, "finish_reason": ...}], "usage": {...}}

The default responder, `FakeLLM`, plays every agent of `shortdrama.writers.openai_compat`: it tells
the agent from the system prompt ("outline writer", "episode writer", "continuity critic") and the
task from the user prompt (scene plan, "scenes 9-16 of 20", a revision with <fixes>), reads the
JSON the writer embeds in its prompts (<brief>, <episode>, <plan>, <script>, <fixes>) and answers
valid, deterministic JSON in the brief's language, with `usage` sized like a real model's.

Faults are scripted per test, by the kind of request they hit:

    with FakeChatServer(expected_key="sk-test") as server:
        server.script("outline", rate_limited(0.2), truncated())   # the next two outline requests
        server.script("any", server_error(500))                    # the next request of any kind
        server.always(rejects_response_format())                   # every request, for good
        ...
        server.requests            # every request: Received(kind, repair, body, auth_present, auth_ok, status, usage)
        server.of("revise")        # the revision requests only
        server.of("scenes")[1].user   # the user prompt of the second scenes request

Kinds: "outline", "plan", "scenes", "revise", "critic" (and "unknown"); "any" matches all. A repair
request (the writer sending problems back) has the kind of the task it repairs and `repair=True`.
A fault is `fault(received, default) -> Reply | None`: `default()` computes the fake LLM's normal
reply, and None means "answer normally". One-shot faults are consumed in order; `always` faults
apply to every request of their kind after the one-shot ones are used up.

All state lives in the server object behind one lock, so a test can read what a Snakemake
subprocess did through the network. The Authorization header is only compared, never stored.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from shortdrama.schemas import CAMERA_DIRECTIONS, MOODS

from .http_base import FakeHandler, QuietServer, send_json

KINDS = ("outline", "plan", "scenes", "revise", "critic", "unknown")


@dataclass
class Reply:
    """What the server answers. A non-200 status sends {"error": {"message": error}} instead of a completion."""

    content: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # sleep before answering (a slow server)
    echo_auth: bool = False  # put the received Authorization header into the error (a leaky server)


@dataclass
class Received:
    index: int
    kind: str
    repair: bool
    body: dict[str, Any]  # the JSON body as received
    auth_present: bool
    auth_ok: bool | None  # None when the server expects no key
    status: int | None = None  # what was answered
    usage: dict[str, int] | None = None  # the usage reported with a 200
    fault: str | None = None  # the name of the fault that answered, if any

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", [])

    @property
    def system(self) -> str:
        return next((m.get("content") or "" for m in self.messages if m.get("role") == "system"), "")

    @property
    def user(self) -> str:
        """The first user message: the task."""
        return next((m.get("content") or "" for m in self.messages if m.get("role") == "user"), "")

    @property
    def last(self) -> str:
        return (self.messages[-1].get("content") or "") if self.messages else ""

    @property
    def text(self) -> str:
        return "\n".join(m.get("content") or "" for m in self.messages)


Fault = Callable[[Received, Callable[[], Reply]], "Reply | None"]
Responder = Callable[[Received], Reply]


# ------------------------------------------------------------------------------------ faults


def _named(name: str, fault: Fault) -> Fault:
    fault.__name__ = name  # type: ignore[attr-defined]
    return fault


def rate_limited(retry_after: float = 0.0) -> Fault:
    return _named("rate_limited", lambda r, d: Reply(status=429, error="rate limit exceeded, slow down",
                                                      headers={"Retry-After": f"{retry_after:g}"}))


def server_error(status: int = 500) -> Fault:
    return _named("server_error", lambda r, d: Reply(status=status, error=f"upstream error {status}"))


def http_error(status: int, message: str, echo_auth: bool = False) -> Fault:
    return _named("http_error", lambda r, d: Reply(status=status, error=message, echo_auth=echo_auth))


def slow(seconds: float) -> Fault:
    def fault(r: Received, default: Callable[[], Reply]) -> Reply:
        reply = default()
        reply.delay = seconds
        return reply
    return _named("slow", fault)


def fenced() -> Fault:
    """The normal JSON inside a ```json fence with chatty prose around it."""
    def fault(r: Received, default: Callable[[], Reply]) -> Reply:
        reply = default()
        reply.content = f"Sure! Here is the JSON you asked for:\n```json\n{reply.content}\n```\nLet me know if you want changes."
        return reply
    return _named("fenced", fault)


def truncated() -> Fault:
    """The first half of the normal reply, cut off at the token limit."""
    def fault(r: Received, default: Callable[[], Reply]) -> Reply:
        reply = default()
        reply.content = (reply.content or "")[: len(reply.content or "") // 2]
        reply.finish_reason = "length"
        return reply
    return _named("truncated", fault)


def content(text: str, finish_reason: str = "stop") -> Fault:
    return _named("content", lambda r, d: Reply(content=text, finish_reason=finish_reason))


def schema_invalid() -> Fault:
    """Valid JSON that breaks the schema: a mood or a camera that does not exist, a missing field."""
    def fault(r: Received, default: Callable[[], Reply]) -> Reply:
        reply = default()
        data = json.loads(reply.content or "{}")
        if data.get("episodes"):
            data["episodes"][0]["mood"] = "furious"
            data["episodes"][-1].pop("cliffhanger", None)
        elif data.get("scenes"):
            data["scenes"][0]["camera"] = "drone shot"
            data["scenes"][-1].pop("action", None)
        elif "plan" in data:
            data["plan"] = "one long scene"
        else:
            data = {"ok": "maybe"}
        reply.content = json.dumps(data, ensure_ascii=False)
        return reply
    return _named("schema_invalid", fault)


def unknown_speaker(name: str = "Stranger") -> Fault:
    """The first scene's first line spoken by someone who is not in the cast."""
    def fault(r: Received, default: Callable[[], Reply]) -> Reply:
        reply = default()
        data = json.loads(reply.content or "{}")
        for scene in data.get("scenes", [])[:1]:
            if scene.get("dialogue"):
                scene["dialogue"][0]["speaker"] = name
        reply.content = json.dumps(data, ensure_ascii=False)
        return reply
    return _named("unknown_speaker", fault)


def critic_says(*fixes: str) -> Fault:
    """The critic rejects the script with these fixes (judgement the writer cannot check in code)."""
    return _named("critic_says", lambda r, d: Reply(content=json.dumps({"ok": False, "fixes": list(fixes)},
                                                                        ensure_ascii=False)))


def rejects_response_format() -> Fault:
    """A local server that does not know response_format: 400 when it is sent, normal replies otherwise."""
    def fault(r: Received, default: Callable[[], Reply]) -> Reply | None:
        if "response_format" in r.body:
            return Reply(status=400, error="Unrecognized request argument supplied: response_format")
        return None
    return _named("rejects_response_format", fault)


# ---------------------------------------------------------------------------------- fake LLM

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


def classify(body: dict[str, Any]) -> tuple[str, bool]:
    """(kind, repair) of a chat request, judged from its prompts as a model would."""
    messages = body.get("messages") or []
    system = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "").lower()
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    task = users[0] if users else ""
    if "outline writer" in system:
        kind = "outline"
    elif "continuity critic" in system:
        kind = "critic"
    elif "episode writer" in system:
        kind = "revise" if "<fixes>" in task else "plan" if "scene plan" in task.lower() else "scenes"
    else:
        kind = "unknown"
    return kind, len(users) > 1


def usage_for(body: dict[str, Any], content: str) -> dict[str, int]:
    """About four characters a token (one per CJK character), as real tokenizers count."""
    def tokens(text: str) -> int:
        cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
        return cjk + (len(text) - cjk + 3) // 4
    prompt = sum(tokens(str(m.get("content") or "")) + 4 for m in body.get("messages") or []) + 3
    completion = max(1, tokens(content))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


# ------------------------------------------------------------------------------------ server


class FakeChatServer:
    PREFIX = "/v1"

    def __init__(self, responder: Responder | None = None, *, expected_key: str | None = None):
        self.responder: Responder = responder or FakeLLM()
        self._expected_auth = f"Bearer {expected_key}" if expected_key else None  # when set, others get 401
        self._requests: list[Received] = []
        self._once: dict[str, list[Fault]] = {}
        self._always: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self._httpd = QuietServer(("127.0.0.1", 0), FakeHandler)
        self._httpd.fake = self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{self.PREFIX}"

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def of(self, kind: str, repair: bool | None = None) -> list[Received]:
        return [r for r in self.requests if (kind == "any" or r.kind == kind) and (repair is None or r.repair == repair)]

    def script(self, kind: str, *faults: Fault) -> "FakeChatServer":
        """The next len(faults) requests of `kind` ("any" for every kind) get these faults, in order."""
        _check_kind(kind)
        with self._lock:
            self._once.setdefault(kind, []).extend(faults)
        return self

    def always(self, fault: Fault, kind: str = "any") -> "FakeChatServer":
        _check_kind(kind)
        with self._lock:
            self._always.setdefault(kind, []).append(fault)
        return self

    def usage_sent(self) -> dict[str, int]:
        totals = {"prompt_tokens": 0, "completion_tokens": 0, "calls": 0}
        for r in self.requests:
            if r.usage:
                totals["prompt_tokens"] += r.usage["prompt_tokens"]
                totals["completion_tokens"] += r.usage["completion_tokens"]
                totals["calls"] += 1
        return totals

    def __enter__(self) -> "FakeChatServer":
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- request handling (runs on the server's threads)

    def handle(self, h: "FakeHandler", method: str) -> None:
        if method != "POST":
            return send_json(h, 404, {"error": {"message": "only POST /v1/chat/completions"}})
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        if urlsplit(h.path).path != f"{self.PREFIX}/chat/completions":
            return send_json(h, 404, {"error": {"message": f"no route {h.path}"}})
        try:
            body = json.loads(raw)
            assert isinstance(body, dict) and isinstance(body.get("messages"), list)
        except (ValueError, AssertionError):
            return send_json(h, 400, {"error": {"message": "the body must be JSON with a messages list"}})
        auth = h.headers.get("Authorization")
        kind, repair = classify(body)
        with self._lock:
            received = Received(len(self._requests), kind, repair, body, auth is not None,
                                None if self._expected_auth is None else auth == self._expected_auth)
            self._requests.append(received)
            faults = self._take(kind)
        if received.auth_ok is False:
            return self._answer(h, received, Reply(status=401, error="invalid API key"), auth)
        reply = None
        for fault in faults:  # one-shot first, then the always-faults; the first that answers wins
            reply = fault(received, lambda: self.responder(received))
            if reply is not None:
                with self._lock:
                    received.fault = getattr(fault, "__name__", "fault")
                break
        self._answer(h, received, reply if reply is not None else self.responder(received), auth)

    def _take(self, kind: str) -> list[Fault]:
        always = self._always.get(kind, []) + self._always.get("any", [])
        for key in (kind, "any"):
            queue = self._once.get(key)
            if queue:
                return [queue.pop(0), *always]
        return always

    def _answer(self, h: "FakeHandler", received: Received, reply: Reply, auth: str | None) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            message = reply.error + (f" (received Authorization: {auth})" if reply.echo_auth else "")
            with self._lock:
                received.status = reply.status
            return send_json(h, reply.status, {"error": {"message": message, "type": "fake_error"}}, reply.headers)
        text = reply.content or ""
        usage = usage_for(received.body, text)
        with self._lock:
            received.status, received.usage = 200, usage
        send_json(h, 200, {
            "id": f"chatcmpl-fake-{received.index}", "object": "chat.completion", "created": 0,
            "model": received.body.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": reply.finish_reason}],
            "usage": usage,
        }, reply.headers)


def _check_kind(kind: str) -> None:
    if kind != "any" and kind not in KINDS:
        raise ValueError(f"unknown request kind {kind!r}; one of any, {', '.join(KINDS)}")
