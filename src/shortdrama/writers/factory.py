"""The factory that picks a script writer by the llm group of the configuration.

It imports the writers, which import the brief from base.py: kept apart from base.py so that no
writer module imports a module that imports it back.
"""

from __future__ import annotations

from ..config import LLMConfig
from .base import ScriptWriter


def make_writer(llm: LLMConfig) -> ScriptWriter:
    if llm.provider in ("offline", "fake_paid"):  # the fake bills like a hosted LLM but writes the same
        from .offline import OfflineWriter

        return OfflineWriter()
    if llm.provider == "openai":
        from ..http import RetryPolicy
        from .openai_compat import ChatSettings, OpenAICompatWriter

        return OpenAICompatWriter(ChatSettings(
            base_url=llm.base_url, model=llm.model, api_key_env=llm.api_key_env, temperature=llm.temperature,
            max_tokens=llm.max_tokens, structured_output=llm.structured_output, preset=llm.preset,
            repair_rounds=llm.repair_rounds, critic_rounds=llm.critic_rounds, scene_batch_size=llm.scene_batch_size,
            max_speech_overrun=llm.max_speech_overrun,
            retry=RetryPolicy(max_attempts=llm.max_attempts, max_total_s=llm.max_total_s, request_timeout_s=llm.timeout_s)))
    raise AssertionError(f"unhandled llm provider {llm.provider!r}")  # config validation lists the providers
