"""The ScriptWriter protocol, the brief a writer works from, and the factory that picks a writer by config."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ..config import AppConfig, LLMConfig
from ..schemas import EpisodeOutline, EpisodeScript, Outline


@dataclass(frozen=True)
class CastMember:
    id: str
    name: str
    role: str
    gender: str | None


@dataclass(frozen=True)
class SeriesBrief:
    """The series as a writer sees it. Looks are left out on purpose: they drive images only, so
    editing a character's look rewrites no outline and no script."""

    name: str
    theme: str
    language: str
    episodes: int
    scenes_min: int
    scenes_max: int
    scene_seconds_min: int
    scene_seconds_max: int
    cast: tuple[CastMember, ...]
    seed: int

    @classmethod
    def from_config(cls, cfg: AppConfig) -> "SeriesBrief":
        s = cfg.series
        return cls(
            name=s.name, theme=s.theme, language=s.language, episodes=s.episodes,
            scenes_min=s.scenes_per_episode.min, scenes_max=s.scenes_per_episode.max,
            scene_seconds_min=s.scene_duration.min, scene_seconds_max=s.scene_duration.max,
            cast=tuple(CastMember(cid, c.name, c.role, c.gender) for cid, c in s.cast.items()),
            seed=cfg.seed,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SeriesBrief":
        return cls(**{**data, "cast": tuple(CastMember(**c) for c in data["cast"])})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def cast_names(self) -> list[str]:
        return [c.name for c in self.cast]


class ScriptWriter(Protocol):
    def write_outline(self, brief: SeriesBrief) -> Outline: ...

    def write_episode(self, brief: SeriesBrief, outline: Outline, episode: EpisodeOutline) -> EpisodeScript: ...


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
