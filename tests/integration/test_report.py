"""Snakemake's own report of a built series: `snakemake report_tables`, then `snakemake --report x.zip`.
What is inside is read back from the zip: the files, their categories, captions and labels, and the
content of the QC and cost tables against the build's own QC report and ledger."""

import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from builds import TINY, run_snakemake
from shortdrama.cost.ledger import BILLED_OUTCOMES, Ledger
from shortdrama.cost.report import usd

pytestmark = pytest.mark.slow

# Priced stand-ins (docs/cost.md), so the cost table has dollars to add up.
CONFIG = [f"overrides={json.dumps(TINY + ['llm=fake_paid', 'video=fake_paid'])}"]


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> Path:
    """A tiny priced series built, its report tables made, its report written to results/demo/report.zip."""
    root = tmp_path_factory.mktemp("reported")
    with pytest.MonkeyPatch.context() as monkeypatch:  # a cache of its own: every call is bought
        monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(root / "cache"))
        work = root / "work"
        run_snakemake(work, *CONFIG)
        run_snakemake(work, *CONFIG, extra=("report_tables",))
        dry = run_snakemake(work, *CONFIG, extra=("--dry-run",))
        assert "Nothing to be done" in dry.stdout + dry.stderr, "report() and the kept tables rerun nothing"
        run_snakemake(work, *CONFIG, extra=("--report", str(work / "results/demo/report.zip")))
    return work / "results" / "demo"


def _embedded(html: str, name: str) -> dict:
    """The JSON the report's page carries as `var <name> = {...};`."""
    return json.loads(re.search(rf"^\s*var {name} = (\{{.*\}});$", html, re.M).group(1))


class _Tables(HTMLParser):
    """Every table of a page as rows of cell texts."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_the_report_holds_finals_storyboard_qc_and_costs_with_captions(reported):
    with zipfile.ZipFile(reported / "report.zip") as zipped:
        names = zipped.namelist()
        page = zipped.read("report/report.html").decode("utf-8")
        raw = {Path(name).name: zipped.read(name) for name in names if name.startswith("report/data/raw/")}
    results, categories = _embedded(page, "results"), _embedded(page, "categories")

    assert categories == {
        "Episodes": {"Other": ["results/demo/episode_01_final.mp4"]},
        "Storyboard": {"Episode 01": ["results/demo/ep01/keyframes/sc01.png", "results/demo/ep01/keyframes/sc02.png",
                                      "results/demo/report/ep01/storyboard.png"]},
        "Quality control": {"Other": ["results/demo/report/ep01/qc.html"]},
        "Costs": {"Other": ["results/demo/report/costs.html"]},
    }
    for path, result in results.items():  # the files themselves, byte for byte
        assert raw[Path(path).name] == (reported.parents[1] / path).read_bytes(), path
        assert result["caption"] and "{{" not in result["caption"], path

    script = json.loads((reported / "ep01/script.json").read_text())
    final = results["results/demo/episode_01_final.mp4"]
    assert final["mime_type"] == "video/mp4" and "Episode 01 of" in final["caption"]
    assert final["labels"] == {"episode": f"01: {script['title']} (2 scenes, {sum(s['duration'] for s in script['scenes']):.0f} s)"}
    keyframe = results["results/demo/ep01/keyframes/sc02.png"]
    assert keyframe["labels"] == {"shot": f"sc02: {script['scenes'][1]['action']}"}
    assert "episode 01, scene 02" in keyframe["caption"]
    assert "a frozen record" in page and "shortdrama review" in page, "the workflow description says what it is for"


def test_the_qc_table_shows_each_scenes_take_and_the_flags_of_the_qc_report(reported):
    report = json.loads((reported / "episode_01.qc.json").read_text())
    scenes, *rest = _Tables((reported / "report/ep01/qc.html").read_text()).tables
    assert scenes[0][:3] == ["scene", "take used", "chosen by"]
    assert [(row[0], row[1]) for row in scenes[1:]] == [(f"{s['scene']:02d}", str(s["take"])) for s in report["scenes"]]
    flags = [table[1:] for table in rest if table[0][:4] == ["scene", "take", "timecode", "check"]]
    assert len(flags[0] if flags else []) == len(report["flags"])
    skipped = next(table for table in rest if table[0] == ["check", "why"])
    assert [row[0] for row in skipped[1:]] == [s["check"] for s in report["skipped"]]


def test_the_cost_table_adds_up_to_the_ledger(reported):
    entries = Ledger(reported / "ledger.jsonl").entries()
    spent = sum(e.cost_usd for e in entries if e.outcome in BILLED_OUTCOMES)
    assert spent > 0, "the priced stand-ins bill every call they make"
    text = (reported / "report/costs.html").read_text()
    assert f"spent {usd(spent)}" in text
    by_step, by_episode, by_provider = _Tables(text).tables
    for table in (by_step, by_episode, by_provider):
        total = table[-1]
        assert total[0] == "total" and total[1] == str(len(entries)) and total[6] == usd(spent)
        assert sum(int(row[1]) for row in table[1:-1]) == len(entries)
    steps = {row[0]: row for row in by_step[1:-1]}
    clips = [e for e in entries if e.step == "clip"]
    assert steps["clip"][1] == str(len(clips)) and steps["clip"][6] == usd(sum(e.cost_usd for e in clips))


def test_shortdrama_report_makes_the_same_report_in_one_command(reported, tmp_path):
    import subprocess
    import sys
    import zipfile

    cli = str(Path(sys.executable).with_name("shortdrama"))
    overrides = [*TINY, "llm=fake_paid", "video=fake_paid"]
    out = tmp_path / "sent.zip"
    proc = subprocess.run([cli, "report", "-d", str(reported.parents[1]), "--out", str(out), *overrides],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == str(out), proc.stderr[-3000:]
    with zipfile.ZipFile(out) as sent, zipfile.ZipFile(reported / "report.zip") as first:
        def finals(report: zipfile.ZipFile) -> list[str]:  # the zip's top folder is named after the file
            return sorted(n.split("/", 1)[1] for n in report.namelist() if n.endswith(".mp4"))

        assert finals(sent) == finals(first) and finals(sent)
    empty = subprocess.run([cli, "report", "-d", str(tmp_path / "nothing"), *overrides], capture_output=True, text=True)
    assert empty.returncode == 2 and empty.stderr.count("\n") == 1 and "run `shortdrama build`" in empty.stderr
