"""One clear line for every configuration mistake: which key, which value, what is allowed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from pydantic import ValidationError

from ..errors import ConfigError
from .app import GROUPS

Compose = Callable[[Sequence[str], Path], dict[str, Any]]
# The field names the pydantic models declare at a dotted path ("" for the top; a map key on the way
# must be in the composed config), or None: a plain override may set any of them, whether or not the
# group's YAML spells it out.
Fields = Callable[[str, Mapping[str, Any]], "Iterable[str] | None"]


def group_options(group: str, conf_dir: Path) -> list[str]:
    return sorted(p.stem for p in (Path(conf_dir) / group).glob("*.yaml"))


def explain_hydra_error(exc: Exception, overrides: list[str], conf: Path, compose: Compose,
                        fields: Fields | None = None) -> str:
    text = str(exc)
    missing = re.search(r"Could not find '([^/']+)/([^']+)'", text)
    if missing:
        group, option = missing.groups()
        choices = ", ".join(group_options(group, conf))
        return f"{group}={option}: unknown {group} option; choose one of: {choices}"
    not_in_struct = re.search(r"Could not override '([^']+)'", text) or re.search(r"Key '([^']+)' is not in struct", text)
    if not_in_struct:
        key = not_in_struct.group(1)
        given = next((o for o in overrides if o.lstrip("+~").split("=", 1)[0] == key), key)
        return f"{given}: unknown key {key!r}; known keys there: {_known_keys(key, conf, overrides, compose, fields)}"
    if type(exc).__name__ == "OverrideParseException" or "LexerNoViableAlt" in text:
        bad = text.split(":", 1)[-1].strip().splitlines()[0]
        return f"cannot parse the override {bad!r}: quote values with spaces or non-ASCII text, e.g. key='value'"
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"cannot compose the configuration: {first_line}"


def _known_keys(dotted: str, conf: Path, overrides: list[str], compose: Compose, fields: Fields | None = None) -> str:
    """The keys that do exist next to an unknown one (in the YAML, or declared by the model there),
    so the message shows what was meant."""
    parent = dotted.rsplit(".", 1)[0] if "." in dotted else ""
    try:
        raw = compose([o for o in overrides if o.lstrip("+~").split("=", 1)[0] != dotted], conf)
    except ConfigError:
        return "(see conf/)"
    node: Any = raw
    reached = True
    for part in parent.split(".") if parent else []:
        if not isinstance(node, dict) or part not in node:
            reached = False
            break  # list the keys of the deepest level that exists
        node = node[part]
    declared = set(fields(parent, raw) or ()) if fields is not None else set()
    if declared and not reached:
        return ", ".join(sorted(declared))  # a level the YAML leaves out entirely (render.subtitles)
    known = (set(node) if isinstance(node, dict) else set()) | declared
    return ", ".join(sorted(known)) if known else ", ".join(GROUPS)


def explain_validation_error(exc: ValidationError, raw: Mapping[str, Any]) -> str:
    error = exc.errors()[0]
    location = [str(part) for part in error["loc"]]
    key = ".".join(location)
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key; remove it or check its spelling"
    message = error["msg"].removeprefix("Value error, ")
    if not location:  # a check across groups: its message names the keys itself
        return message
    value = _lookup(raw, error["loc"])
    return f"{key}={_show(value)}: {message}"


def _lookup(raw: Any, loc: tuple[Any, ...]) -> Any:
    node = raw
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False) if len(json.dumps(value)) < 60 else type(value).__name__
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)
