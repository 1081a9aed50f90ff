"""An editor's cut, as edit decisions: per episode, the shots in their new order, each a scene of the
script trimmed to [in, out] seconds of its clip; a scene not listed was removed. They live beside the
review decisions (`review/<series>.edits.yaml`), outside results/: `shortdrama import-edit` writes them
from an edited timeline, a person may edit them, and the next build applies them (shortdrama.stages.cut).

    "01":
      from: edits/ep01_cut.otio     # where they came from and when: shown, never tracked
      at: "2026-12-06T12:00:00Z"
      shots:
        - {scene: 2, in: 0.5, out: 3.0}
        - {scene: 1, in: 0.0, out: 4.0}

Every mistake is one line naming the file and the episode: a scene the script does not have, a shot
longer than its take, an empty cut.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ShortDramaError


class EditError(ShortDramaError):
    """An edit decision that cannot be applied (or imported)."""


@dataclass(frozen=True)
class Shot:
    scene: int  # 1-based, in the script
    start: float  # seconds into the scene's clip
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {"scene": self.scene, "in": self.start, "out": self.end}


def edits_path(decisions_file: Path) -> Path:
    """review/<series>.edits.yaml beside review/<series>.yaml."""
    return decisions_file.with_name(f"{decisions_file.stem}.edits.yaml")


def load_edits(path: Path) -> dict[str, dict[str, Any]]:
    """The file's episodes as written ({} when there is none); the shapes are checked, not the script."""
    import yaml

    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise EditError(f"{path}: not readable edit decisions ({' '.join(str(error).split())[:160]})") from None
    if not isinstance(data, dict):
        raise EditError(f"{path}: edit decisions map an episode (\"01\") to its shots")
    episodes = {}
    for key, entry in data.items():
        ep = f"{int(key):02d}" if str(key).isdigit() else None
        if ep is None or not isinstance(entry, dict) or not isinstance(entry.get("shots"), list):
            raise EditError(f"{path}: episode {key!r}: expected an episode number with a list of `shots`")
        unknown = set(entry) - {"shots", "from", "at"}
        if unknown:
            raise EditError(f"{path}: episode {ep}: unknown key {sorted(unknown)[0]!r} (shots, from, at)")
        episodes[ep] = entry
    return episodes


def episode_shots(path: Path, ep: str, entry: Mapping[str, Any], scene_durations: Sequence[float],
                  fps: int) -> list[Shot]:
    """One episode's shots, checked against its script's scenes and snapped to whole frames."""
    where = f"{path}: episode {ep}"
    shots = []
    for index, raw in enumerate(entry["shots"], 1):
        if not isinstance(raw, dict) or set(raw) - {"scene", "in", "out"} or "scene" not in raw:
            raise EditError(f"{where}: shot {index}: expected {{scene, in, out}}")
        try:
            scene, start = int(raw["scene"]), float(raw.get("in", 0.0))
            end = float(raw["out"]) if raw.get("out") is not None else None
        except (TypeError, ValueError):
            raise EditError(f"{where}: shot {index}: scene, in and out must be numbers") from None
        if not 1 <= scene <= len(scene_durations):
            raise EditError(f"{where}: shot {index} refers to scene {scene}, which the script does not have "
                            f"(it has {len(scene_durations)})")
        length = scene_durations[scene - 1]
        end = length if end is None else end
        start, end = round(start * fps) / fps, round(end * fps) / fps
        if start < 0 or end <= start:
            raise EditError(f"{where}: shot {index} (scene {scene}): in {start:g} s and out {end:g} s make no shot")
        if end > length + 0.5 / fps:
            raise EditError(f"{where}: shot {index} (scene {scene}) ends at {end:g} s, beyond its take's "
                            f"{length:g} s: a shot can be trimmed, not lengthened")
        shots.append(Shot(scene, start, min(end, length)))
    if not shots:
        raise EditError(f"{where}: the cut has no shots (remove the episode from the file to use the full cut)")
    return shots


def write_edits(path: Path, episodes: Mapping[str, Mapping[str, Any]]) -> None:
    """Set these episodes' cuts (others kept), under the file's lock, atomically."""
    import yaml

    from ..cost.locking import exclusive_lock
    from ..review.edits import lock_path, write_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(lock_path(path)):
        current = load_edits(path)
        current.update({ep: dict(entry) for ep, entry in episodes.items()})
        header = ("# Editor's cuts, per episode: the shots in order, each a scene trimmed to [in, out] seconds of its\n"
                  "# clip (a scene not listed was removed). Written by `shortdrama import-edit`; the next build\n"
                  "# applies them (only the episodes' cut, subtitles, render and checks rerun). Delete an episode\n"
                  "# to go back to the full cut.\n")
        body = yaml.safe_dump({ep: current[ep] for ep in sorted(current)}, allow_unicode=True, sort_keys=False)
        write_atomically(path, header + body)


def shots_json(shots: Sequence[Shot]) -> str:
    return json.dumps([s.to_dict() for s in shots], separators=(",", ":"))
