"""The documents the pipeline writes and reads: outline.json and epNN/script.json.

They are validated wherever they cross an edge: when a writer (offline or LLM) produces them and
when a rule reads them back (a user may have edited them by hand). Cross-document checks that
need the cast live in `check_script`.

Every text is plain text (`Line`, or `Paragraph` for the synopsis): text from a model or a hand
edit reaches subtitle files, FFmpeg's metadata and prompts, where a control character, a line
break or a bidirectional override could forge or hide what is shown.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence, get_args

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, computed_field,
                      field_validator, model_serializer, model_validator)
from pydantic_core import PydanticCustomError

from .config import CharacterConfig
from .errors import SchemaError
from .media import write_text_atomic

CameraDirection = Literal["close-up", "medium", "wide", "pan", "tilt", "zoom-in", "zoom-out", "static"]
Mood = Literal["tense", "romantic", "mysterious", "sad", "hopeful", "comedic", "triumphant", "angry"]
CAMERA_DIRECTIONS: tuple[str, ...] = get_args(CameraDirection)
MOODS: tuple[str, ...] = get_args(Mood)

# ------------------------------------------------------------------------------------- plain text

# Characters no text of a document may hold: C0 and C1 controls (NUL, ESC, DEL, NEL...), the
# Unicode line and paragraph separators, the bidirectional embeddings, overrides and isolates, and
# unpaired surrogates (which cannot even be written as UTF-8).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))
# The same rule for JSON Schema readers (ECMA 262 regex); writers' strict schemas drop it.
_LINE_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"
_PARAGRAPH_PATTERN = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"


def text_problem(text: str, *, multiline: bool = False, dialogue: bool = False) -> str | None:
    """What makes `text` unfit for a document, phrased as a repair hint (for a model or a person), or None.

    One line: no control character, no line break, no tab, no bidirectional control, not blank.
    With `multiline` (the synopsis): single line breaks (U+000A) between non-blank lines are allowed.
    With `dialogue`, a line break is answered with how to say more than one line."""
    for match in _UNSAFE.finditer(text):
        char = match.group()
        if multiline and char == "\n":
            continue
        where = f"U+{ord(char):04X} at character {match.start() + 1}"
        if char in _LINE_BREAKS:
            if multiline:
                return f"contains a line break {where}; separate lines with a plain line feed (U+000A) only"
            if dialogue:
                return f"contains a line break {where}; a dialogue entry is one line: give each line its own entry"
            return f"contains a line break {where}; write it as one line"
        if char == "\t":
            return f"contains a tab {where}; use a space"
        if char in _BIDI:
            return f"contains a bidirectional control character {where}; write plain text without it"
        if "\ud800" <= char <= "\udfff":
            return f"contains an unpaired surrogate {where}; write plain text"
        return f"contains a control character {where}; write plain text without control characters"
    if not text.strip():
        return "is blank; write some text"
    if multiline:
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                return f"line {number} is blank; write the text without blank lines"
    return None


def _line(value: str, info: ValidationInfo) -> str:
    if problem := text_problem(value, dialogue=info.field_name == "text"):
        raise PydanticCustomError("unsafe_text", problem)
    return _composed(value)


def _paragraph(value: str) -> str:
    if problem := text_problem(value, multiline=True):
        raise PydanticCustomError("unsafe_text", problem)
    return _composed(value)


def _composed(text: str) -> str:
    """Unicode NFC: a model may write Vietnamese "ế" as e + two combining marks, which libass places
    badly and eSpeak reads otherwise; composed, every text means one thing to every tool."""
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class _Pattern:
    """Documents a text rule in the JSON Schema without making pydantic enforce it (the validator
    does, with a message a model can act on)."""

    pattern: str

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema = handler(core_schema)
        schema["pattern"] = self.pattern
        return schema


Line = Annotated[str, AfterValidator(_line), _Pattern(_LINE_PATTERN)]
"""One line of plain text: what every text field of the documents is (dialogue, names, titles...)."""
Paragraph = Annotated[str, AfterValidator(_paragraph), _Pattern(_PARAGRAPH_PATTERN)]
"""Plain text that may run over several lines, with no blank line between them (the synopsis)."""


# A title becomes the MP4's `title` metadata (an FFmpeg argument): one plain line, and short.
TITLE_MAX_LENGTH = 200


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


# A series of up to 999 episodes: its files are ep01..ep99, then ep100..ep999 (the {ep} wildcard takes 2-3 digits).
MAX_EPISODES = 999


class Character(CharacterConfig):
    """A cast member as documents name it: the config's character plus the id that names its files."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")


class EpisodeOutline(_Document):
    episode: int = Field(ge=1, le=MAX_EPISODES)
    title: Line = Field(min_length=1, max_length=TITLE_MAX_LENGTH)
    hook: Line = Field(min_length=1, description="What grabs the viewer in the first seconds")
    conflict: Line = Field(min_length=1)
    cliffhanger: Line = Field(min_length=1)
    mood: Mood


class Outline(_Document):
    series_title: Line = Field(min_length=1, max_length=TITLE_MAX_LENGTH)
    synopsis: Paragraph = Field(min_length=1)
    language: Literal["en", "zh", "vi"]
    main_plot_points: list[Line] = Field(min_length=1, max_length=8)
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
    description: Line = Field(min_length=1, max_length=200)


class DialogueLine(_Document):
    speaker: Line = Field(min_length=1)
    text: Line = Field(min_length=1, max_length=400)
    # How the line is said, for the voice (voice.emotion maps it to what each provider takes): a word such
    # as angry, sad, fearful, happy, surprised, tender, cold; and a short direction ("barely a whisper").
    # Any word is accepted here (a hand edit may want "smug" for an instructable voice); the writers write
    # only words voice.emotion knows (writers/hints.py).
    emotion: Line | None = Field(default=None, max_length=24, description=(
        "How the line is said, in one English word (angry, furious, terrified, heartbroken, tender, cold...); "
        "each voice takes it as it can: a word only some know is ignored by the others"))
    delivery: Line | None = Field(default=None, max_length=80, description=(
        "A short direction for the voice in English ('barely a whisper', 'shouted'); only voices that take "
        "instructions use it. Never shown or spoken"))

    @model_serializer(mode="wrap")
    def _without_absent_hints(self, handler: Any) -> dict[str, Any]:
        """A line without hints is written as it always was: scripts and specs stay byte-identical."""
        data = handler(self)
        for hint in ("emotion", "delivery"):
            if data.get(hint) is None:
                data.pop(hint, None)
        return data


class Scene(_Document):
    location: Location
    duration: float = Field(gt=0, le=60, description="Seconds on screen")
    characters: list[Line] = Field(min_length=1, description="Names of the cast members on screen")
    dialogue: list[DialogueLine] = Field(default_factory=list)
    action: Line = Field(min_length=1, max_length=400)
    camera: CameraDirection


_TARGET_DURATION = ("Derived: the sum of the scene durations in seconds, written for readers. A value given "
                    "in a document is ignored, so a hand edit changes a scene's duration only.")


def _target_duration_schema(schema: dict[str, Any]) -> None:
    """Old documents carry target_duration: the (validation) schema must still accept it."""
    schema["properties"]["target_duration"] = {"type": "number", "title": "Target Duration", "readOnly": True,
                                               "description": _TARGET_DURATION}


class EpisodeScript(_Document):
    model_config = ConfigDict(json_schema_extra=_target_duration_schema)

    episode: int = Field(ge=1, le=MAX_EPISODES)
    title: Line = Field(min_length=1, max_length=TITLE_MAX_LENGTH)
    language: Literal["en", "zh", "vi"]
    mood: Mood
    scenes: list[Scene] = Field(min_length=1, max_length=99)

    @model_validator(mode="before")
    @classmethod
    def _drop_target_duration(cls, data: Any) -> Any:
        """A written target_duration (perhaps stale after a hand edit, perhaps absent) is not read."""
        if isinstance(data, dict) and "target_duration" in data:
            return {key: value for key, value in data.items() if key != "target_duration"}
        return data

    @computed_field(description=_TARGET_DURATION)  # type: ignore[prop-decorator]
    @property
    def target_duration(self) -> float:
        return round(self.duration, 3)

    @property
    def duration(self) -> float:
        return sum(scene.duration for scene in self.scenes)


def check_script(script: EpisodeScript, cast_names: Sequence[str], *, language: str | None = None,
                 episode: int | None = None) -> None:
    """Checks that need more than one document: the cast, the series language and the episode's number.
    (The running time is the scenes' durations: nothing to check.)"""
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


def parse_outline(text: str, source: str = "outline") -> Outline:
    return _parse(Outline, text, source)


def parse_script(text: str, source: str = "script") -> EpisodeScript:
    return _parse(EpisodeScript, text, source)


def read_outline(path: str | Path) -> Outline:
    return parse_outline(Path(path).read_text(encoding="utf-8"), str(path))


def read_script(path: str | Path) -> EpisodeScript:
    return parse_script(Path(path).read_text(encoding="utf-8"), str(path))


def read_script_checked(path: str | Path, cast_names: Sequence[str], *, language: str | None = None,
                        episode: int | None = None) -> EpisodeScript:
    """A script as a rule reads it back: it may have been edited by hand, so validate it again."""
    script = read_script(path)
    check_script(script, cast_names, language=language, episode=episode)
    return script


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
