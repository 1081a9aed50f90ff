"""The configuration: Hydra composes it from conf/, pydantic validates it once, the rest of the code
receives typed objects.

    models.py     the groups that are not providers (series, render, lora, budget, cache)
    qc.py         the qc group: automated checks' thresholds, retakes
    providers.py  the provider groups (llm, image, video, voice, music, lipsync)
    app.py        AppConfig, and the group lists read off its fields (GROUPS, PROVIDER_GROUPS)
    compose.py    Hydra composition, Snakemake's --config, validation (load_config)
    overrides.py  plain `group.key=value` overrides for every declared field
    explain.py    one clear line for every configuration mistake

Import from here: `from shortdrama.config import AppConfig, load_config`.
"""

from .app import CONF_DIR, GROUPS, PROVIDER_GROUPS, AppConfig
from .compose import compose_raw, group_options, load_config, overrides_from_snakemake, validate_config
from .models import (BudgetConfig, CacheConfig, CharacterConfig, IntRange, LoraStageConfig, RenderConfig, SeriesConfig,
                     StrictModel, SubtitleConfig)
from .qc import QCConfig
from .providers import (VIDEO_PROVIDERS, VIDEO_VENDORS, HostedConfig, ImageConfig, LipsyncConfig, LLMConfig, MusicConfig,
                        Pricing, ProviderConfig, VideoConfig, VoiceConfig)

__all__ = [
    "CONF_DIR", "GROUPS", "PROVIDER_GROUPS", "VIDEO_PROVIDERS", "VIDEO_VENDORS",
    "AppConfig", "BudgetConfig", "CacheConfig", "CharacterConfig", "HostedConfig", "ImageConfig", "IntRange",
    "LipsyncConfig", "LLMConfig", "LoraStageConfig", "MusicConfig", "Pricing", "QCConfig", "ProviderConfig", "RenderConfig", "SeriesConfig",
    "StrictModel", "SubtitleConfig", "VideoConfig", "VoiceConfig",
    "compose_raw", "group_options", "load_config", "overrides_from_snakemake", "validate_config",
]
