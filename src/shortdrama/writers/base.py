"""The ScriptWriter protocol and the brief a writer works from (the factory that picks a writer: factory.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ..config import AppConfig
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

