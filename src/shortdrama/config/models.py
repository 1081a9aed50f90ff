"""The configuration models of the groups that are not providers: the series and its cast, render,
LoRA training, budget and cache. Each group's YAML folder in conf/ fills one of these (through
`AppConfig`, in app.py); the provider groups are in providers.py.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..naming import slugify


class StrictModel(BaseModel):
    """Every configuration model: unknown keys are refused (a typo is an error), values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class IntRange(StrictModel):
    min: int = Field(gt=0)
    max: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> "IntRange":
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class CastVoice(StrictModel):
    """A character's voice with one provider: the provider's voice id, how fast and how high to speak."""

    id: str | None = Field(default=None, min_length=1, max_length=200)
    speed: float | None = Field(default=None, ge=0.5, le=2.0)
    # Semitones up (+) or down (-): the provider's own pitch where it has one (MiniMax), else the
    # answer shifted locally with FFmpeg (duration kept).
    pitch: int | None = Field(default=None, ge=-12, le=12)
    # A short recording of the actor (WAV/MP3, relative to the checkout) for providers that clone a
    # voice from it: cloned once (a cached call), then every line is spoken in the clone.
    sample: str | None = Field(default=None, min_length=1)


class CharacterConfig(StrictModel):
    name: str = Field(min_length=1, max_length=80)
    role: str = Field(min_length=1)
    look: str = Field(min_length=1)
    gender: Literal["female", "male"] | None = None
    # Reference photos for the character's LoRA: files or folders, relative to the checkout.
    references: list[str] = Field(default_factory=list)
    # The character's voice per voice provider (series.cast.<id>.voice.openai_speech.id=coral); a
    # provider with none named casts one from its catalogue (voice.base.cast_hosted_voice).
    voice: dict[str, CastVoice] = Field(default_factory=dict)


class SeriesConfig(StrictModel):
    name: str = Field(min_length=1, max_length=80)
    theme: str = Field(min_length=1)
    language: Literal["en", "zh", "vi"]
    episodes: int = Field(ge=1, le=999)  # ep01..ep99, ep100..ep999 (schemas.MAX_EPISODES)
    scenes_per_episode: IntRange
    scene_duration: IntRange
    cast: dict[str, CharacterConfig]

    @field_validator("cast")
    @classmethod
    def _cast_ids(cls, cast: dict[str, CharacterConfig]) -> dict[str, CharacterConfig]:
        if not cast:
            raise ValueError("the cast needs at least one character")
        for key in cast:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", key):
                raise ValueError(f"character id {key!r} must be lower-case letters, digits and _ (it names files)")
        names = [c.name for c in cast.values()]
        if len(set(names)) != len(names):
            raise ValueError("two characters share a name")
        return cast

    # Scene files are named with two digits; a scene is one generated clip.
    _RANGE_LIMITS: ClassVar[dict[str, tuple[int, str]]] = {
        "scenes_per_episode": (99, "an episode has at most 99 scenes, not {}"),
        "scene_duration": (60, "a scene lasts at most 60 s, not {}"),
    }

    @field_validator("scenes_per_episode", "scene_duration")
    @classmethod
    def _within_limits(cls, value: IntRange, info: Any) -> IntRange:
        limit, message = cls._RANGE_LIMITS[info.field_name]
        if value.max > limit:
            raise ValueError(message.format(value.max))
        return value

    @property
    def slug(self) -> str:
        """The directory name under results/: never a path, whatever the user typed."""
        return slugify(self.name)


class SubtitleConfig(StrictModel):
    soft: bool = True
    burn: bool = True
    # The style of the episode's ASS file (subtitles.py), which the burn-in draws with libass, in units
    # of its 384x288 script (the one FFmpeg makes of an SRT): small enough that a vertical frame fits a
    # line, raised to about 73% of the height as short-video apps place them, above their bottom
    # controls and above the keyframe's action caption band. Colours are ASS &HAABBGGRR (alpha 00 =
    # opaque). font: null is the bundled face for the series language (fonts.py).
    font: str | None = Field(default=None, description="a font family name; null: the bundled CJK face")
    font_size: int = Field(default=12, ge=4, le=72)
    primary_colour: str = Field(default="&H00FFFFFF", pattern=r"^&H[0-9A-Fa-f]{8}$")
    outline_colour: str = Field(default="&HA0000000", pattern=r"^&H[0-9A-Fa-f]{8}$")
    back_colour: str = Field(default="&H00000000", pattern=r"^&H[0-9A-Fa-f]{8}$", description="the shadow's colour")
    border_style: Literal[1, 3] = Field(default=1, description="1: outline and shadow; 3: an opaque box")
    outline: float = Field(default=1.8, ge=0.0, le=10.0)
    shadow: float = Field(default=0.8, ge=0.0, le=10.0)
    position: Literal["bottom", "middle", "top"] = "bottom"
    margin_l: int = Field(default=10, ge=0, le=160, description="the least distance from the left edge")
    margin_r: int = Field(default=10, ge=0, le=160, description="the least distance from the right edge")
    margin_v: int = Field(default=78, ge=0, le=288, description="distance from the bottom edge (top: from the top)")

    @field_validator("font")
    @classmethod
    def _font_name(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or len(value) > 100 or re.search(r"[,{}\\\x00-\x1f\x7f]", value)):
            raise ValueError("must be a font family name (1-100 characters, no comma, brace, backslash or control "
                             "character: it is a field of the ASS style line), or null for the bundled face")
        return value


class RenderConfig(StrictModel):
    name: str
    resolution: str
    fps: int = Field(ge=12, le=60)
    crf: int = Field(ge=0, le=51)
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"] = "veryfast"
    audio_bitrate: str = Field(default="160k", pattern=r"^\d+k$")
    loudness_lufs: float = Field(default=-16.0, ge=-36.0, le=-6.0)
    subtitles: SubtitleConfig = SubtitleConfig()

    @field_validator("resolution")
    @classmethod
    def _vertical(cls, value: str) -> str:
        match = re.fullmatch(r"(\d+)x(\d+)", value)
        if not match:
            raise ValueError("must be WIDTHxHEIGHT, e.g. 720x1280")
        width, height = int(match[1]), int(match[2])
        if width % 2 or height % 2 or width < 144:
            raise ValueError("width and height must be even and at least 144 wide (H.264 4:2:0)")
        if abs(width / height - 9 / 16) > 0.01:
            raise ValueError(f"{width}x{height} is not vertical 9:16")
        return value

    @property
    def width(self) -> int:
        return int(self.resolution.split("x")[0])

    @property
    def height(self) -> int:
        return int(self.resolution.split("x")[1])


class LoraStageConfig(StrictModel):
    """One LoRA per character, trained on its reference images with the image group's base model."""

    enabled: bool = False
    rank: int = Field(default=16, ge=1, le=256)
    alpha: int = Field(default=16, ge=1)
    steps: int = Field(default=1000, ge=1)
    learning_rate: float = Field(default=1e-4, gt=0)
    resolution: int = Field(default=512, ge=8, multiple_of=8)
    batch_size: int = Field(default=1, ge=1)
    gradient_accumulation: int = Field(default=1, ge=1)
    mixed_precision: Literal["no", "fp16", "bf16"] = "fp16"
    checkpoint_every: int = Field(default=100, ge=1)
    min_references: int = Field(default=10, ge=1)
    min_short_side: int = Field(default=512, ge=8)
    weight: float = Field(default=0.8, ge=0.0, le=2.0, description="adapter weight when generating keyframes")
    reference_count: int = Field(default=12, ge=1, le=200,
                                 description="images generated for a character whose cast entry has no references")
    seed: int = 0


class BudgetConfig(StrictModel):
    series_usd: float | None = Field(default=None, ge=0.0, description="cap on one build's paid calls; null = none")
    episode_usd: float | None = Field(default=None, ge=0.0, description="cap per episode; null = none")
    on_cap: Literal["stop", "downgrade"] = "stop"
    traditional_usd_per_episode: float = Field(default=800.0, ge=0.0)


class CacheConfig(StrictModel):
    enabled: bool = True
    dir: str | None = Field(default=None, description="null: $SHORTDRAMA_CACHE_DIR, else .cache/shortdrama in the checkout")
