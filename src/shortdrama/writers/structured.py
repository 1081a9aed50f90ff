"""How the OpenAI-compatible writer asks each provider for JSON, and how it reads the provider's refusals.

Structured output modes (`llm.structured_output`):

- `json_object`: `response_format={"type": "json_object"}` (DeepSeek, OpenAI, Gemini). DeepSeek and
  OpenAI answer 400 unless a message contains the word "json"; every prompt carries it and an example
  of the wanted object, and `ensure_json_word` guards the rule for any future prompt.
- `json_schema`: `response_format={"type": "json_schema", "json_schema": {"name", "strict": true,
  "schema"}}` (OpenAI structured outputs, Ollama). OpenAI's strict mode wants every object closed
  (`additionalProperties: false`) and every property in `required`, optional ones nullable.
- `structured_outputs`: the top-level request field `{"structured_outputs": {"json": schema}}` of
  vLLM >= 0.12 (which dropped `guided_json`).
- `none`: nothing; the prompt, `extract_json`, validation and the repair rounds do the work
  (Anthropic's OpenAI-compatible endpoint ignores `response_format`).

The schemas come from the pydantic models the replies are validated against, one per reply shape
(task): outline, plan, scenes, patch, verdict. They only constrain the shape; ranges, counts,
cast names and language are checked in code and repaired, as before. One value is narrowed: a dialogue
line's optional emotion is one of the words the voices know (`hints.EMOTIONS`).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..schemas import Outline, Scene
from .hints import EMOTIONS, HINTS

MODES = ("json_object", "json_schema", "structured_outputs", "none")
TASKS = ("outline", "plan", "scenes", "patch", "verdict")
AGENTS = {"outline": "outline writer", "verdict": "continuity critic"}  # every other task: the episode writer

# When a server refuses a mode, the next one down is tried (and remembered for the writer's lifetime).
DOWNGRADE = {"json_schema": "json_object", "structured_outputs": "json_object", "json_object": "none"}
_MODE_WORDS = ("response_format", "response format", "json_object", "json_schema", "structured_outputs")
_DROPPED = ("title", "default", "minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum",
            "exclusiveMinimum", "exclusiveMaximum", "pattern")  # checked in code; not every server knows them


def agent_of(task: str) -> str:
    return AGENTS.get(task, "episode writer")


# ------------------------------------------------------------------------------------- schemas


def strict(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pydantic JSON schema in the form OpenAI's strict mode accepts: $refs inlined, every object
    closed and listing all its properties as required, the optional ones as a union with null."""
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        return strict(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return {"anyOf": [strict(s, defs) for s in schema["anyOf"]]}
    out = {k: v for k, v in schema.items() if k not in (*_DROPPED, "$defs", "properties", "required", "items",
                                                          "additionalProperties")}
    if schema.get("type") == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        properties = {name: strict(sub, defs) for name, sub in schema.get("properties", {}).items()}
        properties = {name: sub if name in required else nullable(sub) for name, sub in properties.items()}
        out.update(type="object", properties=properties, required=list(properties), additionalProperties=False)
    if "items" in schema:
        out["items"] = strict(schema["items"], defs)
    return out


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return schema if _allows_null(schema) else {"anyOf": [schema, {"type": "null"}]}


def _allows_null(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or any(_allows_null(s) for s in schema.get("anyOf", []))


def _closed(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _with_voice_hints(schema: dict[str, Any]) -> dict[str, Any]:
    """The scene schema with a dialogue line's emotion as one of the words the voices know (writers/hints.py)
    and its delivery as plain text: both optional, so strict mode makes them nullable, and every line
    carries them (null for a plain line)."""
    line = schema.get("$defs", {}).get("DialogueLine")
    if line is not None:
        properties = line.get("properties", {})
        described = {hint: properties.get(hint, {}).get("description") for hint in HINTS}
        properties["emotion"] = {"type": "string", "enum": list(EMOTIONS)}
        properties["delivery"] = {"type": "string"}
        for hint, description in described.items():
            if description:
                properties[hint]["description"] = description
    return schema


@cache
def _reply_schema(task: str) -> str:
    strings = {"type": "array", "items": {"type": "string"}}
    if task == "outline":  # the language is the brief's; the writer adds it
        outline = strict(Outline.model_json_schema())
        schema = _closed({k: v for k, v in outline["properties"].items() if k != "language"})
    elif task == "plan":
        schema = _closed({"plan": strings})
    elif task in ("scenes", "patch"):
        scene = strict(_with_voice_hints(Scene.model_json_schema()))
        numbered = _closed({"number": {"type": "integer"}, **scene["properties"]})
        schema = _closed({"scenes": {"type": "array", "items": numbered}})
    elif task == "verdict":
        schema = _closed({"ok": {"type": "boolean"}, "fixes": strings})
    else:
        raise ValueError(f"unknown reply shape {task!r}; one of {', '.join(TASKS)}")
    return json.dumps(schema)


def reply_schema(task: str) -> dict[str, Any]:
    """The strict JSON schema of one reply shape (a fresh copy)."""
    return json.loads(_reply_schema(task))


def request_fields(mode: str, task: str) -> dict[str, Any]:
    """What a chat request carries, besides the messages, to ask for a reply of this shape."""
    if mode == "json_object":
        return {"response_format": {"type": "json_object"}}
    if mode == "json_schema":
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": task, "strict": True, "schema": reply_schema(task)}}}
    if mode == "structured_outputs":
        return {"structured_outputs": {"json": reply_schema(task)}}
    return {}


def ensure_json_word(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """JSON mode is refused (HTTP 400) unless a message says "json"; our prompts always do, and this
    keeps it so for any prompt that may not."""
    if any("json" in (m.get("content") or "").lower() for m in messages):
        return messages
    return [{"role": "system", "content": "Reply with one JSON object."}, *messages]


def rejects_mode(message: str) -> bool:
    """A 400 that is about how the reply format was asked for (the mode, not the prompt or the model)."""
    lowered = message.lower()
    return any(word in lowered for word in _MODE_WORDS)


# ------------------------------------------------------------------------------ provider errors

_BODY = re.compile(r"HTTP \d{3}: (.*)$", re.S)
_QUOTED = re.compile(r'"message"\s*:\s*"((?:[^"\\]|\\.)*)')  # the closing quote may be cut off
_QUOTED_ERROR = re.compile(r'"error"\s*:\s*"((?:[^"\\]|\\.)*)')
_MISSING_MODEL = re.compile(r"model_not_found|model not exist|not_found_error[^}]*model:|"
                            r"model\W+\S+?\W+(?:does not exist|not found)|models/\S+ is not found", re.I)
_NOT_FOUND = re.compile(r'"status"\s*:\s*"NOT_FOUND"')  # Google's status; with the model named, the model is missing


def provider_message(error_text: str) -> str:
    """The provider's own words out of a ProviderHTTPError's text, whatever shape its error body has:
    {"error": {"message"}} (OpenAI, DeepSeek, Anthropic), {"error": "..."} (Ollama), {"message"} (vLLM), and
    Google's {"error": {"code", "message", "status"}}, sometimes inside a list: [{"error": {...}}]."""
    match = _BODY.search(error_text)
    body = match.group(1).strip() if match else error_text
    try:
        data = json.loads(body)
    except ValueError:
        found = _QUOTED.search(body) or _QUOTED_ERROR.search(body)  # a body cut at 200 characters
        return found.group(1).replace('\\"', '"') if found else body
    if isinstance(data, list) and data:
        data = data[0]
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or body)
    return str(error)


def unknown_model_message(status: int | None, error_text: str, model: str, preset: str | None,
                          base_url: str) -> str | None:
    """The one-line error for a model name the provider does not know (names retire), or None.
    `error_text` is the error's text or, better, the whole error body (Google's is longer than 200 characters)."""
    missing = _MISSING_MODEL.search(error_text) or (_NOT_FOUND.search(error_text) and model in error_text)
    if status not in (400, 404) or not missing:
        return None
    who = Path(preset).stem if preset else urlsplit(base_url).hostname or base_url
    where = preset or "the llm preset"
    reason = " ".join(provider_message(error_text).split())[:200]
    return (f"llm: {who} does not know the model {model!r} ({reason}); model names retire: update `model` in "
            f"{where} or override llm.model=...")
