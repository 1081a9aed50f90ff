"""Compose the Hydra configuration and validate it once: the edge every user input passes.

Everything that comes from a user (YAML files, command-line overrides, Snakemake --config) passes
through `load_config`, which raises ConfigError with one line naming the key, the value and the
allowed choices.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import ValidationError

from ..errors import ConfigError
from .app import CONF_DIR, PROVIDER_GROUPS, AppConfig
from .composed_cache import cached_compose
from .explain import explain_hydra_error, explain_validation_error
from .explain import group_options as _options_in
from .overrides import declared_fields, holds, is_declared, widen_overrides

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


def load_config(overrides: Sequence[str] = (), conf_dir: Path | None = None) -> AppConfig:
    raw = compose_raw(overrides, conf_dir)
    return validate_config(raw)


def compose_raw(overrides: Sequence[str] = (), conf_dir: Path | None = None) -> dict[str, Any]:
    conf = Path(conf_dir or CONF_DIR).resolve()
    overrides = list(overrides)
    # A plain `group.key=value` of a field the models declare goes to Hydra as `++group.key=value` (add or
    # override: the same as a plain override where the preset spells the key out), so a field a preset
    # leaves at its default takes a plain override too. A key no model declares (a typo) stays plain and
    # is refused, with the keys that do exist there.
    widened, in_maps = widen_overrides(overrides)
    try:
        return cached_compose(conf, widened, lambda: _compose(widened, conf))  # Hydra is imported on a miss only
    except Exception as exc:  # noqa: BLE001 - Hydra's and OmegaConf's errors are explained below, the rest re-raised
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        if not isinstance(exc, (HydraException, OmegaConfBaseException)):
            raise
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
    for group in PROVIDER_GROUPS:
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
