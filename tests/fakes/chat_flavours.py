"""Provider flavours of the fake chat server: each plays one provider's documented behaviour.

    deepseek   response_format json_object only: 400 without the word "json" in the messages, 400 for
               json_schema ("This response_format type is unavailable now"); unknown model: 400 "Model Not Exist".
    openai     json_object (same "json" rule, OpenAI's wording) and strict json_schema: every object needs
               additionalProperties false and all its properties in required, else 400 "Invalid schema ...";
               unknown model: 404 code model_not_found.
    anthropic  the OpenAI-compatible endpoint ignores response_format; every other reply comes wrapped in
               prose and a ```json fence; a message with empty (or blank) content: 400 "messages: text content
               blocks must be non-empty"; unknown model: 404 {"type": "error", "error": {"type": "not_found_error"}}.
    gemini     Google's OpenAI-compatible endpoint (generativelanguage.googleapis.com/v1beta/openai): json_object
               in response_format, no rule about the word "json"; unknown model: 404 with Google's error object
               inside a list, [{"error": {"code": 404, "message": "models/x is not found for API version v1beta,
               ...", "status": "NOT_FOUND"}}].
    ollama     json_object and json_schema in response_format; unknown model: 404 {"error": "model \"x\" not found, ..."}.
    vllm       >= 0.12: the top-level structured_outputs {"json": schema}; the removed guided_json is
               ignored (as vLLM ignores unknown fields); unknown model: 404 {"object": "error", ...}.

Every flavour cuts a reply at the request's max_tokens (finish_reason "length"), as real servers do.
Each flavour knows a set of model names (`known_models`), today's by default: a retired name is unknown.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from .chat_server import Received, Reply, count_tokens

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def make_flavour(name: str | None, known_models: Iterable[str] | None = None) -> "Flavour | None":
    if name is None:
        return None
    if name not in FLAVOURS:
        raise ValueError(f"unknown flavour {name!r}; one of {', '.join(FLAVOURS)}")
    return FLAVOURS[name](known_models)


class Flavour:
    name = "generic"
    MODELS: frozenset[str] = frozenset()
    JSON_WORD_ERROR: str | None = None  # the 400 for json_object without "json" in the messages, if enforced

    def __init__(self, known_models: Iterable[str] | None = None):
        self.known_models = frozenset(self.MODELS if known_models is None else known_models)
        self.ignored: list[str] = []  # request fields this server ignored, in order
        self.wrapped = 0  # replies wrapped in prose

    # --- the hooks FakeChatServer calls

    def reject(self, r: Received) -> Reply | None:
        """The error the provider answers to this request, or None."""
        model = str(r.body.get("model", ""))
        if model not in self.known_models:
            return self.unknown_model(model)
        return self.check_format(r)

    def shape(self, r: Received, reply: Reply) -> Reply:
        """What the provider's model does to a normal reply."""
        return reply

    def limit(self, r: Received, reply: Reply) -> Reply:
        """A completion never runs past max_tokens: it stops there, with finish_reason "length"."""
        limit = r.body.get("max_tokens")
        text = reply.content
        if reply.status != 200 or not text or not isinstance(limit, int) or count_tokens(text) <= limit:
            return reply
        while count_tokens(text) > limit:
            text = text[: max(0, min(len(text) - 1, len(text) * limit // count_tokens(text)))]
        reply.content, reply.finish_reason = text, "length"
        return reply

    # --- per provider

    def check_format(self, r: Received) -> Reply | None:
        return None

    def unknown_model(self, model: str) -> Reply:
        raise NotImplementedError

    def bad_request(self, message: str, param: str | None = None) -> Reply:
        return Reply(status=400, error=message, body={"error": {"message": message, "type": "invalid_request_error",
                                                                "param": param, "code": None}})

    def json_word_missing(self, r: Received) -> bool:
        return "json" not in r.text.lower()


class DeepSeek(Flavour):
    name = "deepseek"
    MODELS = frozenset({"deepseek-flash", "deepseek-v4-pro", "deepseek-v4-flash"})

    def check_format(self, r: Received) -> Reply | None:
        kind = (r.body.get("response_format") or {}).get("type", "text")
        if kind == "json_object" and self.json_word_missing(r):
            return self.bad_request("Prompt must contain the word 'json' in some form to use 'response_format' "
                                    "of type 'json_object'.")
        if kind not in ("text", "json_object"):
            return self.bad_request("This response_format type is unavailable now")
        return None

    def unknown_model(self, model: str) -> Reply:
        return Reply(status=400, error="Model Not Exist", body={"error": {
            "message": "Model Not Exist", "type": "invalid_request_error", "param": None,
            "code": "invalid_request_error"}})


class OpenAI(Flavour):
    name = "openai"
    MODELS = frozenset({"gpt-4.1", "gpt-4.1-mini", "gpt-4.1-2025-04-14"})

    def check_format(self, r: Received) -> Reply | None:
        response_format = r.body.get("response_format") or {}
        kind = response_format.get("type", "text")
        if kind == "json_object" and self.json_word_missing(r):
            return self.bad_request("'messages' must contain the word 'json' in some form, to use 'response_format' "
                                    "of type 'json_object'.", "messages")
        if kind == "json_schema":
            spec = response_format.get("json_schema") or {}
            name = spec.get("name", "")
            if not _NAME.match(str(name)):
                return self.bad_request("Invalid 'response_format.json_schema.name': string does not match pattern. "
                                        "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                                        "response_format.json_schema.name")
            if spec.get("strict") is True and (problem := strict_problem(spec.get("schema"))):
                return self.bad_request(f"Invalid schema for response_format '{name}': {problem}", "response_format")
        elif kind not in ("text", "json_object"):
            return self.bad_request(f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', "
                                    f"and 'text'.", "response_format.type")
        return None

    def unknown_model(self, model: str) -> Reply:
        message = f"The model `{model}` does not exist or you do not have access to it."
        return Reply(status=404, error=message, body={"error": {
            "message": message, "type": "invalid_request_error", "param": None, "code": "model_not_found"}})


def strict_problem(schema: Any, context: tuple[str, ...] = ()) -> str | None:
    """Why OpenAI's strict structured outputs refuse a schema, in its words; None when it is accepted."""
    if not isinstance(schema, dict):
        return f"In context={context}, schema must be a JSON Schema object."
    if not context and schema.get("type") != "object":
        return f"schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{schema.get('type')}\"'."
    for i, sub in enumerate(schema.get("anyOf", [])):
        if problem := strict_problem(sub, (*context, "anyOf", str(i))):
            return problem
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return f"In context={context}, 'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties") or {}
        missing = [key for key in properties if key not in (schema.get("required") or [])]
        if missing or not isinstance(schema.get("required"), list):
            return (f"In context={context}, 'required' is required to be supplied and to be an array including "
                    f"every key in properties." + (f" Missing '{missing[0]}'." if missing else ""))
        for key, sub in properties.items():
            if problem := strict_problem(sub, (*context, "properties", key)):
                return problem
    if "items" in schema:
        return strict_problem(schema["items"], (*context, "items"))
    return None


class Anthropic(Flavour):
    name = "anthropic"
    MODELS = frozenset({"claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5"})

    def check_format(self, r: Received) -> Reply | None:
        for text in (m.get("content") for m in r.messages):
            if isinstance(text, str) and text.strip():
                continue
            message = ("messages: text content blocks must contain non-whitespace text" if text
                       else "messages: text content blocks must be non-empty")
            return Reply(status=400, error=message, body={
                "type": "error", "error": {"type": "invalid_request_error", "message": message}})
        if "response_format" in r.body:
            self.ignored.append("response_format")  # documented as ignored: accepted, with no effect
        return None

    def shape(self, r: Received, reply: Reply) -> Reply:
        if reply.content and r.index % 2 == 1:  # "sometimes": every other request, deterministically
            reply.content = f"Here is the JSON you asked for:\n\n```json\n{reply.content}\n```\n\nI kept every name."
            self.wrapped += 1
        return reply

    def unknown_model(self, model: str) -> Reply:
        return Reply(status=404, error=f"model: {model}", body={
            "type": "error", "error": {"type": "not_found_error", "message": f"model: {model}"}})


class Gemini(Flavour):
    name = "gemini"
    MODELS = frozenset({"gemini-3.5-flash-lite"})

    def unknown_model(self, model: str) -> Reply:
        message = (f"models/{model} is not found for API version v1beta, or is not supported for generateContent. "
                   f"Call ListModels to see the list of available models and their supported methods.")
        return Reply(status=404, error=message, body=[{"error": {"code": 404, "message": message,
                                                                  "status": "NOT_FOUND"}}])


class Ollama(Flavour):
    name = "ollama"
    MODELS = frozenset({"qwen2.5:7b-instruct", "llama3.1:8b"})

    def check_format(self, r: Received) -> Reply | None:
        response_format = r.body.get("response_format") or {}
        kind = response_format.get("type", "text")
        if kind == "json_schema" and not isinstance((response_format.get("json_schema") or {}).get("schema"), dict):
            message = "invalid json schema in format"
            return Reply(status=400, error=message, body={"error": message})
        if kind not in ("text", "json_object", "json_schema"):
            return Reply(status=400, error=f"invalid response format type {kind!r}", body={
                "error": f"invalid response format type {kind!r}"})
        return None

    def unknown_model(self, model: str) -> Reply:
        message = f'model "{model}" not found, try pulling it first'
        return Reply(status=404, error=message, body={"error": message})


class VLLM(Flavour):
    name = "vllm"
    MODELS = frozenset({"Qwen/Qwen2.5-7B-Instruct"})
    REMOVED = ("guided_json", "guided_regex", "guided_choice", "guided_grammar", "guided_decoding_backend")

    def check_format(self, r: Received) -> Reply | None:
        self.ignored += [key for key in self.REMOVED if key in r.body]  # removed in 0.12: ignored with a warning
        spec = r.body.get("structured_outputs")
        if spec is not None and not (isinstance(spec, dict) and isinstance(spec.get("json"), (dict, str))):
            return Reply(status=400, error="invalid structured_outputs", body={
                "object": "error", "message": "structured_outputs must name one of json, regex, choice, grammar",
                "type": "BadRequestError", "param": None, "code": 400})
        return None

    def unknown_model(self, model: str) -> Reply:
        message = f"The model `{model}` does not exist."
        return Reply(status=404, error=message, body={"object": "error", "message": message, "type": "NotFoundError",
                                                       "param": None, "code": 404})


FLAVOURS: dict[str, type[Flavour]] = {f.name: f for f in (DeepSeek, OpenAI, Anthropic, Gemini, Ollama, VLLM)}
