"""`shortdrama review`: a static page for a built series (results/<series>/review/index.html), the
working surface a producer reviews from: per episode a storyboard of shot cards (keyframe, every take
playable side by side, the chosen take marked and why, QC flags with timecodes that seek the player,
dialogue and action, prompt and seed, each take's cost and the running total, the decision state),
then the finished episode with its subtitles. Plain HTML/CSS/JS from one jinja2 template; media is
referenced by relative paths, so the page opens from disk and works offline.

`render_page(..., served=True)` is the same page with the controls of `shortdrama review --serve`
(shortdrama.review.server): pick, retake with a note, approve a keyframe or a script, edit a line or
an action, rebuild. The static page has none of them (no control, no token, no request).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..media import write_text_atomic

if TYPE_CHECKING:
    from ..workflow import Workflow
    from .decisions import Decision

PAGE = "review/index.html"


def _relative(path: Path, page_dir: Path) -> str:
    import os

    return Path(os.path.relpath(path, page_dir)).as_posix()


def _costs(wf: "Workflow") -> dict[tuple[int, int, int], float]:
    """What each take cost (billed clip calls of the ledger, by episode, scene and take)."""
    from ..cost.ledger import BILLED_OUTCOMES, Ledger

    ledger = wf.at(wf.paths.root) / "ledger.jsonl"
    costs: dict[tuple[int, int, int], float] = defaultdict(float)
    if ledger.exists():
        for entry in Ledger(ledger).entries():
            if entry.step == "clip" and entry.outcome in BILLED_OUTCOMES and entry.episode and entry.scene:
                costs[(entry.episode, entry.scene, entry.take or 1)] += entry.cost_usd
    return costs


def _vtt(vtt: Path, srt: Path, out: Path) -> str:
    """The episode's WebVTT (write_subtitles' output), the format a <track> element plays (copied, and
    returned as a data: URL: a page opened from disk may not load a track from another file, Chromium
    refuses it). A series built before there was one gets it made from its SRT the same way."""
    import base64

    from ..subtitles import format_vtt, parse_srt

    if vtt.exists():
        text = vtt.read_text(encoding="utf-8")
    else:
        text = format_vtt(parse_srt(srt.read_text(encoding="utf-8")) if srt.exists() else [])
    write_text_atomic(out, text)
    return "data:text/vtt;charset=utf-8;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def _decision_state(decision: "Decision | None", gate: str) -> dict[str, Any]:
    """A scene's decision as the page shows it: the pick, the retake notes asked, the keyframe's approval."""
    take = decision.take if decision else None
    retakes = list(decision.retakes) if decision else []
    approved = bool(decision and decision.approves_keyframe)
    signed = (f" by {decision.by}" if decision and decision.by else "") + (
        f" at {decision.at}" if decision and decision.at else "")
    return {"decision": f"take {take} picked{signed}" if take is not None else None, "picked": take,
            "retakes": retakes, "keyframe_approved": approved,
            "keyframe_awaiting": gate == "keyframes" and not approved, "signed": signed.strip()}


def collect(wf: "Workflow") -> dict[str, Any]:
    """Everything the page shows, read from the built series (scripts, selections, QC reports, ledger)."""
    page_dir = wf.at(wf.paths.root) / "review"
    scripts = wf.readable_scripts()
    if not scripts:
        raise UsageError(f"{wf.paths.root} has no episode scripts yet: run `shortdrama build` with the same "
                         "overrides first")
    costs = _costs(wf)
    gate = wf.cfg.review.gate
    script_approved = wf.decisions.script_approved
    episodes, series_total = [], 0.0
    for ep, script_path in scripts.items():
        script, episode = wf.script(script_path), int(ep)
        shots, episode_total = [], 0.0
        for index, scene in enumerate(script.scenes, 1):
            sc = f"{index:02d}"
            selection_path = wf.at(wf.paths.selection(ep, sc))
            selection = json.loads(selection_path.read_text(encoding="utf-8")) if selection_path.exists() else {}
            state = _decision_state(wf.decisions.of(episode, index), gate)
            pickable = wf.cfg.takes + len(state["retakes"])  # the takes a pick may name (check_decisions)
            takes = []
            for take in selection.get("takes", []):
                number = int(take["take"])
                cost = round(costs.get((episode, index, number), 0.0), 4)
                episode_total += cost
                clip = wf.clip_spec(ep, sc, scene, number)
                takes.append({"take": number, "src": _relative(wf.at(wf.paths.take(ep, sc, 1)).parent / take["file"], page_dir),
                              "passed": take.get("passed", True), "score": take.get("score"), "flags": take.get("flags", []),
                              "retake": take.get("retake", False), "cost": cost, "seed": clip.seed,
                              "note": take.get("note") or clip.note,
                              "chosen": number == selection.get("chosen"), "pickable": number <= pickable})
            shots.append({
                "scene": index, "id": f"ep{ep}-sc{sc}", "ep": ep, "sc": sc, "camera": scene.camera,
                "action": scene.action, "location": f"{scene.location.setting} - {scene.location.description}",
                "dialogue": [{"speaker": line.speaker, "text": line.text} for line in scene.dialogue],
                "keyframe": _relative(wf.at(wf.paths.keyframe(ep, sc)), page_dir),
                "prompt": wf.clip_spec(ep, sc, scene, 1).prompt, "takes": takes,
                "chosen": selection.get("chosen"), "reason": selection.get("reason", "not built yet"),
                "flagged": bool(selection.get("flagged")),
                **state})
        report_path = wf.at(wf.paths.episode_qc(ep))
        report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else {"flags": []}
        vtt = page_dir / "assets" / f"episode_{ep}.vtt"
        inline_subtitles = _vtt(wf.at(wf.paths.subtitles_vtt(ep)), wf.at(wf.paths.subtitles(ep)), vtt)
        series_total += episode_total
        episodes.append({"episode": episode, "id": f"ep{ep}", "ep": ep, "title": script.title, "shots": shots,
                         "final": _relative(wf.at(wf.paths.final(ep)), page_dir),
                         "subtitles": _relative(vtt, page_dir), "subtitles_inline": inline_subtitles,
                         "language": script.language,
                         "flags": report.get("flags", []), "script_approved": script_approved(episode),
                         "passed": report.get("passed"), "cost": round(episode_total, 4),
                         "running_total": round(series_total, 4)})
    return {"series": wf.cfg.series.name, "root": wf.paths.root, "episodes": episodes, "gate": gate,
            "decisions": wf.decisions.path, "total": round(series_total, 4)}


def render_page(wf: "Workflow", *, served: bool = False, token: str = "", nonce: str = "") -> str:
    """The page's HTML. `served`: with the controls of `shortdrama review --serve` (their requests carry
    `token`; the inline script and style carry the CSP `nonce`); the static page has none."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("shortdrama.review", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    return env.get_template("page.html").render(**collect(wf), served=served, token=token, nonce=nonce)


def write_page(wf: "Workflow") -> Path:
    out = wf.at(wf.paths.root) / PAGE
    write_text_atomic(out, render_page(wf))
    return out
