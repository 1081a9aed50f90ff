"""A fake OpenAI-compatible chat completions server: a real HTTP server on 127.0.0.1 with a fake "LLM".

    POST {base_url}/chat/completions   {model, messages, temperature, max_tokens, response_format?}
        -> {"choices": [{"message": {"role": "assistant", "content": ...}, "finish_reason": ...}], "usage": {...}}

The default responder, `FakeLLM` (chat_llm.py), plays every agent of `shortdrama.writers.openai_compat`
and answers valid, deterministic JSON in the brief's language, with `usage` sized like a real model's.

Faults are scripted per test, by the kind of request they hit:

    with FakeChatServer(expected_key="sk-test") as server:
        server.script("outline", rate_limited(0.2), truncated())   # the next two outline requests
        server.script("any", server_error(500))                    # the next request of any kind
        server.always(rejects_response_format())                   # every request, for good
        ...
        server.requests            # every request: Received(kind, repair, body, auth_present, auth_ok, status, usage)
        server.of("revise")        # the revision requests only
        server.of("scenes")[1].user   # the user prompt of the second scenes request

Flavours (`FakeChatServer(flavour="deepseek", known_models=...)`, see chat_flavours.py) play one
provider's documented behaviour on top: what it does with response_format / structured_outputs,
max_tokens, the models it knows and the shape of its errors. The default (None) is a plain,
lenient OpenAI-compatible server.

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
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from .http_base import FakeHandler, QuietServer, send_json, start, stop

KINDS = ("outline", "plan", "scenes", "revise", "critic", "unknown")


@dataclass
class Reply:
    """What the server answers. A non-200 status sends `body` if given, else {"error": {"message": error}}."""

    content: str | None = None
    finish_reason: str = "stop"
    status: int = 200
    error: str = ""
    body: dict[str, Any] | list[Any] | None = None  # the exact error body of a provider's flavour (Google: a list)
    refusal: str | None = None  # message.refusal (OpenAI structured outputs); content is then null
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


OVERLONG_LINE = "I will never forgive you for what you did to this family, not today and not ever again."


def overlong_dialogue(lines: int = 20) -> Fault:
    """The first scene of a scenes or revision reply gets `lines` long lines: far more speech than it lasts
    (20 lines of 18 words are 150 s at the writer's 2.4 words a second)."""
    def fault(r: Received, default: Callable[[], Reply]) -> Reply:
        reply = default()
        data = json.loads(reply.content or "{}")
        for scene in data.get("scenes", [])[:1]:
            scene["dialogue"] = [{"speaker": scene["characters"][i % len(scene["characters"])], "text": OVERLONG_LINE}
                                 for i in range(lines)]
        reply.content = json.dumps(data, ensure_ascii=False)
        return reply
    return _named("overlong_dialogue", fault)


def critic_says(*fixes: str) -> Fault:
    """The critic rejects the script with these fixes (judgement the writer cannot check in code)."""
    return _named("critic_says", lambda r, d: Reply(content=json.dumps({"ok": False, "fixes": list(fixes)},
                                                                        ensure_ascii=False)))


def blank(text: str = "   \n  ") -> Fault:
    """DeepSeek's JSON mode: output it cannot read as JSON comes back as spaces, with finish_reason=stop."""
    return _named("blank", lambda r, d: Reply(content=text, finish_reason="stop"))


def refusal(text: str = "I'm sorry, but I can't help with that request.") -> Fault:
    """OpenAI structured outputs: the model declines; content is null and message.refusal says why."""
    return _named("refusal", lambda r, d: Reply(content=None, refusal=text))


def rejects_response_format() -> Fault:
    """A local server that does not know response_format: 400 when it is sent, normal replies otherwise."""
    def fault(r: Received, default: Callable[[], Reply]) -> Reply | None:
        if "response_format" in r.body:
            return Reply(status=400, error="Unrecognized request argument supplied: response_format")
        return None
    return _named("rejects_response_format", fault)


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


def count_tokens(text: str) -> int:
    cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
    return cjk + (len(text) - cjk + 3) // 4


def usage_for(body: dict[str, Any], content: str) -> dict[str, int]:
    """About four characters a token (one per CJK character), as real tokenizers count."""
    prompt = sum(count_tokens(str(m.get("content") or "")) + 4 for m in body.get("messages") or []) + 3
    completion = max(1, count_tokens(content))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


# ------------------------------------------------------------------------------------ server


class FakeChatServer:
    PREFIX = "/v1"

    def __init__(self, responder: Responder | None = None, *, expected_key: str | None = None,
                 flavour: str | None = None, known_models: Any = None):
        from .chat_flavours import make_flavour  # both build on this module's Reply and Received
        from .chat_llm import FakeLLM

        self.responder: Responder = responder or FakeLLM()
        self.flavour = make_flavour(flavour, known_models)  # None: a plain, lenient server
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
        start(self._httpd)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self._httpd)

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
        if self.flavour is not None and (refused := self.flavour.reject(received)) is not None:
            return self._answer(h, received, refused, auth)  # before any fault: the provider never gets that far
        reply = None
        for fault in faults:  # one-shot first, then the always-faults; the first that answers wins
            reply = fault(received, lambda: self._normal(received))
            if reply is not None:
                with self._lock:
                    received.fault = getattr(fault, "__name__", "fault")
                break
        reply = reply if reply is not None else self._normal(received)
        self._answer(h, received, self.flavour.limit(received, reply) if self.flavour else reply, auth)

    def _normal(self, received: Received) -> Reply:
        reply = self.responder(received)
        return self.flavour.shape(received, reply) if self.flavour else reply

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
            return send_json(h, reply.status, reply.body or {"error": {"message": message, "type": "fake_error"}},
                             reply.headers)
        text = reply.content or ""
        usage = usage_for(received.body, text or reply.refusal or "")
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if reply.refusal is not None:
            message.update(content=None, refusal=reply.refusal)
        with self._lock:
            received.status, received.usage = 200, usage
        send_json(h, 200, {
            "id": f"chatcmpl-fake-{received.index}", "object": "chat.completion", "created": 0,
            "model": received.body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
            "usage": usage,
        }, reply.headers)


def _check_kind(kind: str) -> None:
    if kind != "any" and kind not in KINDS:
        raise ValueError(f"unknown request kind {kind!r}; one of any, {', '.join(KINDS)}")
