"""A producer's decisions for a series, kept outside results/ (meant for version control beside the
user's config): `review/<series>.yaml` in the checkout unless `review.decisions` names another file.

    # review/demo.yaml
    ep01:
      script: approved     # review.gate=script: build past the script for this episode
      sc02:
        take: 2            # pick (and so approve) take 2 of episode 1, scene 2
        retake: "slower push-in, she looks up at the end"   # or a list: each note buys one more take
        keyframe: approved # review.gate=keyframes: buy this scene's clips
        by: lin            # optional: who decided, and when
        at: 2026-12-06T09:30:00Z

The graph reads a decision through the scene's specs: a pick reruns that scene's choice and its
episode's render and check, and buys nothing; a retake note is one more take whose request carries
the note. `rm -rf results/` loses no decision. A file that is not this shape, or a decision naming an
episode, scene or take that does not exist, is one error line naming the file and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ShortDramaError

_EPISODE = re.compile(r"ep(\d{2,3})")
_SCENE = re.compile(r"sc(\d{2})")
FIELDS = {"take", "retake", "keyframe", "by", "at"}
APPROVED = "approved"


class ReviewError(ShortDramaError):
    """A decisions file that cannot be read, or a decision that names nothing that exists."""


@dataclass(frozen=True)
class Decision:
    take: int | None = None  # the picked (and so approved) take
    retakes: tuple[str, ...] = ()  # one more take per note, the note added to its prompt
    keyframe_approved: bool = False
    by: str | None = None  # who and when are recorded, never tracked: re-signing reruns nothing
    at: str | None = None
    line: int = 0  # where it is written (1-based), for error messages

    @property
    def approves_keyframe(self) -> bool:
        """Picking a take or asking for a retake is approving the keyframe the takes start from."""
        return self.keyframe_approved or self.take is not None or bool(self.retakes)


@dataclass(frozen=True)
class Decisions:
    path: str  # as the user names it (relative to the checkout)
    by_shot: Mapping[tuple[int, int], Decision]
    approved_scripts: Mapping[int, int] = field(default_factory=dict)  # episode -> line

    def of(self, episode: int, scene: int) -> Decision | None:
        return self.by_shot.get((episode, scene))

    def script_approved(self, episode: int) -> bool:
        return episode in self.approved_scripts

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
    scripts: dict[int, int] = {}
    for ep_key, ep_node in _mapping(root, shown_as, "the file"):
        episode = _number(_EPISODE, ep_key, shown_as, "an episode (ep01, ep02, ...)")
        for sc_key, sc_node in _mapping(ep_node, shown_as, ep_key.value):
            if sc_key.value == "script":
                if _approval(sc_node, shown_as, f"{ep_key.value} script"):
                    scripts[episode] = sc_key.start_mark.line + 1
                continue
            scene = _number(_SCENE, sc_key, shown_as, "a scene (sc01, sc02, ...) or script")
            found[(episode, scene)] = _decision(sc_node, shown_as, f"{ep_key.value} {sc_key.value}")
    return Decisions(shown_as, found, scripts)


def _approval(node: Any, path: str, what: str) -> bool:
    import yaml

    value = node.value if isinstance(node, yaml.ScalarNode) else None
    if value not in (APPROVED, "", "null", "~"):
        raise ReviewError(f"{path}: line {node.start_mark.line + 1}: {what}: write `{APPROVED}` "
                          f"(or remove the line), not {value!r}")
    return value == APPROVED


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
        raise ReviewError(f"{path}: line {line}: {shot}: a decision is a mapping (take:, retake:, keyframe:, "
                          "by:, at:)")
    values: dict[str, str] = {}
    notes: list[str] = []
    keyframe = False
    for key, value in node.value:
        where = f"{path}: line {value.start_mark.line + 1}: {shot}"
        if key.value not in FIELDS:
            raise ReviewError(f"{path}: line {key.start_mark.line + 1}: {shot}: unknown key {key.value!r} "
                              f"(known: {', '.join(sorted(FIELDS))})")
        if key.value == "retake":
            notes = _notes(value, where)
        elif key.value == "keyframe":
            keyframe = _approval(value, path, f"{shot} keyframe")
        elif not isinstance(value, yaml.ScalarNode):
            raise ReviewError(f"{where}: {key.value} must be one value")
        else:
            values[key.value] = value.value
    take = values.get("take")
    if take is not None and (not take.isdigit() or int(take) < 1):
        raise ReviewError(f"{path}: line {line}: {shot}: take must be a take number (1, 2, ...), not {take!r}")
    return Decision(int(take) if take is not None else None, tuple(notes), keyframe, values.get("by"),
                    values.get("at"), line)


def _notes(node: Any, where: str) -> list[str]:
    """A retake's note, or a list of them: each one more take (the same note twice would ask the same
    clip twice)."""
    import yaml

    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    notes = []
    for item in items:
        text = item.value.strip() if isinstance(item, yaml.ScalarNode) else None
        if not text:
            raise ReviewError(f"{where}: a retake is a note for the next take (text), or a list of notes")
        if text in notes:
            raise ReviewError(f"{where}: the retake note {text!r} is given twice (it would ask the same clip)")
        notes.append(text)
    return notes


def check_decisions(decisions: Decisions, scenes_of: Mapping[int, int], takes: int, episodes: int) -> None:
    """Every decision names an episode of the series, a scene its script has (when the script is
    written: `scenes_of` maps episode -> scene count) and a take the scene has (its `takes`, then one
    per retake note)."""
    for episode, line in sorted(decisions.approved_scripts.items()):
        if episode > episodes:
            raise ReviewError(f"{decisions.path}: line {line}: ep{episode:02d}: the series has {episodes} episode(s)")
    for (episode, scene), decision in sorted(decisions.by_shot.items()):
        shot = f"ep{episode:02d} sc{scene:02d}"
        if episode > episodes:
            raise ReviewError(f"{decisions.where(decision)}: {shot}: the series has {episodes} episode(s)")
        if episode in scenes_of and scene > scenes_of[episode]:
            raise ReviewError(f"{decisions.where(decision)}: {shot}: episode {episode} has "
                              f"{scenes_of[episode]} scene(s)")
        available = takes + len(decision.retakes)
        if decision.take is not None and decision.take > available:
            raise ReviewError(f"{decisions.where(decision)}: {shot}: take {decision.take} does not exist "
                              f"(the scene has takes 1-{available}; raise `takes` or ask for a retake)")
