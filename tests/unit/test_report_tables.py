"""The files Snakemake's report shows beside the finals and keyframes (shortdrama.report_tables):
the QC table, the cost table, the contact sheet, and the two Snakemake runs of `make_report`."""

from pathlib import Path

import pytest
from PIL import Image

from shortdrama.config import load_config
from shortdrama.cost.ledger import LedgerEntry
from shortdrama.errors import UsageError
from shortdrama.report_tables import TABLES_RUN, contact_sheet, cost_page, make_report, qc_page
from shortdrama.workflow import Workflow

SCRIPT = {"episode": 1, "title": "The <Slap>", "scenes": [
    {"action": "She freezes in the doorway", "camera": "wide", "duration": 3.0},
    {"action": "He reads the message", "camera": "close-up", "duration": 2.5},
    {"action": "The door slams", "camera": "medium", "duration": 2.0}]}


def _entry(step: str, cost: float, episode: int | None = 1, cache: str = "miss", outcome: str = "ok") -> LedgerEntry:
    return LedgerEntry(time="2026-01-01T00:00:00+00:00", rule=step, step=step, provider="fake", model="m", key="k",
                       cache=cache, estimate_usd=cost, cost_usd=0.0 if cache == "hit" else cost, duration_s=0.1,
                       outcome=outcome, episode=episode)


def test_the_qc_table_lists_each_scenes_take_and_the_flags_worst_first_escaped():
    report = {"episode": 1, "passed": False, "cues": 4, "skipped": [{"check": "identity", "why": "no scorer"}],
              "measurements": {"integrated_lufs": -16.04, "true_peak_dbtp": -0.5},
              "scenes": [{"scene": 1, "take": 2, "retakes_bought": 1, "flagged": False, "reason": "take 1 froze"},
                         {"scene": 2, "take": 1, "flagged": True, "reason": "no take passes"}],
              "flags": [{"check": "true_peak", "value": -0.5, "limit": -1.0, "message": "peak <too> high", "severity": 1.1},
                        {"check": "freeze", "value": 2.5, "limit": 1.5, "message": "frozen", "at": 1.25,
                         "severity": 1.7, "scene": 2, "take": 1}]}
    selections = {1: {"by": "qc", "takes": [{"take": 1, "passed": False, "score": 20.0}, {"take": 2, "passed": True,
                                                                                           "score": 88.25}]}}
    html = qc_page(report, selections, SCRIPT)
    assert "Episode 01: The &lt;Slap&gt;" in html and "<Slap>" not in html and "&lt;too&gt;" in html
    assert "2 flag(s)" in html and "-16.0 LUFS" in html
    assert "take 1: fail, score 20.0; take 2: pass, score 88.2" in html
    assert html.index("frozen") < html.index("peak &lt;too&gt; high"), "worst first"
    assert "00:00:01.250" in html and "no scorer" in html


def test_the_cost_table_totals_every_call_by_step_episode_and_provider():
    entries = [_entry("outline", 0.05, episode=None), _entry("clip", 0.25), _entry("clip", 0.25, cache="hit"),
               _entry("clip", 0.25, episode=2, outcome="failed"), _entry("dialogue", 0.0, outcome="refused")]
    html = cost_page(entries, episodes=2, traditional_per_episode=110.0, source="results/demo/ledger.jsonl")
    assert "spent $0.55" in html and "the cache saved $0.25" in html
    assert "5 provider call(s), 1 served by the cache, 2 made, 1 refused, 1 failed" in html
    assert html.count("<tfoot>") == 3 and html.count("<td>total</td><td class=n>5</td>") == 3
    assert "<td>clip</td><td class=n>3</td><td class=n>1</td><td class=n>1</td><td class=n>0</td><td class=n>1</td>" \
           "<td class=n>$0.50</td><td class=n>$0.25</td>" in html
    assert "<td>series</td>" in html and "<td>ep02</td>" in html
    assert "$220.00; this series: $0.55 (0.25% of it, 400x cheaper)" in html


def test_the_contact_sheet_puts_every_keyframe_in_scene_order_on_one_image(tmp_path):
    frames = []
    for i, colour in enumerate(["red", "green", "blue"]):
        frames.append(str(tmp_path / f"sc{i + 1:02d}.png"))
        Image.new("RGB", (90, 160), colour).save(frames[-1])
    out = tmp_path / "sheet.png"
    contact_sheet(frames, SCRIPT, str(out), width=60, columns=2)
    sheet = Image.open(out).convert("RGB")
    assert sheet.size == (8 + 2 * 68, 8 + 2 * (107 + 44 + 8))
    assert sheet.getpixel((8 + 30, 8 + 50)) == (255, 0, 0) and sheet.getpixel((76 + 30, 8 + 50))[1] > 100
    assert sheet.getpixel((8 + 30, 167 + 50))[2] > 200, "the third keyframe starts the second row"
    assert not list(tmp_path.glob("*.part"))


def test_make_report_makes_the_tables_then_the_report_and_wants_a_built_series(tmp_path):
    wf = Workflow(load_config(["series.episodes=1"]), [], workdir=tmp_path)
    runs: list[list[str]] = []
    with pytest.raises(UsageError, match="episode_01_final.mp4 does not exist: run `shortdrama build`"):
        make_report(wf, None, lambda extra: runs.append(extra) or 0)
    final = tmp_path / wf.paths.final("01")
    final.parent.mkdir(parents=True)
    final.write_bytes(b"")
    code, path = make_report(wf, None, lambda extra: runs.append(extra) or 0)
    assert (code, path) == (0, tmp_path / wf.paths.root / "report.zip")
    assert runs == [TABLES_RUN, ["--report", str(path)]]
    runs.clear()
    assert make_report(wf, tmp_path / "r.html", lambda extra: runs.append(extra) or 3)[0] == 3
    assert runs == [TABLES_RUN], "no report after the tables failed"
    with pytest.raises(UsageError, match="a report is a .zip"):
        make_report(wf, Path("r.pdf"), lambda extra: 0)
