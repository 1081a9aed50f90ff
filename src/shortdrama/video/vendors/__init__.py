"""Hosted video vendors: one adapter module per vendor API, chosen by `video.provider`.

Adding a vendor is one module here (an object implementing `base.VendorAdapter`, named ADAPTER), one
entry in `_MODULES`, one name in `config.VIDEO_VENDORS`, and one preset in conf/video/.
"""

from __future__ import annotations

from importlib import import_module

from .base import VendorAdapter

_MODULES = {
    "job_api": "gateway",  # the seed's gateway protocol (POST /video/generate)
    "kling": "kling",
    "runway": "runway",
    "fal": "fal",
    "replicate": "replicate",
    "minimax": "minimax",
    "seedance": "seedance",
}


def adapter(provider: str) -> VendorAdapter:
    try:
        module = _MODULES[provider]
    except KeyError:
        raise ValueError(f"no hosted video adapter named {provider!r}") from None
    return import_module(f"{__name__}.{module}").ADAPTER
