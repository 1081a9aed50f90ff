"""Hosted video vendors: one adapter module per vendor API, chosen by `video.provider`.

Adding a vendor is one module here, named after its provider (an object implementing
`base.VendorAdapter`, named ADAPTER), and one preset in conf/video/. The modules are found by their file
names; the configuration takes the providers `video.provider` accepts from them (config.VIDEO_VENDORS,
the Literal of VideoConfig.provider) and the credential check asks the adapter which settings it cannot
work without (`required_settings`), so nothing else names a vendor.

Importing this package loads no adapter (and no HTTP client): the configuration reads the names at
start-up, an adapter module is imported when `adapter()` is first asked for it.
"""

from __future__ import annotations

from importlib import import_module
from pkgutil import iter_modules
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import VendorAdapter

# The seed's gateway: one API in front of several vendors, with a request shape of its own (no options).
# Its module is gateway.py; every other module's name is its provider name.
GATEWAY = "job_api"
_NOT_ADAPTERS = frozenset({"base"})


def _discover(paths: list[str]) -> dict[str, str]:
    """provider name -> adapter module, found by file name (nothing imported): the gateway first, then the
    vendors in alphabetical order, which is the order an error about video.provider lists them in."""
    modules = sorted(info.name for info in iter_modules(paths)
                     if not info.name.startswith("_") and info.name not in _NOT_ADAPTERS)
    found = {GATEWAY: "gateway"} if "gateway" in modules else {}
    found.update((name, name) for name in modules if name != "gateway")
    return found


_MODULES = _discover(__path__)
# The vendor-native APIs.
VENDORS: tuple[str, ...] = tuple(name for name in _MODULES if name != GATEWAY)


def adapter(provider: str) -> VendorAdapter:
    try:
        module = _MODULES[provider]
    except KeyError:
        raise ValueError(f"no hosted video adapter named {provider!r}") from None
    return import_module(f"{__name__}.{module}").ADAPTER
