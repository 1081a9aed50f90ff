"""Compose the Hydra configuration, validate it once, and hand typed objects to the rest of the code.

Everything that comes from a user (YAML files, command-line overrides, Snakemake --config) passes
through `load_config`, which raises ConfigError with one line naming the key, the value and the
allowed choices.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar, Literal, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .config_errors import GROUPS, explain_hydra_error, explain_validation_error  # noqa: F401 - GROUPS is re-exported
from .config_errors import group_options as _options_in
from .config_overrides import declared_fields, holds, is_declared, widen_overrides
from .errors import ConfigError
from .naming import slugify

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntRange(_Strict):
    min: int = Field(gt=0)
    max: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> "IntRange":
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class CharacterConfig(_Strict):
    name: str = Field(min_length=1, max_length=80)
    role: str = Field(min_length=1)
    look: str = Field(min_length=1)
    gender: Literal["female", "male"] | None = None
    # Reference photos for the character's LoRA: files or folders, relative to the checkout.
    references: list[str] = Field(default_factory=list)


class SeriesConfig(_Strict):
    name: str = Field(min_length=1, max_length=80)
    theme: str = Field(min_length=1)
    language: Literal["en", "zh"]
    episodes: int = Field(ge=1, le=99)
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


class Pricing(_Strict):
    """What a provider charges, in USD. Only the fields a provider bills by are set; all default to 0."""

    per_call: float = Field(default=0.0, ge=0)
    input_per_mtok: float = Field(default=0.0, ge=0)
    output_per_mtok: float = Field(default=0.0, ge=0)
    per_second: float = Field(default=0.0, ge=0)
    billing_seconds: list[float] = Field(default_factory=list, description="clip lengths the API sells, e.g. [5, 10]")
    resolution_multiplier: dict[str, float] = Field(default_factory=dict, description="by render preset name")
    per_image: float = Field(default=0.0, ge=0)
    per_1k_chars: float = Field(default=0.0, ge=0)
    per_training_run: float = Field(default=0.0, ge=0)
    per_gpu_hour: float = Field(default=0.0, ge=0)
    per_unit: float = Field(default=0.0, ge=0, description="USD per unit of the vendor's own cost figure "
                            "(Kling units, Seedance tokens, Replicate compute seconds); 0: use the price table")

    @property
    def is_free(self) -> bool:
        return not any((self.per_call, self.input_per_mtok, self.output_per_mtok, self.per_second,
                        self.per_image, self.per_1k_chars, self.per_training_run, self.per_gpu_hour, self.per_unit))


class ProviderConfig(_Strict):
    """Fields every provider group shares. Pricing, concurrency and the fallback are operational:
    they change what a call costs or how it is scheduled, never what it produces, so they are kept
    out of every rule's params and every cache key."""

    # Where and how a request is sent changes neither the result nor the cache key: the same model
    # behind another gateway, a longer timeout or a new key must not regenerate anything.
    OPERATIONAL: ClassVar[frozenset[str]] = frozenset({
        "pricing", "concurrency", "fallback", "base_url", "api_key_env", "secret_key_env", "timeout_s", "max_attempts",
        "max_total_s", "poll_interval_s", "job_timeout_s", "preset", "checked"})

    # The fields that change what each provider produces. Only these enter rule params and cache
    # keys, so a new setting (or one a provider ignores) never re-pays for everything already made.
    RESULT_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {}

    pricing: Pricing = Pricing()
    concurrency: int = Field(default=4, ge=1, le=64)
    # The preset file this came from ("conf/video/kling.yaml"), filled in by the composer: an error a
    # preset edit fixes (a retired model name) names the file to edit.
    preset: str | None = None

    def result_fields(self) -> dict[str, Any]:
        dumped = self.model_dump(mode="json")
        names = self.RESULT_FIELDS.get(dumped.get("provider", ""))
        if names is None:
            return {k: v for k, v in dumped.items() if k not in self.OPERATIONAL}
        return {name: dumped[name] for name in ("provider", *names)}


class HostedConfig(ProviderConfig):
    """Connection settings of a hosted provider. The key itself is never configured: only the name
    of the environment variable that holds it."""

    # No user:password@ and no ?query: a URL ends up in job records and logs, a key must not.
    base_url: str | None = Field(default=None, pattern=r"^https?://[^\s@?#]+$")
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=6, ge=1, le=20)
    max_total_s: float = Field(default=600.0, gt=0)

    HOSTED_PROVIDERS: ClassVar[frozenset[str]] = frozenset()  # the providers that send requests

    @model_validator(mode="after")
    def _hosted_needs_url(self) -> "HostedConfig":
        provider = getattr(self, "provider", "")
        if provider in self.HOSTED_PROVIDERS and not self.base_url:
            raise ValueError(f"provider {provider} needs base_url")
        return self


class LLMConfig(HostedConfig):
    HOSTED_PROVIDERS: ClassVar[frozenset[str]] = frozenset({"openai"})
    RESULT_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "offline": ("model",), "fake_paid": ("model",),
        "openai": ("model", "temperature", "max_tokens", "structured_output", "repair_rounds", "critic_rounds",
                   "scene_batch_size", "max_speech_overrun"),
    }

    provider: Literal["offline", "fake_paid", "openai"]
    model: str = Field(min_length=1)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=4000, ge=256)
    # How replies are asked for as JSON (writers/structured.py): response_format json_object (DeepSeek,
    # OpenAI, Gemini) or a strict json_schema (OpenAI, Ollama), vLLM's structured_outputs field, or none
    # (Anthropic ignores response_format). A server that refuses a mode gets the next one down.
    structured_output: Literal["json_object", "json_schema", "structured_outputs", "none"] = "json_object"
    # The date the preset's model name and price were last checked (operational: no cache key).
    checked: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    repair_rounds: int = Field(default=2, ge=0, le=5)
    critic_rounds: int = Field(default=2, ge=0, le=5)
    scene_batch_size: int = Field(default=8, ge=1, le=30)
    # The hosted writer's critic sends a scene back (a hard problem) when its dialogue needs more than this
    # many times the scene's length to be spoken at a normal pace (pauses not counted: the voice step
    # closes them). 1.6 is what the voice step can still fit by speaking faster (audio/dialogue.py,
    # max_speedup); more would be cut or dropped there. Milder overruns stay a note.
    max_speech_overrun: float = Field(default=1.6, ge=1.0, le=100.0)
    fallback: "LLMConfig | None" = None


class ImageConfig(ProviderConfig):
    RESULT_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "procedural": ("model", "captions", "name_tags"),
        "diffusers": ("model", "model_dir", "family", "scheduler", "steps", "guidance", "gen_width", "gen_height"),
    }

    provider: Literal["procedural", "diffusers"]
    # diffusers: a model folder (diffusers layout, relative to the checkout) or a Hugging Face model id
    # resolved from the local Hugging Face cache only; never downloaded.
    model_dir: str | None = None
    family: Literal["sd15", "sdxl", "sd3"] = "sd15"
    scheduler: Literal["default", "ddim", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "unipc",
                       "flow_match_euler"] = "default"
    steps: int = Field(default=25, ge=1, le=200)
    guidance: float = Field(default=7.5, ge=0.0, le=30.0)
    gen_width: int = Field(default=512, ge=8, multiple_of=8)
    gen_height: int = Field(default=904, ge=8, multiple_of=8)
    model: str = "storyboard-v1"
    captions: bool = True
    name_tags: bool = True


# Vendor-native video APIs, one adapter module each in shortdrama/video/vendors/.
VIDEO_VENDORS = ("kling", "runway", "fal", "replicate", "minimax", "seedance")


class VideoConfig(HostedConfig):
    HOSTED_PROVIDERS: ClassVar[frozenset[str]] = frozenset({"job_api", *VIDEO_VENDORS})
    RESULT_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "animatic": ("model", "motion", "strength"), "fake_paid": ("model", "motion", "strength"),
        "job_api": ("model", "negative_prompt"),
        **{vendor: ("model", "negative_prompt", "options") for vendor in VIDEO_VENDORS},
        "diffusers": ("model", "model_dir", "pipeline", "steps", "guidance", "gen_width", "gen_height", "num_frames",
                      "native_fps", "extend", "negative_prompt"),
    }

    provider: Literal["animatic", "fake_paid", "job_api", "diffusers", "kling", "runway", "fal", "replicate",
                      "minimax", "seedance"]
    model: str = "animatic-v1"
    # Hosted vendors: a second secret (Kling signs a JWT with it), request fields the vendor's adapter
    # knows (mode, resolution...), and the date the preset's model names and prices were last checked.
    secret_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    checked: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    # diffusers: an image-to-video model folder or a Hugging Face model id in the local cache; never downloaded.
    model_dir: str | None = None
    pipeline: Literal["wan_i2v", "wan22_ti2v", "wan22_i2v"] = "wan_i2v"
    steps: int = Field(default=30, ge=1, le=200)
    guidance: float = Field(default=5.0, ge=0.0, le=30.0)
    gen_width: int = Field(default=480, ge=16, multiple_of=16)
    gen_height: int = Field(default=832, ge=16, multiple_of=16)
    num_frames: int = Field(default=81, ge=1, description="frames per generation; Wan needs 4k+1")
    native_fps: int = Field(default=16, ge=1, le=60)
    extend: Literal["interpolate", "loop"] = Field(
        default="interpolate", description="a scene longer than the model's clip: slow it down with blended "
                                           "in-between frames, or play it forward and back")
    cpu_offload: bool = Field(default=False, description="CUDA: one model component on the GPU at a time "
                                                         "(slower; lets a 14B model run on a 24 GB card)")
    motion: Literal["camera", "none"] = "camera"
    strength: float = Field(default=0.18, ge=0.0, le=0.5)
    negative_prompt: str = "blurry, low quality, distorted, watermark"
    poll_interval_s: float = Field(default=5.0, gt=0)
    job_timeout_s: float = Field(default=900.0, gt=0)
    # The next, cheaper model: used when a job fails, and when the budget says downgrade.
    fallback: "VideoConfig | None" = None

    @model_validator(mode="after")
    def _vendor_options(self) -> "VideoConfig":
        if self.provider in VIDEO_VENDORS:
            from .video.vendors import adapter

            adapter(self.provider).validate_options(self.options)
        elif self.options:
            raise ValueError(f"provider {self.provider} takes no options")
        return self

    def chain(self) -> list["VideoConfig"]:
        models, current = [], self
        while current is not None:
            models.append(current)
            current = current.fallback
        return models


class VoiceConfig(ProviderConfig):
    RESULT_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {"espeak": ("model", "rate")}

    provider: Literal["espeak"]
    model: str = "espeak-ng"
    rate: int = Field(default=165, ge=80, le=400)


class MusicConfig(ProviderConfig):
    RESULT_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {"synth": ("model", "enabled", "volume_db", "duck_db")}

    provider: Literal["synth"]
    model: str = "synth-v1"
    enabled: bool = True
    volume_db: float = Field(default=-18.0, le=0.0)
    duck_db: float = Field(default=-14.0, le=0.0)


class SubtitleConfig(_Strict):
    soft: bool = True
    burn: bool = True


class RenderConfig(_Strict):
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


class LoraStageConfig(_Strict):
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


class BudgetConfig(_Strict):
    series_usd: float | None = Field(default=None, ge=0.0, description="cap on one build's paid calls; null = none")
    episode_usd: float | None = Field(default=None, ge=0.0, description="cap per episode; null = none")
    on_cap: Literal["stop", "downgrade"] = "stop"
    traditional_usd_per_episode: float = Field(default=800.0, ge=0.0)


class CacheConfig(_Strict):
    enabled: bool = True
    dir: str | None = Field(default=None, description="null: $SHORTDRAMA_CACHE_DIR, else .cache/shortdrama in the checkout")


class AppConfig(_Strict):
    series: SeriesConfig
    llm: LLMConfig
    image: ImageConfig
    video: VideoConfig
    voice: VoiceConfig
    music: MusicConfig
    render: RenderConfig
    budget: BudgetConfig
    lora: LoraStageConfig = LoraStageConfig()
    cache: CacheConfig = CacheConfig()
    seed: int = 0
    output_dir: str | None = Field(default=None, description="results/<series> unless set (sweeps set it)")

    @model_validator(mode="after")
    def _models_fit_together(self) -> "AppConfig":
        if self.lora.enabled and self.image.provider != "diffusers":
            raise ValueError("lora: character LoRAs are trained on a diffusion image model; "
                             "add image=sd15 (or sdxl, sd3) with its weights on disk, or use lora=none")
        if self.lora.enabled and self.lora.reference_count < self.lora.min_references:
            raise ValueError(f"lora.reference_count ({self.lora.reference_count}) is below lora.min_references "
                             f"({self.lora.min_references}): generated reference sets would never pass validation")
        if self.image.provider == "diffusers":
            flow = self.image.family == "sd3"
            if self.image.scheduler not in ("default", "flow_match_euler" if flow else "ddim") and (
                    flow or self.image.scheduler == "flow_match_euler"):
                usable = "default, flow_match_euler" if flow else "default, ddim, euler, euler_a, dpmpp_2m, ..."
                raise ValueError(f"image.scheduler={self.image.scheduler} does not fit image.family="
                                 f"{self.image.family}; use one of {usable}")
        for group, model in (("image", self.image), ("video", self.video)):
            if model.provider == "diffusers" and not model.model_dir:
                raise ValueError(f"{group}.model_dir is not set: point it at a local diffusers model directory")
        return self

    @field_validator("output_dir")
    @classmethod
    def _inside_results(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"results(/[A-Za-z0-9_.=+,-]+)+", value) or (value and ".." in value.split("/")):
            raise ValueError("must be a folder under results/, e.g. results/demo/sweeps/video-still")
        return value


# ---------------------------------------------------------------------------------------------
# Turning Snakemake's --config dictionary into Hydra overrides


def overrides_from_snakemake(config: Mapping[str, Any]) -> list[str]:
    """`--config video=still series__episodes=3 overrides="series.theme='x y'"` -> Hydra overrides.

    Snakemake's --config keys cannot contain dots, so `__` stands for `.`; `overrides` carries any
    other Hydra override strings (a list, or one string split like a shell command line).
    """
    import shlex

    result: list[str] = []
    for key, value in config.items():
        if key == "overrides":
            items = shlex.split(value) if isinstance(value, str) else list(value or [])
            result.extend(str(item) for item in items)
        else:
            result.append(f"{key.replace('__', '.')}={_override_value(value)}")
    return result


def _override_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_./+-]*", text):
        return text
    # Hydra reads commas as a sweep and stops at spaces or non-ASCII text: quote everything else.
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# ---------------------------------------------------------------------------------------------
# Composition and validation


PRESET_GROUPS = ("llm", "image", "video", "voice", "music")


def load_config(overrides: Sequence[str] = (), conf_dir: Path | None = None) -> AppConfig:
    raw = compose_raw(overrides, conf_dir)
    return validate_config(raw)


def compose_raw(overrides: Sequence[str] = (), conf_dir: Path | None = None) -> dict[str, Any]:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    conf = Path(conf_dir or CONF_DIR).resolve()
    overrides = list(overrides)
    # A plain `group.key=value` of a field the models declare goes to Hydra as `++group.key=value` (add or
    # override: the same as a plain override where the preset spells the key out), so a field a preset
    # leaves at its default takes a plain override too. A key no model declares (a typo) stays plain and
    # is refused, with the keys that do exist there.
    widened, in_maps = widen_overrides(overrides)
    try:
        return _compose(widened, conf)
    except (HydraException, OmegaConfBaseException) as exc:
        error: Exception = exc
    if in_maps:  # a field below a map key (series.cast.<id>.gender): only where that key already exists
        try:
            base = _compose([o for i, o in enumerate(widened) if i not in in_maps], conf, name_presets=False)
            widened = ["++" + o if i in in_maps and not holds(base, in_maps[i]) and is_declared(in_maps[i], base)
                       else o for i, o in enumerate(widened)]
            return _compose(widened, conf)
        except (HydraException, OmegaConfBaseException) as exc:
            error = exc
    if type(error).__name__ == "OverrideParseException" and widened != overrides:
        try:  # quote the override as the user wrote it, without the ++
            _compose(overrides, conf)
        except (HydraException, OmegaConfBaseException) as exc:
            error = exc
    message = explain_hydra_error(error, overrides, conf, compose_raw, declared_fields)
    for given, sent in zip(overrides, widened):
        message = message.replace(sent, given) if sent != given else message
    raise ConfigError(message) from None


def _compose(overrides: list[str], conf: Path, name_presets: bool = True) -> dict[str, Any]:
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf, open_dict

    with initialize_config_dir(config_dir=str(conf), version_base=None):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    choices = OmegaConf.to_container(cfg.hydra.runtime.choices)
    with open_dict(cfg):
        del cfg["hydra"]
    raw: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    if name_presets:
        _name_presets(raw, choices)
    return raw


def _name_presets(raw: dict[str, Any], choices: Mapping[str, Any]) -> None:
    """Tell each provider group (and its fallbacks) which preset file it came from."""
    for group in PRESET_GROUPS:
        option, section = choices.get(group), raw.get(group)
        while isinstance(option, str) and isinstance(section, dict):
            section.setdefault("preset", f"conf/{group}/{option}.yaml")
            section = section.get("fallback")


def validate_config(raw: Mapping[str, Any]) -> AppConfig:
    try:
        return AppConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(explain_validation_error(exc, raw)) from None


def group_options(group: str, conf_dir: Path | None = None) -> list[str]:
    return _options_in(group, Path(conf_dir or CONF_DIR))
