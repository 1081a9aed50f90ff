"""What Snakemake's own report (`snakemake --report results/<series>/report.zip`) shows beside the finals
and keyframes: each episode's QC table and storyboard contact sheet, and the series' cost table.

Plain files under `results/<series>/report/` (`R`), made by rules/report.smk's `summarise_episode` and
`tabulate_costs` from what a build already wrote (the episode's QC JSON and selections, its keyframes and
script, the ledger). Each HTML page stands alone (inline CSS, no scripts): the report shows it in a frame,
and it opens from disk as well. The labels functions give the report's result lists their columns
(`report(..., labels=episode_labels)` in rules/render.smk and rules/keyframes.smk).
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from .cost.ledger import Ledger, LedgerEntry
from .cost.report import Tally, tally, usd
from .errors import UsageError
from .media import write_text_atomic
from .qc.flags import Flag, timecode

if TYPE_CHECKING:
    from .workflow import Workflow


class R:
    """Output patterns of the report's own files, with the rules' wildcards {series} and {ep}."""

    qc = "results/{series}/report/ep{ep}/qc.html"
    storyboard = "results/{series}/report/ep{ep}/storyboard.png"
    costs = "results/{series}/report/costs.html"


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.2em; color: #1d1d1f; }
h1 { font-size: 1.3em; margin: 0 0 .3em; } h2 { font-size: 1.05em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; margin: .3em 0 1em; } caption { text-align: left; font-weight: 600; }
th, td { border-bottom: 1px solid #ddd; padding: .25em .7em; text-align: left; vertical-align: top; }
th { background: #f3f3f5; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td { font-weight: 600; border-top: 2px solid #999; }
.ok { color: #176f2c; } .bad { color: #b3261e; font-weight: 600; } table.flags td { color: #b3261e; }
"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = (), caption: str = "",
           foot: Sequence[Any] | None = None, css: str = "") -> str:
    """An HTML table; the cells are escaped, the columns in `numeric` right-aligned."""
    def cells(values: Sequence[Any], tag: str = "td") -> str:
        return "".join(f'<{tag}{" class=n" if i in numeric else ""}>{escape(str(v))}</{tag}>'
                       for i, v in enumerate(values))

    parts = [f'<table class="{css}">' if css else "<table>"]
    if caption:
        parts.append(f"<caption>{escape(caption)}</caption>")
    parts.append(f"<thead><tr>{cells(head, 'th')}</tr></thead><tbody>")
    parts += [f"<tr>{cells(row)}</tr>" for row in rows]
    parts.append("</tbody>")
    if foot is not None:
        parts.append(f"<tfoot><tr>{cells(foot)}</tr></tfoot>")
    return "".join(parts) + "</table>"


def _read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _scene_of(path: str | os.PathLike) -> int:
    """scNN.selection.json -> NN."""
    return int(Path(path).name.split(".")[0].removeprefix("sc"))


# -- the report of a built series -------------------------------------------------------------------

# The Snakemake runs of a report, after the series' build: the tables (the cost table made anew, as the
# ledger may hold calls that changed no output, a failed build's), then the report itself.
TABLES_RUN = ["report_tables", "--forcerun", "tabulate_costs"]


def make_report(wf: "Workflow", out: str | os.PathLike | None, run: Callable[[list[str]], int]) -> tuple[int, Path]:
    """`shortdrama report`: the report tables, then `snakemake --report` into `out` (default
    results/<series>/report.zip; a .html holds every file inline). `run(extra)` runs Snakemake on the series
    with the command's overrides plus `extra` (targets and options, placed before --config) and returns its
    exit code. Returns the first non-zero exit code, or 0, and the report's path."""
    missing = [wf.paths.final(ep) for ep in wf.episodes if not wf.at(wf.paths.final(ep)).exists()]
    if missing:
        raise UsageError(f"{missing[0]} does not exist: run `shortdrama build` with the same overrides first")
    path = Path(out) if out else wf.at(wf.paths.root) / "report.zip"
    if path.suffix not in (".zip", ".html"):
        raise UsageError(f"{path}: a report is a .zip (the files beside report.html) or a .html (every file inline)")
    code = run(list(TABLES_RUN))
    return (code or run(["--report", str(path.resolve())])), path


# -- one episode: the QC table and the storyboard contact sheet -------------------------------------

def summarise_episode(qc_json: str, selections: Sequence[str], script: str, keyframes: Sequence[str],
                      qc_out: str, storyboard_out: str) -> None:
    """Write the episode's QC table (from its QC report and its scenes' selections) and its contact sheet."""
    episode = _read_json(script)
    chosen = {_scene_of(path): _read_json(path) for path in selections}
    write_text_atomic(Path(qc_out), qc_page(_read_json(qc_json), chosen, episode))
    contact_sheet(keyframes, episode, storyboard_out)


def qc_page(report: Mapping[str, Any], selections: Mapping[int, Mapping[str, Any]],
            script: Mapping[str, Any]) -> str:
    """The HTML of one episode's QC: verdict, loudness, each scene's take and why, flags, skipped checks."""
    ep = int(report.get("episode") or script.get("episode") or 0)
    flags = sorted((Flag.from_dict(f) for f in report.get("flags", [])),
                   key=lambda f: (-f.severity, f.scene or 0, f.at or 0.0))
    verdict = ('<span class="ok">passed</span>' if report.get("passed", not flags)
               else f'<span class="bad">{len(flags)} flag(s)</span>')
    title = f"Episode {ep:02d}: {script.get('title', '')}"
    measured = report.get("measurements", {})
    body = [f"<h1>{escape(title)}</h1>", f"<p>Automated QC: {verdict}.",
            f" Loudness {_number(measured.get('integrated_lufs'), ' LUFS')}, true peak "
            f"{_number(measured.get('true_peak_dbtp'), ' dBTP')}, {report.get('cues', 0)} subtitle cue(s).</p>"]
    rows = []
    for scene in report.get("scenes", []):
        number = int(scene.get("scene", 0))
        picked = selections.get(number, {})
        takes = "; ".join(f"take {t.get('take')}: {'pass' if t.get('passed') else 'fail'}"
                          + (f", score {t['score']:.1f}" if isinstance(t.get("score"), (int, float)) else "")
                          for t in picked.get("takes", []))
        rows.append((f"{number:02d}", scene.get("take", "-"), picked.get("by", "qc"), takes or "-",
                     scene.get("retakes_bought", 0), "yes" if scene.get("flagged") else "no",
                     scene.get("reason", ""), "; ".join(map(str, scene.get("notes", []))) or "-"))
    body.append(_table(("scene", "take used", "chosen by", "takes tried", "retakes bought", "flagged", "why", "notes"),
                       rows, numeric=(1, 4), caption="Scenes"))
    body.append("<h2>Flags, worst first</h2>")
    if flags:
        body.append(_table(("scene", "take", "timecode", "check", "measured", "limit", "what"),
                           ((_cell(f.scene), _cell(f.take), timecode(f.at), f.check, _value(f.value), _value(f.limit),
                             f.message) for f in flags), numeric=(4, 5), css="flags"))
    else:
        body.append('<p class="ok">Nothing flagged.</p>')
    skipped = report.get("skipped", [])
    if skipped:
        body.append(_table(("check", "why"), ((s.get("check", ""), s.get("why", "")) for s in skipped),
                           caption="Checks not run"))
    return _page(title, "\n".join(body))


def contact_sheet(keyframes: Sequence[str], script: Mapping[str, Any], out: str, width: int = 240,
                  columns: int = 4) -> None:
    """The episode's keyframes in scene order on one image, each over its scene number, camera and duration."""
    from PIL import Image, ImageDraw, ImageFont

    from .fonts import font_path

    scenes = script.get("scenes", [])
    frames = [Image.open(path).convert("RGB") for path in keyframes]
    if not frames:
        frames = [Image.new("RGB", (9, 16), "black")]
    height = round(width * frames[0].height / frames[0].width)
    pad, strip = 8, 44
    cols = min(columns, len(frames))
    rows = -(-len(frames) // cols)
    sheet = Image.new("RGB", (pad + cols * (width + pad), pad + rows * (height + strip + pad)), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.truetype(str(font_path()), 15)
    small = ImageFont.truetype(str(font_path()), 12)
    for i, frame in enumerate(frames):
        x, y = pad + (i % cols) * (width + pad), pad + (i // cols) * (height + strip + pad)
        sheet.paste(frame.resize((width, height), Image.Resampling.LANCZOS), (x, y))
        scene = scenes[i] if i < len(scenes) else {}
        head = f"sc{i + 1:02d}  {scene.get('camera', '')}  {_number(scene.get('duration'), ' s')}"
        draw.text((x, y + height + 4), head, fill=(240, 240, 240), font=font)
        draw.text((x, y + height + 24), _fit(draw, str(scene.get("action", "")), small, width), fill=(170, 170, 180),
                  font=small)
    part = Path(out).with_name(Path(out).name + ".part")
    sheet.save(part, format="PNG")
    os.replace(part, out)


def _fit(draw: Any, text: str, font: Any, width: int) -> str:
    """`text`, cut with an ellipsis to fit `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "…"


# -- the series: the cost table ---------------------------------------------------------------------

def tabulate_costs(ledger: str, out: str, episodes: int, traditional_per_episode: float) -> None:
    """Write the series' cost table from its ledger (every provider call of every build so far)."""
    write_text_atomic(Path(out), cost_page(Ledger(ledger).entries(), episodes, traditional_per_episode, ledger))


def cost_page(entries: Sequence[LedgerEntry], episodes: int, traditional_per_episode: float, source: str) -> str:
    """The HTML of `shortdrama costs`: totals, then the ledger by step, by episode and by provider/model."""
    total = Tally()
    for entry in entries:
        total.add(entry)
    title = "Costs"
    body = [f"<h1>{title}: spent {usd(total.spent)}</h1>",
            f"<p>{escape(source)}: {total.calls} provider call(s), {total.hits} served by the cache, {total.misses} made, "
            f"{total.refused} refused, {total.failed} failed; the cache saved {usd(total.saved)}.</p>"]
    traditional = episodes * traditional_per_episode
    if traditional > 0:
        cheaper = f", {traditional / total.spent:,.0f}x cheaper" if total.spent > 0 else ""
        body.append(f"<p>Traditional production of {episodes} episode(s) at {usd(traditional_per_episode)} each: "
                    f"{usd(traditional)}; this series: {usd(total.spent)} ({total.spent / traditional:.2%} of it{cheaper}).</p>")
    groups = (("by step", lambda e: e.step),
              ("by episode", lambda e: f"ep{e.episode:02d}" if e.episode else "series"),
              ("by provider/model", lambda e: f"{e.provider}/{e.model}"))
    for name, key in groups:
        body.append(f"<h2>{escape(name.capitalize())}</h2>")
        body.append(_table((name.removeprefix("by "), "calls", "cache hits", "made", "refused", "failed", "spent", "saved"),
                           (_tally_row(group, t) for group, t in tally(entries, key).items()),
                           numeric=range(1, 8), foot=_tally_row("total", total)))
    return _page(title, "\n".join(body))


def _tally_row(name: str, t: Tally) -> tuple[Any, ...]:
    return (name, t.calls, t.hits, t.misses, t.refused, t.failed, usd(t.spent), usd(t.saved))


# -- labels of the report's result lists (one column each: the report offers toggles for a second) ----

def episode_labels(wildcards: Any, input: Any) -> dict[str, str]:  # noqa: A002 - Snakemake's name
    """The final's row in the report: "01: The Slap (4 scenes, 38 s)"."""
    script = _read_json(input.script)
    scenes = script.get("scenes", [])
    seconds = sum(float(s.get("duration", 0)) for s in scenes)
    return {"episode": f"{wildcards.ep}: {script.get('title', '')} ({len(scenes)} scenes, {seconds:.0f} s)"}


def keyframe_labels(wildcards: Any, input: Any) -> dict[str, str]:  # noqa: A002 - Snakemake's name
    """A keyframe's row in the report: "sc02: <the scene's action>"."""
    scenes = _read_json(input.script).get("scenes", [])
    index = int(wildcards.sc) - 1
    action = scenes[index].get("action", "") if 0 <= index < len(scenes) else ""
    return {"shot": f"sc{wildcards.sc}: {action}"}


def _number(value: Any, unit: str = "") -> str:
    return f"{value:.1f}{unit}" if isinstance(value, (int, float)) and value == value else "-"


def _cell(value: int | None) -> str:
    return "-" if value is None else f"{value:02d}"


def _value(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
