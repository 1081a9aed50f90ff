"""The choice of a scene's take: measure and judge every take, buy retakes one at a time while every
take fails (each through provider_call: cached, priced, held under the budget), copy the best take to
the scene's clip and write down which one and why (`clips/scNN.selection.json`).

Retakes are the takes numbered after the scene's last: the same request a build with more takes
would make, so raising `takes` later finds them in the cache. They are kept beside the takes as
`retakeNN.mp4` (with their QC JSON) for the review page. Each take's QC JSON (`takeNN.qc.json`) is
written beside it.

A take asked in review with a note is chosen when it passes its checks (the person asked for it);
a picked take is chosen whatever QC says. A scene whose keyframe awaits approval
(`review.gate=keyframes`) buys no take: its keyframe is held as a still.
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
    notes: tuple[str, ...]  # retakes asked in review, numbered after `takes`

    @property
    def limits(self) -> QCConfig: ...

    @property
    def take_numbers(self) -> tuple[int, ...]: ...


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


def report_path(take: Path) -> Path:
    return take.with_suffix(".qc.json")


def choose(spec: TakeSpec, takes: Sequence[Path], keyframe: Path, out: Path, selection: Path,
           episode: int, scene: int, cache_dir: Path | None, buy: BuyTake) -> dict[str, Any]:
    limits = spec.limits
    checked: list[CheckedTake] = []
    notes: list[str] = []
    numbers = spec.take_numbers
    if not limits.enabled:
        unchecked = [CheckedTake(number, path, TakeVerdict((), (Skipped("all", "qc is off (qc=off)"),), 0.0))
                     for number, path in zip(numbers, takes)]
        for take in unchecked:
            write_text_atomic(report_path(take.path), _report(spec, take, None))
        return _write(spec, unchecked, _preferred(spec, unchecked) or unchecked[0], [], out, selection)
    for number, path in zip(numbers, takes):
        take, measured = check_take(spec, number, path, keyframe, cache_dir)
        write_text_atomic(report_path(path), _report(spec, take, measured))
        checked.append(take)
    preferred = _preferred(spec, checked)
    if preferred is not None:
        return _write(spec, checked, preferred, [], out, selection, episode=episode, scene=scene)
    retakes = 0
    while not any(c.verdict.passed for c in checked) and retakes < limits.retakes:
        number = max(numbers) + retakes + 1
        retakes += 1
        bought = _buy_retake(buy, number, takes[0].parent, notes)
        if bought is None:
            break
        take, measured = check_take(spec, number, bought, keyframe, cache_dir, retake=True)
        write_text_atomic(bought.with_suffix(".qc.json"), _report(spec, take, measured))
        checked.append(take)
    best = rank(checked)[0]
    return _write(spec, checked, best, notes, out, selection, episode=episode, scene=scene)


def _preferred(spec: TakeSpec, checked: Sequence[CheckedTake]) -> CheckedTake | None:
    """The take a person chose: their pick; else the latest take they asked for with a note, if it
    passes its checks (else QC chooses among all, retakes included)."""
    if spec.pick is not None:
        return next(c for c in checked if c.take == spec.pick)
    if spec.notes:
        asked = next((c for c in checked if c.take == spec.takes + len(spec.notes)), None)
        if asked is not None and asked.verdict.passed:
            return asked
    return None


def hold_keyframe(spec: TakeSpec, keyframe: Path, out: Path, selection: Path) -> dict[str, Any]:
    """A scene whose keyframe awaits approval: the keyframe held as a still for the scene's length
    (rendered locally, nothing bought), and a record saying so."""
    from ..video.animatic import AnimaticVideo
    from ..video.base import ClipRequest, Encoding

    AnimaticVideo(motion="none").generate(ClipRequest(keyframe=keyframe, camera="static", duration=spec.clip["duration"],
                                                      encoding=Encoding.from_spec(spec.clip["encoding"])), out)
    record = {"chosen": None, "file": None, "retake": False, "flagged": False, "by": "gate", "awaiting": "keyframe",
              "reason": "awaiting approval of its keyframe (review.gate=keyframes): the keyframe held as a still",
              "retakes_bought": 0, "notes": [], "takes": [], "flags": []}
    write_text_atomic(selection, json.dumps(record, ensure_ascii=False, indent=1) + "\n")
    log.info("scene takes: %s", record["reason"])
    return record


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
    elif spec.notes and best.take == spec.takes + len(spec.notes):
        reason = f"take {best.take}: asked in review ({spec.notes[-1]!r}) and passes every check"
    record = {"chosen": best.take, "file": best.path.name, "retake": best.retake, "flagged": flagged,
              "reason": reason,
              "by": "review" if picked or (spec.notes and best.take == spec.takes + len(spec.notes)) else "qc", "retakes_bought": sum(1 for c in checked if c.retake),
              "notes": list(notes), "takes": _listed(spec, checked, best.path.parent),
              # The scene's open flags: none once a person picked the take (they are in its take entry).
              "flags": [f.placed(episode=episode, scene=scene, take=best.take).to_dict() for f in best.verdict.flags
                        if flagged]}
    write_text_atomic(selection, json.dumps(record, ensure_ascii=False, indent=1) + "\n")
    log.info("scene takes: %s", reason)
    if flagged and spec.limits.on_fail == "stop":
        raise QCError(f"every take of ep{episode:02d} sc{scene:02d} fails its checks ({reason}); "
                      f"qc.on_fail=stop: fix the scene or allow more retakes")
    return record


def _listed(spec: TakeSpec, checked: Sequence[CheckedTake], folder: Path) -> list[dict[str, Any]]:
    """The takes judged, and for a picked scene (whose other takes are no longer bought or judged) the
    ones earlier builds made and measured, as alternates: the review page keeps showing them."""
    listed = [_with_note(spec, c.to_dict()) for c in checked]
    if spec.pick is not None:
        judged = {(c.take, c.retake) for c in checked}
        for report in sorted(folder.glob("*take[0-9][0-9].qc.json")):
            entry = json.loads(report.read_text(encoding="utf-8"))
            if (entry.get("take"), entry.get("retake", False)) not in judged and (folder / entry.get("file", "")).is_file():
                listed.append({k: v for k, v in entry.items() if k not in ("measurements", "limits")} | {"alternate": True})
    return sorted(listed, key=lambda t: t["take"])


def _with_note(spec: TakeSpec, take: dict[str, Any]) -> dict[str, Any]:
    """A take asked in review carries its note (takes after `takes`, one per note)."""
    index = take["take"] - spec.takes - 1
    return {**take, "note": spec.notes[index]} if 0 <= index < len(spec.notes) and not take["retake"] else take


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
