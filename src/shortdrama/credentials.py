"""Every API key a build needs, checked before its first job.

A hosted provider reads its key from the environment variable its preset names (`api_key_env`, and
Kling's `secret_key_env`), and only when a request is sent: without this check a missing key shows up
as a failed job, after other jobs (and money) have run. `check_credentials` is called by the build's
`onstart:` hook (rules/hooks.smk), which Snakemake runs once the DAG is built and only when jobs will
run: never in a dry run, `shortdrama plan` or `shortdrama config`, nor when nothing is out of date.

What counts as needed: every model of the writer's chain (`llm` and its `fallback`s) whose provider
sends requests, and every model of the video chain (the engine reads the keys of the whole chain
before it submits anything, so that a missing fallback key cannot strand a paid job). A vendor whose
adapter accepts no request without a key (`vendors/base.required_key`; Kling's JWT needs both keys)
is reported even where its preset names no variable. Only variable names are ever shown, never a value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from .config import AppConfig, HostedConfig, LipsyncConfig, LLMConfig, VideoConfig
from .errors import ConfigError

def vendor_requires(provider: str) -> tuple[str, ...]:
    """The settings a vendor's adapter cannot work without, even where the preset leaves them null (fal
    and Runway call base.required_key; Kling signs a JWT with the access key and the secret key)."""
    from .video.vendors import VENDORS, adapter  # only when a hosted video model is configured

    return adapter(provider).required_settings if provider in VENDORS else ()


@dataclass(frozen=True)
class KeyNeed:
    """What one model of a chain needs: the variables it reads, and the settings its preset lacks."""

    group: str  # "llm" or "video"
    preset: str | None  # "conf/video/kling.yaml", as the composer recorded it
    provider: str  # "kling"
    model: str
    variables: tuple[str, ...]  # environment variables the provider reads its keys from
    unset_settings: tuple[str, ...] = ()  # "api_key_env" where the vendor needs a key but none is named

    @property
    def option(self) -> str:
        """How the user chose it: `video=kling` (the preset's name), else the group alone."""
        if self.preset and self.preset.endswith(".yaml"):
            return f"{self.group}={self.preset.rsplit('/', 1)[-1].removesuffix('.yaml')}"
        return self.group


def needed_keys(cfg: AppConfig) -> list[KeyNeed]:
    """Every model of the llm and video chains that reads a key, in chain order, then the voice's and the
    lip-sync model's."""
    needs: list[KeyNeed] = []
    for group, first in (("llm", cfg.llm), ("video", cfg.video)):
        for model in _chain(first):
            need = _need(group, model)
            if need is not None:
                needs.append(need)
    for group in ("voice", "lipsync"):
        need = _need(group, getattr(cfg, group))
        if need is not None:
            needs.append(need)
    return needs


def missing_keys(cfg: AppConfig, environ: Mapping[str, str] | None = None) -> list[KeyNeed]:
    """The needs whose variables are unset or blank (a key of spaces is no key), or whose preset names none."""
    env = os.environ if environ is None else environ
    missing = []
    for need in needed_keys(cfg):
        unset = tuple(name for name in need.variables if not env.get(name, "").strip())
        if unset or need.unset_settings:
            missing.append(KeyNeed(need.group, need.preset, need.provider, need.model, unset, need.unset_settings))
    return missing


def check_credentials(cfg: AppConfig, environ: Mapping[str, str] | None = None) -> None:
    """Raise one ConfigError naming every missing variable and the preset that asks for it."""
    missing = missing_keys(cfg, environ)
    if missing:
        raise ConfigError(describe_missing(missing))


def describe_missing(missing: list[KeyNeed]) -> str:
    """`llm=deepseek (conf/llm/deepseek.yaml) needs the environment variable DEEPSEEK_API_KEY; ...: set it ...`."""
    by_preset: dict[tuple[str, str | None], list[KeyNeed]] = {}
    for need in missing:
        by_preset.setdefault((need.option, need.preset), []).append(need)
    clauses, variables = [], []
    for (option, preset), needs in by_preset.items():
        names = _unique(name for need in needs for name in need.variables)
        settings = _unique(setting for need in needs for setting in need.unset_settings)
        variables += [name for name in names if name not in variables]
        where = f"{option} ({preset})" if preset else option
        parts = []
        if names:
            noun = "the environment variable" if len(names) == 1 else "the environment variables"
            parts.append(f"needs {noun} {_and(names)}")
        if settings:
            vendors = _unique(need.provider for need in needs if need.unset_settings)
            parts.append(f"names no {_and(settings)}, which {_and(vendors)} cannot work without "
                         f"(name the variable that holds the key there)")
        clauses.append(f"{where} {' and '.join(parts)}")
    tail = ""
    if variables:
        tail = f": set {'it' if len(variables) == 1 else 'them'} in the environment (the values never go into any file)"
    return "; ".join(clauses) + tail


def _need(group: str, model: HostedConfig) -> KeyNeed | None:
    if model.provider not in type(model).HOSTED_PROVIDERS:  # offline, fake_paid, animatic, diffusers...
        return None
    # Kling's second secret; Volcengine's app id (not a secret, but the voice sends nothing without it).
    settings = ("api_key_env", "secret_key_env") if isinstance(model, VideoConfig) else ("api_key_env", "app_id_env")
    settings = tuple(s for s in settings if s in type(model).model_fields)
    variables = tuple(getattr(model, s) for s in settings if getattr(model, s))
    # fal's queue takes no request without a key (lip-sync goes through it too).
    required = (vendor_requires(model.provider) if isinstance(model, VideoConfig)
                else ("api_key_env",) if isinstance(model, LipsyncConfig) else ())
    unset = tuple(s for s in required if not getattr(model, s))
    if not variables and not unset:
        return None  # e.g. a local Ollama or vLLM server, or the gateway without a key
    return KeyNeed(group, model.preset, model.provider, model.model, variables, unset)


def _chain(model: LLMConfig | VideoConfig) -> list[HostedConfig]:
    chain: list[HostedConfig] = []
    current: HostedConfig | None = model
    while current is not None and len(chain) < 32:
        chain.append(current)
        current = current.fallback  # type: ignore[attr-defined]
    return chain


def _unique(items) -> list[str]:  # noqa: ANN001
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
