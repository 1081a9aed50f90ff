"""Hosted video vendors: one adapter module per vendor API, chosen by `video.provider`.

Adding a vendor is one module here (an object implementing `base.VendorAdapter`, named ADAPTER), its
line in `_MODULES` below, and one preset in conf/video/. The configuration takes the providers
`video.provider` accepts from this registry (config.VIDEO_VENDORS, the Literal of VideoConfig.provider),
so nothing else names a vendor.

Importing this package loads no adapter (and no HTTP client): the configuration reads the names at
start-up, an adapter module is imported when `adapter()` is first asked for it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import VendorAdapter

# provider name (as in conf/video/*.yaml) -> adapter module. The order is the order in which an error
# about video.provider lists the vendors.
_MODULES = {
    "job_api": "gateway",  # the seed's gateway protocol (POST /video/generate)
    "kling": "kling",
    "runway": "runway",
    "fal": "fal",
    "replicate": "replicate",
    "minimax": "minimax",
    "seedance": "seedance",
}

# The seed's gateway: one API in front of several vendors, with a request shape of its own (no options).
GATEWAY = "job_api"
# The vendor-native APIs.
VENDORS: tuple[str, ...] = tuple(name for name in _MODULES if name != GATEWAY)


def adapter(provider: str) -> VendorAdapter:
    try:
        module = _MODULES[provider]
    except KeyError:
        raise ValueError(f"no hosted video adapter named {provider!r}") from None
    return import_module(f"{__name__}.{module}").ADAPTER
