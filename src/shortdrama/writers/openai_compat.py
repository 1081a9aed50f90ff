"""A multi-agent script writer over any OpenAI-compatible chat completions API.

DeepSeek, OpenAI, gateways in front of Claude or Gemini, and local vLLM / Ollama / llama.cpp servers
all speak `POST {base_url}/chat/completions`. Three agents share one HTTP client:

- the outline writer turns the brief into an `Outline`;
- the episode writer turns one episode of the outline into scenes, in batches of
  `scene_batch_size` after a scene plan when an episode may be long, so no reply is truncated;
- the continuity critic reviews each draft; its fixes, plus the findings of the same checks run
  locally in code, go back to the episode writer for a bounded number of revision rounds.

Every reply is asked for in the provider's structured output mode (`structured.py`), parsed as
JSON (fences and surrounding prose stripped), validated, and on failure sent back with the list of
problems for a bounded number of repair rounds. Provider quirks handled here: a blank reply
(DeepSeek's JSON mode) is asked again unchanged; a reply cut off at max_tokens goes back with a
request for a shorter, complete answer (a blank one, from a reasoning model that spent max_tokens
thinking, is not sent back: Anthropic-compatible endpoints refuse an empty assistant message with
HTTP 400, so only the request goes); a refusal (OpenAI structured outputs) and a model name the
provider does not know (names retire) end in one line that says what to change. The API key is read
from the environment variable the settings name and travels only in the Authorization header.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import httpx

from ..errors import ProviderError, SchemaError
from ..http import ProviderHTTPError, RetryPolicy, api_key, auth_headers, request
from ..schemas import EpisodeOutline, EpisodeScript, Outline, Scene, check_script
from . import prompts
from .base import SeriesBrief
from .replies import (MAX_LISTED_PROBLEMS, MAX_SPEECH_OVERRUN, UnusableReply, extract_json, local_findings,
                      one_line, parse_outline_reply, parse_patch_reply, parse_plan_reply, parse_scenes_reply,
                      parse_verdict_reply)
from .structured import (DOWNGRADE, MODES, agent_of, ensure_json_word, provider_message, rejects_mode,
                         request_fields, unknown_model_message)

log = logging.getLogger(__name__)
T = TypeVar("T")

CRITIC_MAX_TEMPERATURE = 0.2  # a reviewer should be steady; the writers keep the configured temperature
CUT_OFF = "the reply was cut off at the token limit (finish_reason=length); the JSON is incomplete"
CUT_OFF_BLANK = ("your previous answer was empty: the token limit was reached (finish_reason=length) before any "
                 "of the JSON was written; keep any reasoning short")


@dataclass(frozen=True)
class ChatSettings:
    base_url: str
    model: str
    api_key_env: str | None
    temperature: float = 0.7
    max_tokens: int = 4000
    structured_output: str = "json_object"  # one of structured.MODES
    preset: str | None = None  # the preset file ("conf/llm/deepseek.yaml"), named by errors a preset edit fixes
    retry: RetryPolicy = RetryPolicy()
    repair_rounds: int = 2
    critic_rounds: int = 2
    scene_batch_size: int = 8
    blank_retries: int = 2  # a blank reply is asked again, unchanged, at most this often
    # Dialogue needing more than this many times its scene's length is sent back (replies.speech_overrun).
    max_speech_overrun: float = MAX_SPEECH_OVERRUN



@dataclass
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    def add(self, usage: Any) -> None:
        self.calls += 1
        if isinstance(usage, dict):
            self.prompt_tokens += _count(usage.get("prompt_tokens"))
            self.completion_tokens += _count(usage.get("completion_tokens"))


@dataclass(frozen=True)
class _Reply:
    content: str
    finish_reason: str | None


class OpenAICompatWriter:
    def __init__(self, settings: ChatSettings, client: httpx.Client | None = None):
        rounds = (settings.repair_rounds, settings.critic_rounds, settings.blank_retries)
        if settings.scene_batch_size < 1 or min(rounds) < 0 or not settings.max_speech_overrun > 0:
            raise ProviderError("llm: scene_batch_size must be >= 1, repair/critic/blank rounds >= 0 and "
                                "max_speech_overrun > 0")
        if settings.structured_output not in MODES:
            raise ProviderError(f"llm: structured_output={settings.structured_output!r}; one of {', '.join(MODES)}")
        self.settings = settings
        self.usage = TokenUsage()
        self._client = client if client is not None else httpx.Client()
        self._owns_client = client is None
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        self._mode = settings.structured_output  # lowered for good when the server refuses it
        self._key: str | None = None
        self._key_read = False

    def __repr__(self) -> str:  # the key is never part of any representation
        return f"OpenAICompatWriter(model={self.settings.model!r}, base_url={self.settings.base_url!r})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> "OpenAICompatWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------------- agents

    def write_outline(self, brief: SeriesBrief) -> Outline:
        return self._structured(prompts.outline_messages(brief), lambda data: parse_outline_reply(data, brief),
                                "outline", "outline")

    def write_episode(self, brief: SeriesBrief, outline: Outline, episode: EpisodeOutline) -> EpisodeScript:
        scenes = self._draft(brief, outline, episode)
        scenes = self._review(brief, outline, episode, scenes)
        script = EpisodeScript(episode=episode.episode, title=episode.title, language=brief.language,
                               mood=episode.mood, scenes=scenes)
        check_script(script, brief.cast_names, language=brief.language, episode=episode.episode)
        return script

    def _draft(self, brief: SeriesBrief, outline: Outline, episode: EpisodeOutline) -> list[Scene]:
        n, size = episode.episode, self.settings.scene_batch_size
        if brief.scenes_max <= size:
            return self._structured(prompts.episode_messages(brief, outline, episode),
                                    lambda data: parse_scenes_reply(data, count=(brief.scenes_min, brief.scenes_max)),
                                    f"episode {n}", "scenes")
        plan = self._structured(prompts.plan_messages(brief, outline, episode),
                                lambda data: parse_plan_reply(data, brief.scenes_min, brief.scenes_max),
                                f"episode {n} plan", "plan")
        scenes: list[Scene] = []
        for first in range(1, len(plan) + 1, size):
            last = min(len(plan), first + size - 1)
            want = last - first + 1
            scenes += self._structured(
                prompts.batch_messages(brief, outline, episode, plan, scenes, first, last),
                lambda data, first=first, want=want: parse_scenes_reply(data, count=(want, want), first=first),
                f"episode {n} scenes {first}-{last} of {len(plan)}", "scenes")
        return scenes

    def _review(self, brief: SeriesBrief, outline: Outline, episode: EpisodeOutline,
                scenes: list[Scene]) -> list[Scene]:
        """Critic rounds: local findings plus the critic's fixes go back to the episode writer."""
        n, rounds = episode.episode, self.settings.critic_rounds
        revisions = 0
        while True:
            local = local_findings(brief, scenes, self.settings.max_speech_overrun)
            critic: list[str] = []
            if rounds > 0:
                critic = self._structured(prompts.critic_messages(brief, outline, episode, scenes), parse_verdict_reply,
                                          f"episode {n} critic", "verdict",
                                          temperature=min(self.settings.temperature, CRITIC_MAX_TEMPERATURE))
            fixes = [f.text for f in local] + [fix for fix in critic if fix not in {f.text for f in local}]
            if not fixes:
                return scenes
            if revisions >= rounds:
                break
            revisions += 1
            log.info("episode %d: revision %d/%d for %d fixes", n, revisions, rounds, len(fixes))
            patch = self._structured(prompts.revise_messages(brief, outline, episode, scenes, fixes),
                                     lambda data, total=len(scenes): parse_patch_reply(data, total),
                                     f"episode {n} revision {revisions}", "patch")
            scenes = [patch.get(number, scene) for number, scene in enumerate(scenes, start=1)]
        hard = [f.text for f in local if f.hard]
        if hard:
            raise SchemaError(one_line(f"episode {n}: still wrong after {rounds} critic rounds: " + "; ".join(hard)))
        log.warning("episode %d: accepted with open notes after %d critic rounds: %s", n, rounds,
                    one_line("; ".join(fixes), 600))
        return scenes

    # ------------------------------------------------------------------------------ structured

    def _structured(self, messages: list[dict[str, str]], parse: Callable[[Any], T], what: str, task: str,
                    temperature: float | None = None) -> T:
        """Ask, parse and validate; send the problems back for up to `repair_rounds` repairs."""
        conversation = list(messages)
        problems: list[str] = []
        truncated = blank = False
        for attempt in range(self.settings.repair_rounds + 1):
            reply = self._ask(conversation, what, task, temperature)
            truncated, blank = reply.finish_reason == "length", not reply.content.strip()
            try:
                if truncated:
                    raise UnusableReply([CUT_OFF_BLANK if blank else CUT_OFF])
                return parse(extract_json(reply.content))
            except UnusableReply as unusable:
                problems = unusable.problems
            if attempt < self.settings.repair_rounds:
                log.warning("%s: unusable reply (%s); repair %d/%d", what, one_line("; ".join(problems), 300),
                            attempt + 1, self.settings.repair_rounds)
                # Never an assistant turn with blank content (Anthropic-compatible endpoints answer HTTP 400):
                # a blank reply is left out and the repair request alone says it was empty.
                answer = [] if blank else [{"role": "assistant", "content": reply.content}]
                conversation += [*answer, prompts.repair_message(problems[:MAX_LISTED_PROBLEMS], truncated)]
        if truncated and blank:
            hint = (f"; the last reply was empty, cut off at max_tokens={self.settings.max_tokens} before any JSON "
                    f"(a reasoning model may spend them all thinking): raise llm.max_tokens")
        elif truncated:
            hint = (f"; the last reply was cut off at max_tokens={self.settings.max_tokens}: raise llm.max_tokens "
                    f"(or lower llm.scene_batch_size)")
        else:
            hint = ""
        raise SchemaError(one_line(f"{what}: no valid reply from {self.settings.model} after "
                                    f"{self.settings.repair_rounds} repair rounds: " + "; ".join(problems) + hint))

    def _ask(self, messages: list[dict[str, str]], what: str, task: str, temperature: float | None) -> _Reply:
        """One reply with content. A blank one (DeepSeek's JSON mode blanks out output it cannot read as
        JSON, with finish_reason=stop) is asked again unchanged: sending a blank back as a repair
        would only make the conversation longer."""
        for attempt in range(self.settings.blank_retries + 1):
            reply = self._chat(messages, what, task, temperature)
            if reply.content.strip() or reply.finish_reason == "length":
                return reply
            if attempt < self.settings.blank_retries:
                log.warning("llm %s %s: blank reply (finish_reason=%s); asking again %d/%d", self.settings.model,
                            what, reply.finish_reason, attempt + 1, self.settings.blank_retries)
        raise ProviderError(f"llm {self.settings.model} {what}: {self.settings.blank_retries + 1} blank replies in a "
                            f"row (finish_reason={reply.finish_reason}), a known quirk of JSON mode: run again later, "
                            f"or set llm.structured_output=none")

    def _chat(self, messages: list[dict[str, str]], what: str, task: str, temperature: float | None) -> _Reply:
        label = f"llm {self.settings.model} {what}"
        response = self._send(messages, task, temperature, label)
        try:
            body = response.json()
            choice = body["choices"][0]
            message = choice["message"]
            content = message.get("content") or ""
            refusal = message.get("refusal")
            finish = choice.get("finish_reason")
            if not isinstance(content, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError(self._redact(f"{label}: unexpected response: {response.text[:200]!r}")) from None
        self.usage.add(body.get("usage"))
        usage = body.get("usage") or {}
        log.info("%s: %s prompt + %s completion tokens, finish_reason=%s", label, usage.get("prompt_tokens", "?"),
                 usage.get("completion_tokens", "?"), finish)
        if isinstance(refusal, str) and refusal.strip() and not content.strip():
            # Not retried: a refusal judges what we sent (the theme, the cast, the story so far), so the
            # same request is refused again, and each try is billed. The user can change what is sent.
            raise ProviderError(one_line(f"{label}: the model refused the {agent_of(task)}'s request "
                                         f"({one_line(refusal, 200)!r}); not retried, since the same request is "
                                         f"refused again: reword series.theme or the cast roles, "
                                         f"or use another llm preset"))
        return _Reply(content, finish)

    def _send(self, messages: list[dict[str, str]], task: str, temperature: float | None,
              label: str) -> httpx.Response:
        """POST in the current mode; a mode the server refuses is replaced by the next one down, for good."""
        while True:
            payload: dict[str, Any] = {
                "model": self.settings.model,
                "messages": ensure_json_word(messages) if self._mode == "json_object" else messages,
                "temperature": self.settings.temperature if temperature is None else temperature,
                "max_tokens": self.settings.max_tokens, **request_fields(self._mode, task),
            }
            try:
                return self._post(payload, label)
            except ProviderHTTPError as error:
                status, text = error.status, str(error)
                # the whole body where there is one: the error's text keeps only its first 200 characters
                missing = unknown_model_message(status, self._redact(error.body) or text, self.settings.model,
                                                self.settings.preset, self.settings.base_url)
                if missing is None:
                    if not (self._mode != "none" and status == 400 and rejects_mode(text)):
                        raise
                    log.warning("%s: the server refuses structured_output=%s (%s); asking with %s", label, self._mode,
                                one_line(provider_message(text), 200), DOWNGRADE[self._mode])
                    self._mode = DOWNGRADE[self._mode]
                    continue
            raise ProviderHTTPError(missing, status)  # outside the handler: one line, no HTTP error as its context

    def _post(self, payload: dict[str, Any], label: str) -> httpx.Response:
        try:
            return request(self._client, "POST", self._url, policy=self.settings.retry, what=label,
                           json=payload, headers=auth_headers(self._api_key()))
        except httpx.HTTPError as error:  # what the retrying request does not turn into a ProviderError
            raise ProviderError(f"{label}: {type(error).__name__}") from None
        except ProviderHTTPError as error:
            if not self._key or self._key not in str(error):
                raise
            clean = ProviderHTTPError(self._redact(str(error)), error.status)
        raise clean  # outside the handler: the original, which shows the key, is not even kept as __context__

    def _api_key(self) -> str | None:
        if not self._key_read:
            self._key = api_key(self.settings.api_key_env, f"llm {self.settings.model}")
            self._key_read = True
        return self._key

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
