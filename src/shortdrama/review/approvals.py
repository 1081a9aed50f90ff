"""What an approved take was made from, so a later config change keeps it (`review.respect_approvals`).

A pick in the decisions file approves a take. When the build honours a pick (the scene's
`choose_take`), it writes down the take's clip spec and the digest of the keyframe it started from in
`review/<series>.approved.json`, beside the decisions file (outside results/, committed with it). From
then on, while the pick stands and `review.respect_approvals` is true, that take's job keeps the
recorded spec whatever the config says (a new video model, seed or prompt template: Snakemake sees no
change and reruns nothing), its keyframe is read as `ancient` (a new image model redraws the keyframe
but not the approved clip), and a take remade after `rm -rf results/` is asked with the recorded
keyframe digest: the cache answers it at $0, and if the cache no longer holds it the build stops with
one line instead of paying for a different clip.

What is not a config change: editing the scene itself (its action, camera or length changes the
recorded prompt, camera or duration) is saying the shot must change; the approval then no longer
applies and the take is made anew. A new episode encoding (size, frame rate) cannot reuse an approved
clip at all: the build stops with one line saying how to proceed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .decisions import ReviewError

# What the shot is (the script's): a change here is an edit of the shot, not of the config.
SHOT_FIELDS = ("prompt", "camera", "duration")


@dataclass(frozen=True)
class Approval:
    take: int
    clip: Mapping[str, Any]  # the take's ClipSpec as it was made
    keyframe: str  # digest of the keyframe the take started from

    def same_shot(self, live: Mapping[str, Any]) -> bool:
        return all(self.clip.get(name) == live.get(name) for name in SHOT_FIELDS)


def approvals_path(decisions: Path) -> Path:
    return decisions.with_name(decisions.name.rsplit(".", 1)[0] + ".approved.json")


def shot_key(episode: int, scene: int) -> str:
    return f"ep{episode:02d} sc{scene:02d}"


def load_approvals(path: Path) -> dict[str, Approval]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {shot: Approval(int(entry["take"]), dict(entry["clip"]), str(entry["keyframe"]))
                for shot, entry in data.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ReviewError(f"{path.name}: cannot read the approved takes ({error}); it is written by the build: "
                          "delete it to record the picks again") from None


def record_approval(path: Path, episode: int, scene: int, approval: Approval) -> None:
    """Write one approval, under a lock: parallel jobs recording different scenes lose nothing."""
    from ..cost.locking import exclusive_lock
    from ..media import write_text_atomic

    entry = {"take": approval.take, "clip": dict(approval.clip), "keyframe": approval.keyframe}
    with exclusive_lock(path.with_name(path.name + ".lock")):
        current = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        if current.get(shot_key(episode, scene)) == entry:
            return
        current[shot_key(episode, scene)] = entry
        write_text_atomic(path, json.dumps(current, ensure_ascii=False, indent=1, sort_keys=True) + "\n")


def encoding_change(approval: Approval, live: Mapping[str, Any]) -> str | None:
    """How the episode encoding moved away from the approved take's, if it did (it cannot be reused)."""
    def shown(enc: Mapping[str, Any]) -> str:
        return f"{enc.get('width')}x{enc.get('height')}, {enc.get('fps')} fps"

    before, now = approval.clip.get("encoding", {}), live.get("encoding", {})
    return None if before == now else f"it was made at {shown(before)} and the episodes are now {shown(now)}"
