"""The documents the pipeline writes and reads: outline.json and epNN/script.json.

They are validated wherever they cross an edge: when a writer (offline or LLM) produces them and
when a rule reads them back (a user may have edited them by hand). Cross-document checks that
need the cast live in `check_script`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Sequence, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .config import CharacterConfig
from .errors import SchemaError
from .media import write_text_atomic

CameraDirection = Literal["close-up", "medium", "wide", "pan", "tilt", "zoom-in", "zoom-out", "static"]
Mood = Literal["tense", "romantic", "mysterious", "sad", "hopeful", "comedic", "triumphant", "angry"]
CAMERA_DIRECTIONS: tuple[str, ...] = get_args(CameraDirection)
MOODS: tuple[str, ...] = get_args(Mood)

# Scene durations may be rounded by a writer or an editor; an episode may drift this far from its target.
DURATION_TOLERANCE_S = 0.5
DURATION_TOLERANCE_FRACTION = 0.02


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Character(CharacterConfig):
    """A cast member as documents name it: the config's character plus the id that names its files."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")


class EpisodeOutline(_Document):
    episode: int = Field(ge=1, le=99)
    title: str = Field(min_length=1)
    hook: str = Field(min_length=1, description="What grabs the viewer in the first seconds")
    conflict: str = Field(min_length=1)
    cliffhanger: str = Field(min_length=1)
    mood: Mood


class Outline(_Document):
    series_title: str = Field(min_length=1)
    synopsis: str = Field(min_length=1)
    language: Literal["en", "zh"]
    main_plot_points: list[str] = Field(min_length=1, max_length=8)
    episodes: list[EpisodeOutline] = Field(min_length=1)

    @field_validator("episodes")
    @classmethod
    def _numbered_in_order(cls, episodes: list[EpisodeOutline]) -> list[EpisodeOutline]:
        numbers = [e.episode for e in episodes]
        if numbers != list(range(1, len(episodes) + 1)):
            raise ValueError(f"episodes must be numbered 1..{len(episodes)} in order, got {numbers}")
        return episodes


class Location(_Document):
    setting: Literal["INT", "EXT"]
    description: str = Field(min_length=1, max_length=200)


class DialogueLine(_Document):
    speaker: str = Field(min_length=1)
    text: str = Field(min_length=1, max_length=400)


class Scene(_Document):
    location: Location
    duration: float = Field(gt=0, le=60, description="Seconds on screen")
    characters: list[str] = Field(min_length=1, description="Names of the cast members on screen")
    dialogue: list[DialogueLine] = Field(default_factory=list)
    action: str = Field(min_length=1, max_length=400)
    camera: CameraDirection


class EpisodeScript(_Document):
    episode: int = Field(ge=1, le=99)
    title: str = Field(min_length=1)
    language: Literal["en", "zh"]
    mood: Mood
    target_duration: float = Field(gt=0)
    scenes: list[Scene] = Field(min_length=1, max_length=99)

    @property
    def duration(self) -> float:
        return sum(scene.duration for scene in self.scenes)


def check_script(script: EpisodeScript, cast_names: Sequence[str], *, language: str | None = None,
                 episode: int | None = None) -> None:
    """Checks that need more than one document: the cast, the series language, the episode's number
    and its running time."""
    if language is not None and script.language != language:
        raise SchemaError(f"episode {script.episode}: written in {script.language!r} but the series language is {language!r}")
    if episode is not None and script.episode != episode:
        raise SchemaError(f"the script of episode {episode} says it is episode {script.episode}")
    known = set(cast_names)
    for number, scene in enumerate(script.scenes, start=1):
        for name in scene.characters:
            if name not in known:
                raise SchemaError(f"episode {script.episode} scene {number}: {name!r} is not in the cast ({', '.join(cast_names)})")
        for line in scene.dialogue:
            if line.speaker not in known:
                raise SchemaError(
                    f"episode {script.episode} scene {number}: speaker {line.speaker!r} is not in the cast ({', '.join(cast_names)})"
                )
    tolerance = max(DURATION_TOLERANCE_S, DURATION_TOLERANCE_FRACTION * script.target_duration)
    if abs(script.duration - script.target_duration) > tolerance:
        raise SchemaError(
            f"episode {script.episode}: scenes last {script.duration:g} s but the target is "
            f"{script.target_duration:g} s (tolerance {tolerance:g} s)"
        )


def parse_outline(text: str, source: str = "outline") -> Outline:
    return _parse(Outline, text, source)


def parse_script(text: str, source: str = "script") -> EpisodeScript:
    return _parse(EpisodeScript, text, source)


def read_outline(path: str | Path) -> Outline:
    return parse_outline(Path(path).read_text(encoding="utf-8"), str(path))


def read_script(path: str | Path) -> EpisodeScript:
    return parse_script(Path(path).read_text(encoding="utf-8"), str(path))


def write_document(document: BaseModel, path: str | Path) -> None:
    write_text_atomic(path, document.model_dump_json(indent=2) + "\n")


def _parse(model: type[BaseModel], text: str, source: str):  # noqa: ANN202 - returns an instance of model
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "(document)"
        raise SchemaError(f"{source}: {where}: {error['msg']}") from None


def json_schemas() -> dict[str, dict]:
    """The JSON Schemas of every document, keyed by file name, for `shortdrama schema`."""
    return {
        "outline.schema.json": Outline.model_json_schema(),
        "episode_script.schema.json": EpisodeScript.model_json_schema(),
        "character.schema.json": Character.model_json_schema(),
    }


def export_json_schemas(out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    written = []
    for name, schema in json_schemas().items():
        path = out / name
        write_text_atomic(path, json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written
