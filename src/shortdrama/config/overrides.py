"""Plain `group.key=value` overrides for every field the configuration models declare.

Hydra refuses an override of a key the composed YAML does not hold unless it is written `+key` or
`++key`. A preset spells out only what it changes, so `llm.scene_batch_size=4` would be refused
although LLMConfig knows the field. `compose.compose_raw` sends such an override as `++key=value`
(add or override: the same as a plain override where the preset has the key); a key no model
declares (a typo) stays plain and is refused, with the keys that do exist there.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from pydantic import BaseModel

from ..errors import ConfigError
from .app import CONF_DIR, AppConfig

# `group.key=value` with no +, ++ or ~ in front and at least one dot (not a group choice like video=still).
_PLAIN_OVERRIDE = re.compile(r"(?P<key>[A-Za-z_]\w*(?:\.\w+)+)=.*", re.DOTALL)


def widen_overrides(overrides: list[str]) -> tuple[list[str], dict[int, str]]:
    """`overrides` with each plain override of a declared field as `++`, and the plain overrides of
    fields below a map key (index -> key), which are widened only where the key exists."""
    widened, in_maps = list(overrides), {}
    for i, override in enumerate(overrides):
        group, _, value = override.partition("=")
        if value in ("null", "~") and _is_group(group):
            # Hydra refuses a group chosen as null (a ValueError, not a message): `experiment=null`
            # means no preset, which is deleting the choice from the defaults list. A group the
            # configuration cannot do without (video) is refused here, with its options.
            if group in AppConfig.model_fields:
                options = sorted(f.stem for f in (CONF_DIR / group).glob("*.yaml"))
                raise ConfigError(f"{override}: {group} needs one of its options; choose one of: {', '.join(options)}")
            widened[i] = "~" + group
            continue
        match = _PLAIN_OVERRIDE.fullmatch(override)
        if match and is_declared(match["key"]):
            if _crosses_a_map(match["key"]):
                in_maps[i] = match["key"]
            else:
                widened[i] = "++" + override
    return widened, in_maps


def is_declared(dotted: str, raw: Mapping[str, Any] | None = None) -> bool:
    """Whether a pydantic model of AppConfig declares the field `dotted` (`llm.scene_batch_size`,
    `video.fallback.pricing.per_second`, `series.cast.xiaoyu.gender`). A key of a free-form map (a cast
    id, a vendor option) is no field: with `raw`, it must already be there; without, any key passes."""
    annotation: Any = AppConfig
    node: Any = raw
    for part in dotted.split("."):
        model, values = _field_types(annotation)
        if model is not None:
            field = model.model_fields.get(part)
            if field is None:
                return False
            annotation = field.annotation
        elif values is not None and (raw is None or (isinstance(node, Mapping) and part in node)):
            annotation = values
        else:
            return False
        node = node.get(part) if isinstance(node, Mapping) else None
    return True


def _crosses_a_map(dotted: str) -> bool:
    """Whether a declared `dotted` names a key of a free-form map on its way (a cast id, a vendor option)."""
    annotation: Any = AppConfig
    for part in dotted.split("."):
        model, values = _field_types(annotation)
        if model is None:
            return True
        annotation = model.model_fields[part].annotation
    return False


def declared_fields(dotted: str, raw: Mapping[str, Any] | None = None) -> list[str] | None:
    """The field names of the model at `dotted` ("" for the top level), or None where no model is (or,
    with `raw`, where a map key on the way, such as a cast id, is not there)."""
    annotation: Any = AppConfig
    node: Any = raw
    for part in dotted.split(".") if dotted else []:
        model, values = _field_types(annotation)
        if model is not None and part in model.model_fields:
            annotation = model.model_fields[part].annotation
        elif values is not None and (raw is None or (isinstance(node, Mapping) and part in node)):
            annotation = values
        else:
            return None
        node = node.get(part) if isinstance(node, Mapping) else None
    model, _ = _field_types(annotation)
    return sorted(model.model_fields) if model is not None else None


def _field_types(annotation: Any) -> tuple[type[BaseModel] | None, Any]:
    """(the model class, None) for `Model` or `Model | None`; (None, value type) for `dict[str, V]`."""
    import types
    import typing

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = options[0] if len(options) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, None
    if typing.get_origin(annotation) is dict:
        return None, typing.get_args(annotation)[1]
    return None, None


def holds(raw: Mapping[str, Any], dotted: str) -> bool:
    node: Any = raw
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _is_group(name: str) -> bool:
    return bool(re.fullmatch(r"[a-z_]+", name)) and (CONF_DIR / name).is_dir()
