"""`shortdrama qc`: what the machine flagged across a built series, worst first, read from the
episodes' QC reports (`episode_NN.qc.json`, which carry the flags of scenes none of whose takes
passed). Exit 0 when nothing is flagged, 1 otherwise, so a series' CI can gate on it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .flags import Flag, timecode

if TYPE_CHECKING:
    from ..workflow import Workflow


@dataclass(frozen=True)
class SeriesQC:
    flags: list[Flag]
    episodes: int
    scenes: int
    retakes: int
    replaced: int  # scenes whose first take failed and another was used

    @property
    def passed(self) -> bool:
        return not self.flags


def read_reports(wf: "Workflow") -> SeriesQC:
    """Every episode's QC report, checked to be made with the limits the configuration asks for now
    (none, or one made with other limits, is nothing current to report on: a UsageError, not a verdict)."""
    wanted = wf.cfg.qc.model_dump(mode="json")
    flags: list[Flag] = []
    scenes = retakes = replaced = 0
    for ep in wf.episodes:
        path = wf.at(wf.paths.episode_qc(ep))
        try:
            report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"episode {ep} has no QC report ({wf.paths.episode_qc(ep)}): run `shortdrama build` "
                          "with the same overrides first") from None
        except (OSError, ValueError) as problem:
            raise UsageError(f"{wf.paths.episode_qc(ep)} is unreadable ({problem}): build again") from None
        if report.get("limits", wanted) != wanted and wf.cfg.qc.enabled:
            raise UsageError(f"{wf.paths.episode_qc(ep)} was made with other QC limits: run `shortdrama build` with "
                          "these overrides (it reruns only the checks and what the chosen takes change)")
        flags += [Flag.from_dict(f) for f in report.get("flags", [])]
        flags += _delivery_flags(wf, ep)
        for scene in report.get("scenes", []):
            scenes += 1
            retakes += int(scene.get("retakes_bought", 0))
            replaced += int(scene.get("take", 1) != 1)
    flags.sort(key=lambda f: (-f.severity, f.episode or 0, f.scene or 0, f.at or 0.0))
    return SeriesQC(flags, len(wf.episodes), scenes, retakes, replaced)


def _delivery_flags(wf: "Workflow", ep: str) -> list[Flag]:
    """The flags of the episode's platform package (deliver/), when the config delivers to one."""
    if not wf.cfg.deliver.enabled:
        return []
    where = wf.paths.delivery(ep, wf.cfg.deliver.platform)["qc"]
    try:
        report: dict[str, Any] = json.loads(wf.at(where).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"episode {ep} has no delivery report ({where}): run `shortdrama build` with the same "
                         "overrides first") from None
    except (OSError, ValueError) as problem:
        raise UsageError(f"{where} is unreadable ({problem}): build again") from None
    return [Flag.from_dict({**f, "check": f"{report.get('platform', 'delivery')} {f['check']}"})
            for f in report.get("flags", [])]


def format_report(qc: SeriesQC, root: str) -> str:
    head = (f"shortdrama qc: {root}: {qc.episodes} episode(s), {qc.scenes} scene(s), {qc.replaced} using a later "
            f"take, {qc.retakes} retake(s) bought")
    if qc.passed:
        return head + "\nnothing flagged"
    lines = [head, f"{len(qc.flags)} flag(s), worst first:", "",
             f"{'ep':>3} {'sc':>3} {'take':>4}  {'timecode':<12}  {'check':<18} {'measured':>12} {'limit':>10}  what"]
    for f in qc.flags:
        lines.append(f"{_cell(f.episode):>3} {_cell(f.scene):>3} {_cell(f.take):>4}  {timecode(f.at):<12}  "
                     f"{f.check:<18} {_value(f.value):>12} {_value(f.limit):>10}  {f.message}")
    return "\n".join(lines)


def _cell(value: int | None) -> str:
    return "-" if value is None else f"{value:02d}"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    text = str(value)
    return text if len(text) <= 12 else text[:11] + "…"
