"""The provider groups (llm, image, video, voice, music): what each may be told, and which of it
changes a result (RESULT_FIELDS) rather than how a request is sent or billed (OPERATIONAL).

`video.provider` accepts the local generators and every hosted adapter of the vendor registry
(shortdrama.video.vendors): a new vendor is named there, not here.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from ..video.vendors import GATEWAY, VENDORS
from .models import StrictModel


class Pricing(StrictModel):
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


class ProviderConfig(StrictModel):
    """Fields every provider group shares. Pricing, concurrency and the fallback are operational:
    they change what a call costs or how it is scheduled, never what it produces, so they are kept
    out of every rule's params and every cache key."""

    # Where and how a request is sent changes neither the result nor the cache key: the same model
    # behind another gateway, a longer timeout or a new key must not regenerate anything.
    OPERATIONAL: ClassVar[frozenset[str]] = frozenset({
        "pricing", "concurrency", "fallback", "base_url", "api_key_env", "secret_key_env", "timeout_s", "max_attempts",
        "max_total_s", "poll_interval_s", "poll_first_s", "job_timeout_s", "preset", "checked", "app_id_env"})

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


# Vendor-native video APIs, one adapter module each in shortdrama/video/vendors/, in the registry's order.
VIDEO_VENDORS: tuple[str, ...] = VENDORS
# What video.provider accepts, in the order its error message lists them: the local generators, the
# seed's gateway (job_api), local diffusion, then the vendors.
VIDEO_PROVIDERS: tuple[str, ...] = ("animatic", "fake_paid", GATEWAY, "diffusers", *VIDEO_VENDORS)
# pydantic reads the Literal when the class is created, so it is built from the registry's names here.
VideoProvider = Literal[VIDEO_PROVIDERS]  # type: ignore[valid-type]


class VideoConfig(HostedConfig):
    HOSTED_PROVIDERS: ClassVar[frozenset[str]] = frozenset({GATEWAY, *VIDEO_VENDORS})
    RESULT_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {
        "animatic": ("model", "motion", "strength"), "fake_paid": ("model", "motion", "strength"),
        GATEWAY: ("model", "negative_prompt"),
        **{vendor: ("model", "negative_prompt", "options") for vendor in VIDEO_VENDORS},
        "diffusers": ("model", "model_dir", "pipeline", "steps", "guidance", "gen_width", "gen_height", "num_frames",
                      "native_fps", "extend", "negative_prompt"),
    }

    provider: VideoProvider
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
    # Hosted jobs are polled first after poll_first_s, then ever less often, up to poll_interval_s apart
    # (a vendor's Retry-After on a poll reply wins).
    poll_interval_s: float = Field(default=5.0, gt=0, description="the longest wait between two polls of a hosted job")
    poll_first_s: float = Field(default=1.0, gt=0, description="the first wait after a hosted job is submitted")
    job_timeout_s: float = Field(default=900.0, gt=0)
    # The clip carries its own sound (a model that generates speech and sound with the picture): the
    # scene's dialogue track is the clip's audio instead of a voice's (stages.audio), and no lip-sync.
    own_audio: bool = False
    # The next, cheaper model: used when a job fails, and when the budget says downgrade.
    fallback: "VideoConfig | None" = None

    @model_validator(mode="after")
    def _vendor_options(self) -> "VideoConfig":
        if self.provider in VIDEO_VENDORS:
            from ..video.vendors import adapter

            adapter(self.provider).validate_options(self.options)
        elif self.options:
            raise ValueError(f"provider {self.provider} takes no options")
        if self.own_audio:
            for depth, model in enumerate(self.chain()):  # a fallback's clip must carry sound too
                problem = audio_problem(model)
                if problem and depth:
                    prefix = "video." + "fallback." * depth
                    problem = problem.replace("video.model=", f"{prefix}model=").replace("video.options.", f"{prefix}options.")
                    raise ValueError(f"own_audio: its fallback {model.model}: {problem} (or video.fallback=null)")
                if problem:
                    raise ValueError(f"own_audio: {problem}")
        return self

    def result_fields(self) -> dict[str, Any]:
        """own_audio only when set: every clip asked before it existed keeps its cache key."""
        fields = super().result_fields()
        if self.own_audio and self.provider in self.HOSTED_PROVIDERS:
            fields["own_audio"] = True
        return fields

    def chain(self) -> list["VideoConfig"]:
        models, current = [], self
        while current is not None:
            models.append(current)
            current = current.fallback
        return models


def audio_problem(model: VideoConfig) -> str | None:
    """Why `model` cannot make a clip with its own sound, or None (the vendor adapter's `audio_problem`)."""
    if model.provider in VIDEO_VENDORS:
        from ..video.vendors import adapter

        check = getattr(adapter(model.provider), "audio_problem", None)
        if check is not None:
            return check(model.model, model.options)
    return f"{model.provider} ({model.model}) makes no sound; choose a model that generates audio (video=kling " \
           f"with video.model=kling-v2-6 and video.options.mode=pro) or set video.own_audio=false"


class VoiceConfig(HostedConfig):
    HOSTED_PROVIDERS: ClassVar[frozenset[str]] = frozenset({"openai_speech", "elevenlabs", "minimax_speech",
                                                            "volcengine_speech"})
    RESULT_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {"espeak": ("model", "rate"),
                                                           "openai_speech": ("model", "speed"),
                                                           "elevenlabs": ("model", "speed"),
                                                           "minimax_speech": ("model", "speed"),
                                                           "volcengine_speech": ("model", "speed"),
                                                           "piper": ("model", "rate", "model_path")}

    provider: Literal["espeak", "piper", "openai_speech", "elevenlabs", "minimax_speech", "volcengine_speech"]
    model: str = "espeak-ng"
    rate: int = Field(default=165, ge=80, le=400)
    # Hosted voices: the speed every line is asked at (a character's own speed multiplies it), and the
    # provider's voices a character with none named is cast from, by the gender in the cast entry.
    speed: float = Field(default=1.0, ge=0.25, le=4.0)
    # Keys: female, male, any, and optionally female_young, female_old, male_young, male_old (the age
    # read from a character's role and look: voice.casting.age_of).
    catalogue: dict[Literal["female", "male", "any", "female_young", "female_old", "male_young", "male_old"],
                    list[str]] = Field(default_factory=dict)
    checked: str | None = None  # when the preset's prices were last checked against the vendor's page
    # Volcengine: the variable holding the account's app id (sent in the body; not a secret, but per account).
    app_id_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # A local Piper-style ONNX voice (voice=piper): the .onnx (its .onnx.json beside it), or a folder
    # holding one; relative paths are read from the checkout.
    model_path: str | None = None


class LipsyncConfig(HostedConfig):
    """The lip-sync stage (shortdrama.lipsync): a hosted model that redraws the speaker's mouth in a scene's
    clip to its dialogue track. `none` (the default) leaves every clip as QC chose it."""

    HOSTED_PROVIDERS: ClassVar[frozenset[str]] = frozenset({"fal"})
    RESULT_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {"none": (), "fal": ("model", "options")}

    provider: Literal["none", "fal"] = "none"
    model: str = "none"
    # The model's own input fields (fal-ai/sync-lipsync: sync_mode, model); validated by the adapter.
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)
    checked: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    poll_interval_s: float = Field(default=5.0, gt=0, description="the longest wait between two polls")
    poll_first_s: float = Field(default=1.0, gt=0, description="the first wait after a job is submitted")
    job_timeout_s: float = Field(default=900.0, gt=0)

    @model_validator(mode="after")
    def _model_options(self) -> "LipsyncConfig":
        if self.provider == "fal":
            from ..lipsync.fal import ADAPTER

            ADAPTER.validate_options(self.options)
        elif self.options:
            raise ValueError(f"lipsync provider {self.provider} takes no options")
        return self

    @property
    def enabled(self) -> bool:
        return self.provider != "none"


class MusicConfig(ProviderConfig):
    RESULT_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {"synth": ("model", "enabled", "volume_db", "duck_db")}

    provider: Literal["synth"]
    model: str = "synth-v1"
    enabled: bool = True
    volume_db: float = Field(default=-18.0, le=0.0)
    duck_db: float = Field(default=-14.0, le=0.0)
