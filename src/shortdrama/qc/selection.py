"""The choice of a scene's take: measure and judge every take, buy retakes one at a time while every
take fails (each through provider_call: cached, priced, held under the budget), copy the best take to
the scene's clip and write down which one and why (`clips/scNN.selection.json`).

Retakes are takes number `takes + 1`, `takes + 2`, ...: the same request a build with more takes
would make, so raising `takes` later finds them in the cache. They are kept beside the takes as
`retakeNN.mp4` (with their QC JSON) for the review page.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from ..config.qc import QCConfig
from ..errors import ProviderError, QCError
from ..media import atomic_output, write_text_atomic
from ..video.base import frame_count
from .flags import Skipped
from .take_checks import TakeExpectation, TakeVerdict, judge_take


class TakeSpec(Protocol):
    """What choosing a scene's take reads of its spec (stages.qc.ChooseTakeSpec)."""

    clip: dict
    takes: int
    qc: dict
    exemptions: dict
    characters: dict
    pick: int | None  # a person's pick (shortdrama.review): chosen whatever QC says, and no retake bought

    @property
    def limits(self) -> QCConfig: ...


# Buys take `number` of the scene into `path` (through provider_call: cached, priced, budgeted).
BuyTake = Callable[[int, Path], Any]

log = logging.getLogger(__name__)
PROGRESS = logging.getLogger("shortdrama.progress.qc")


@dataclass(frozen=True)
class CheckedTake:
    take: int
    path: Path
    verdict: TakeVerdict
    retake: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"take": self.take, "file": self.path.name, "retake": self.retake, **self.verdict.to_dict()}


def expectation(spec: TakeSpec) -> TakeExpectation:
    enc = spec.clip["encoding"]
    return TakeExpectation(duration=frame_count(spec.clip["duration"], enc["fps"]) / enc["fps"], width=enc["width"],
                           height=enc["height"], fps=enc["fps"], **spec.exemptions)


def check_take(spec: TakeSpec, take: int, path: Path, keyframe: Path, cache_dir: Path | None,
               retake: bool = False) -> tuple[CheckedTake, dict[str, Any]]:
    from .identity import identity_findings
    from .measurements import measure_take

    limits = spec.limits
    measured = measure_take(path, keyframe, cache_dir)
    identity = identity_findings(limits.identity, path, spec.characters)
    verdict = judge_take(measured, expectation(spec), limits.take, identity)
    return CheckedTake(take, path, verdict, retake), measured


def _report(spec: TakeSpec, checked: CheckedTake, measured: dict[str, Any] | None) -> str:
    return json.dumps({**checked.to_dict(), "measurements": measured, "limits": spec.qc["take"]},
                      ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def rank(checked: Sequence[CheckedTake]) -> list[CheckedTake]:
    """Best first: passing takes before failing ones, then by score, then the earlier take."""
    return sorted(checked, key=lambda c: (not c.verdict.passed, -c.verdict.score, c.take))


def choose(spec: TakeSpec, takes: Sequence[Path], keyframe: Path, out: Path, selection: Path,
           take_reports: Sequence[Path], episode: int, scene: int, cache_dir: Path | None,
           buy: BuyTake) -> dict[str, Any]:
    limits = spec.limits
    checked: list[CheckedTake] = []
    notes: list[str] = []
    if not limits.enabled:
        unchecked = [CheckedTake(number, path, TakeVerdict((), (Skipped("all", "qc is off (qc=off)"),), 0.0))
                     for number, path in enumerate(takes, 1)]
        for take, report in zip(unchecked, take_reports):
            write_text_atomic(report, _report(spec, take, None))
        return _write(spec, unchecked, unchecked[(spec.pick or 1) - 1], [], out, selection)
    for number, (path, report) in enumerate(zip(takes, take_reports), 1):
        take, measured = check_take(spec, number, path, keyframe, cache_dir)
        write_text_atomic(report, _report(spec, take, measured))
        checked.append(take)
    if spec.pick is not None:
        return _write(spec, checked, checked[spec.pick - 1], [], out, selection, episode=episode, scene=scene)
    retakes = 0
    while not any(c.verdict.passed for c in checked) and retakes < limits.retakes:
        number = spec.takes + retakes + 1
        retakes += 1
        bought = _buy_retake(buy, number, takes[0].parent, notes)
        if bought is None:
            break
        take, measured = check_take(spec, number, bought, keyframe, cache_dir, retake=True)
        write_text_atomic(bought.with_suffix(".qc.json"), _report(spec, take, measured))
        checked.append(take)
    best = rank(checked)[0]
    return _write(spec, checked, best, notes, out, selection, episode=episode, scene=scene)


def _buy_retake(buy: BuyTake, number: int, folder: Path, notes: list[str]) -> Path | None:
    """Take `number`, bought like any take; None (and a note why) when the budget or the vendor says no."""
    from ..cost.budget import BudgetError

    path = folder / f"retake{number:02d}.mp4"
    PROGRESS.info("every take failed its checks: buying retake %d", number)
    try:
        buy(number, path)
    except BudgetError as refusal:
        notes.append(f"retake {number} not bought: {refusal}")
        return None
    except ProviderError as failure:
        notes.append(f"retake {number} failed: {failure}")
        return None
    return path


def _write(spec: TakeSpec, checked: Sequence[CheckedTake], best: CheckedTake, notes: Sequence[str],
           out: Path, selection: Path, episode: int | None = None, scene: int | None = None) -> dict[str, Any]:
    with atomic_output(out) as tmp:
        shutil.copyfile(best.path, tmp)
    picked = spec.pick is not None
    flagged = not best.verdict.passed and not picked  # a person who picked a flagged take has seen it
    reason = _reason(checked, best)
    if picked:
        flags = f" over its {len(best.verdict.flags)} QC flag(s)" if best.verdict.flags else ""
        reason = f"take {best.take}: picked in review{flags} (QC: {reason})"
    record = {"chosen": best.take, "file": best.path.name, "retake": best.retake, "flagged": flagged,
              "reason": reason, "by": "review" if picked else "qc", "retakes_bought": sum(1 for c in checked if c.retake),
              "notes": list(notes), "takes": [c.to_dict() for c in checked],
              # The scene's open flags: none once a person picked the take (they are in its take entry).
              "flags": [f.placed(episode=episode, scene=scene, take=best.take).to_dict() for f in best.verdict.flags
                        if flagged]}
    write_text_atomic(selection, json.dumps(record, ensure_ascii=False, indent=1) + "\n")
    log.info("scene takes: %s", reason)
    if flagged and spec.limits.on_fail == "stop":
        raise QCError(f"every take of ep{episode:02d} sc{scene:02d} fails its checks ({reason}); "
                      f"qc.on_fail=stop: fix the scene or allow more retakes")
    return record


def _reason(checked: Sequence[CheckedTake], best: CheckedTake) -> str:
    def first_flag(c: CheckedTake) -> str:
        return c.verdict.flags[0].message if c.verdict.flags else "passes"

    if best.verdict.passed and len(checked) == 1:
        return f"take {best.take}: passes every check"
    if best.verdict.passed:
        others = "; ".join(f"take {c.take}: {first_flag(c)}" + ("" if not c.verdict.passed else
                           f" (score {c.verdict.score:.1f})") for c in checked if c is not best)
        return f"take {best.take}: passes every check, best score {best.verdict.score:.1f} ({others})"
    return (f"no take passes; take {best.take} is the least bad ({len(best.verdict.flags)} flag(s): "
            f"{first_flag(best)})")
