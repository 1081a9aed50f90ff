"""`AppConfig`, the whole validated configuration, and the group lists derived from it.

A config group is one field here plus its folder of YAML options in conf/ (and its line in the
defaults list of conf/config.yaml, which Hydra reads). Nothing else lists the groups: `GROUPS` and
`PROVIDER_GROUPS` are read off the fields.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from .models import BudgetConfig, CacheConfig, LoraStageConfig, RenderConfig, SeriesConfig, StrictModel
from .deliver import DeliverConfig
from .qc import QCConfig
from .review import ReviewConfig
from .providers import (ImageConfig, LipsyncConfig, LLMConfig, MusicConfig, ProviderConfig, VideoConfig,
                        VoiceConfig)

# The Hydra configuration directory of this checkout.
CONF_DIR = Path(__file__).resolve().parents[3] / "conf"


class AppConfig(StrictModel):
    series: SeriesConfig
    llm: LLMConfig
    image: ImageConfig
    video: VideoConfig
    voice: VoiceConfig
    music: MusicConfig
    render: RenderConfig
    budget: BudgetConfig
    # Off unless chosen (lipsync=fal_sync): its default keeps configs written before it valid.
    lipsync: LipsyncConfig = LipsyncConfig()
    lora: LoraStageConfig = LoraStageConfig()
    cache: CacheConfig = CacheConfig()
    qc: QCConfig = QCConfig()
    # The platform the episodes ship to (conf/deliver/): none by default.
    deliver: DeliverConfig = DeliverConfig()
    review: ReviewConfig = ReviewConfig()
    seed: int = 0
    # Takes bought per scene; QC picks the best (shortdrama.qc). Each is its own provider request.
    takes: int = Field(default=1, ge=1, le=20)
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



# The Hydra groups the models know: every field of AppConfig with an options folder in conf/, in field
# order. (A folder without a field, such as experiment/ whose files write to the top level with
# `# @package _global_`, is a Hydra group but no part of the model.)
GROUPS: tuple[str, ...] = tuple(name for name in AppConfig.model_fields if (CONF_DIR / name).is_dir())

# The provider groups: each names the preset it came from, and a build's runtime carries their settings.
PROVIDER_GROUPS: tuple[str, ...] = tuple(
    name for name, field in AppConfig.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, ProviderConfig))
