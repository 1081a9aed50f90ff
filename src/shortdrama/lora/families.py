"""The model families by config name: "sd15", "sdxl", "sd3"."""

from __future__ import annotations

from shortdrama.errors import ConfigError
from shortdrama.lora.family import Family
from shortdrama.lora.sd3 import SD3
from shortdrama.lora.sd15 import SD15
from shortdrama.lora.sdxl import SDXL

FAMILIES: dict[str, Family] = {family.name: family for family in (SD15(), SDXL(), SD3())}


def get_family(name: str) -> Family:
    """The family called `name`, or a ConfigError listing the valid names."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown model family {name!r}; choose one of {', '.join(FAMILIES)}") from None
