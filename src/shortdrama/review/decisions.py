"""A producer's decisions for a series, kept outside results/ (meant for version control beside the
user's config): `review/<series>.yaml` in the checkout unless `review.decisions` names another file.

    # review/demo.yaml
    ep01:
      sc02:
        take: 2            # pick (and so approve) take 2 of episode 1, scene 2
        by: lin            # optional: who decided, and when
        at: 2026-12-06T09:30:00Z

The graph reads a decision through the scene's `choose_take` spec: a pick reruns that scene's choice
and its episode's render and check, and buys nothing. `rm -rf results/` loses no decision. A file that
is not this shape, or a decision naming an episode, scene or take that does not exist, is one error
line naming the file and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..errors import ShortDramaError

_EPISODE = re.compile(r"ep(\d{2,3})")
_SCENE = re.compile(r"sc(\d{2})")
FIELDS = {"take", "by", "at"}


class ReviewError(ShortDramaError):
    """A decisions file that cannot be read, or a decision that names nothing that exists."""


@dataclass(frozen=True)
class Decision:
    take: int
    by: str | None = None
    at: str | None = None
    line: int = 0  # where it is written (1-based), for error messages

    def to_spec(self) -> dict[str, Any]:
        """What the choice of take depends on: the take; who and when are recorded, not tracked
        (re-signing a pick must not rerun anything)."""
        return {"take": self.take}


@dataclass(frozen=True)
class Decisions:
    path: str  # as the user names it (relative to the checkout)
    by_shot: Mapping[tuple[int, int], Decision]

    def of(self, episode: int, scene: int) -> Decision | None:
        return self.by_shot.get((episode, scene))

    def where(self, decision: Decision) -> str:
        return f"{self.path}: line {decision.line}"


def decisions_path(checkout: Path, configured: str | None, series_slug: str) -> Path:
    return checkout / (configured or f"review/{series_slug}.yaml")


def load_decisions(path: Path, shown_as: str) -> Decisions:
    """The decisions in `path` (none when there is no file)."""
    import yaml

    if not path.is_file():
        return Decisions(shown_as, {})
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ReviewError(f"{shown_as}: cannot read it ({error})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "?"
        raise ReviewError(f"{shown_as}: {where}: not YAML ({getattr(error, 'problem', None) or error})") from None
    if root is None:
        return Decisions(shown_as, {})
    found: dict[tuple[int, int], Decision] = {}
    for ep_key, ep_node in _mapping(root, shown_as, "the file"):
        episode = _number(_EPISODE, ep_key, shown_as, "an episode (ep01, ep02, ...)")
        for sc_key, sc_node in _mapping(ep_node, shown_as, ep_key.value):
            scene = _number(_SCENE, sc_key, shown_as, "a scene (sc01, sc02, ...)")
            found[(episode, scene)] = _decision(sc_node, shown_as, f"{ep_key.value} {sc_key.value}")
    return Decisions(shown_as, found)


def _mapping(node: Any, path: str, what: str) -> list[tuple[Any, Any]]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise ReviewError(f"{path}: line {node.start_mark.line + 1}: {what} must be a mapping of names to entries")
    return node.value


def _number(pattern: re.Pattern, key: Any, path: str, what: str) -> int:
    match = pattern.fullmatch(str(key.value))
    if not match or int(match[1]) < 1:
        raise ReviewError(f"{path}: line {key.start_mark.line + 1}: {key.value!r} is not {what}")
    return int(match[1])


def _decision(node: Any, path: str, shot: str) -> Decision:
    import yaml

    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise ReviewError(f"{path}: line {line}: {shot}: a decision is a mapping (take: N, by:, at:)")
    values: dict[str, str] = {}
    for key, value in node.value:
        if key.value not in FIELDS:
            raise ReviewError(f"{path}: line {key.start_mark.line + 1}: {shot}: unknown key {key.value!r} "
                              f"(known: {', '.join(sorted(FIELDS))})")
        if not isinstance(value, yaml.ScalarNode):
            raise ReviewError(f"{path}: line {value.start_mark.line + 1}: {shot}: {key.value} must be one value")
        values[key.value] = value.value
    take = values.get("take")
    if take is None or not take.isdigit() or int(take) < 1:
        raise ReviewError(f"{path}: line {line}: {shot}: take must be a take number (1, 2, ...), not {take!r}")
    return Decision(int(take), values.get("by"), values.get("at"), line)


def check_decisions(decisions: Decisions, scenes_of: Mapping[int, int], takes: int, episodes: int) -> None:
    """Every decision names an episode of the series, a scene its script has (when the script is
    written: `scenes_of` maps episode -> scene count) and a take the scene has."""
    for (episode, scene), decision in sorted(decisions.by_shot.items()):
        shot = f"ep{episode:02d} sc{scene:02d}"
        if episode > episodes:
            raise ReviewError(f"{decisions.where(decision)}: {shot}: the series has {episodes} episode(s)")
        if episode in scenes_of and scene > scenes_of[episode]:
            raise ReviewError(f"{decisions.where(decision)}: {shot}: episode {episode} has "
                              f"{scenes_of[episode]} scene(s)")
        if decision.take > takes:
            raise ReviewError(f"{decisions.where(decision)}: {shot}: take {decision.take} does not exist "
                              f"(the scene has takes 1-{takes}; raise `takes` to buy more)")
