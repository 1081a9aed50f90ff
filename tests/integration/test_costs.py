"""Never pay twice, never overspend: the real Snakemake build with priced fake providers that count
their calls apart from the ledger."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from builds import REPO, copy_of, run_snakemake
from shortdrama.cost.ledger import Ledger, LedgerEntry
from shortdrama.fake_paid import FAKE_CALL_LOG_ENV, read_fake_calls

pytestmark = pytest.mark.slow

PRICED = ["llm=fake_paid", "video=fake_paid", "render=480p", "series.episodes=1", "series.scenes_per_episode.min=2",
          "series.scenes_per_episode.max=2", "series.scene_duration.min=3", "series.scene_duration.max=3"]
# fake-video-pro at 480p: a 3 s clip is billed as 5 s x $0.10 x 0.5; the fake LLM is $0.05 a call.
CLIP_PRICE, LLM_PRICE = 0.25, 0.05
CLI = str(Path(sys.executable).with_name("shortdrama"))


def _private(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the call cache and the fake providers' call counter into `root`."""
    monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(root / "cache"))
    monkeypatch.setenv(FAKE_CALL_LOG_ENV, str(root / "fake_calls.jsonl"))
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The priced series built once from nothing: `work/`, the cache it filled and the calls it paid for.
    Tests take a copy of all three (`from_built`) instead of building the same series again."""
    root = tmp_path_factory.mktemp("priced-built")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _private(root, monkeypatch)
        build(root / "work")
    return root


@pytest.fixture
def priced(tmp_path, monkeypatch):
    """A private cache and call counter for one test."""
    return _private(tmp_path, monkeypatch)


def from_built(built: Path, priced: Path, name: str) -> Path:
    """This test's copy of the module's build, as if the test had built it in `priced / name`: the work dir,
    the cache it filled and the call log it left (tests corrupt and count them)."""
    shutil.copytree(built / "cache", priced / "cache", symlinks=True, dirs_exist_ok=True)
    shutil.copy2(built / "fake_calls.jsonl", priced / "fake_calls.jsonl")
    return copy_of(built / "work", priced).rename(priced / name)


def build(workdir: Path, *extra: str, check: bool = True):
    return run_snakemake(workdir, f"overrides={json.dumps(PRICED + list(extra))}", check=check)


def calls(root: Path) -> list[dict]:
    return read_fake_calls(root / "fake_calls.jsonl")


def ledger(workdir: Path, series: str = "demo") -> Ledger:
    return Ledger(workdir / "results" / series / "ledger.jsonl")


def _view(workdir: Path, series: str = "demo") -> list[LedgerEntry]:
    """The entries of results/<series>/ledger.jsonl itself, as a person or `jq` would read it."""
    text = (workdir / "results" / series / "ledger.jsonl").read_text(encoding="utf-8")
    return [LedgerEntry.from_dict(json.loads(line)) for line in text.splitlines()]


def edit_action(workdir: Path, text: str | None) -> str:
    path = workdir / "results/demo/ep01/script.json"
    script = json.loads(path.read_text())
    previous = script["scenes"][1]["action"]
    script["scenes"][1]["action"] = text
    path.write_text(json.dumps(script, indent=2))
    return previous


def test_revert_and_fresh_results_dir_cost_nothing(built, priced):
    first = from_built(built, priced, "first")
    paid = calls(priced)
    assert [c["step"] for c in paid].count("clip") == 2
    assert [c["step"] for c in paid].count("outline") == 1 and [c["step"] for c in paid].count("episode_script") == 1
    spent = ledger(first).spent()
    assert spent == pytest.approx(2 * LLM_PRICE + 2 * CLIP_PRICE)
    # results/demo/ledger.jsonl, the file people open, is the merged view the build left: its lines.
    assert _view(first) == ledger(first).entries() and len(_view(first)) >= 7
    assert sum(e.cost_usd for e in _view(first)) == pytest.approx(spent)
    assert sorted(e.step for e in _view(first) if e.cost_usd > 0) == ["clip", "clip", "episode_script", "outline"]

    original = edit_action(first, "She burns the letter in the sink")
    build(first)
    assert len(calls(priced)) == len(paid) + 1, "an action edit pays for exactly one new clip"
    assert ledger(first).spent() == pytest.approx(spent + CLIP_PRICE)

    edit_action(first, original)
    build(first)
    assert len(calls(priced)) == len(paid) + 1, "reverting the edit is served from the cache"

    fresh = priced / "fresh"
    build(fresh)
    assert len(calls(priced)) == len(paid) + 1, "a fresh results/ directory is served from the cache"
    fresh_entries = ledger(fresh).entries()
    assert fresh_entries and all(e.cache == "hit" and e.cost_usd == 0 for e in fresh_entries)
    assert ledger(fresh).spent() == 0


def test_corrupted_cache_entry_is_regenerated_not_served(built, priced):
    first = from_built(built, priced, "first")
    clip_keys = [e.key for e in ledger(first).entries() if e.step == "clip"]
    entry_dir = next((priced / "cache").glob(f"*/{clip_keys[0]}"))
    payload = next(p for p in entry_dir.iterdir() if p.name != "entry.json")
    payload.write_bytes(payload.read_bytes()[: payload.stat().st_size // 2])  # truncated
    before = len(calls(priced))
    fresh = priced / "fresh"
    build(fresh)
    regenerated = calls(priced)[before:]
    assert [c["step"] for c in regenerated] == ["clip"], "only the corrupted clip is paid for again"
    from shortdrama.media import probe

    assert probe(fresh / "results/demo/ep01/clips/sc01.mp4").duration == pytest.approx(3.0, abs=0.05)
    assert probe(fresh / "results/demo/ep01/clips/sc02.mp4").duration == pytest.approx(3.0, abs=0.05)


def test_budget_cap_stops_with_one_clear_line_and_keeps_what_was_built(built, priced):
    work = from_built(built, priced, "work")
    final = work / "results/demo/episode_01_final.mp4"
    built_at, old = final.stat().st_mtime, final.read_bytes()
    edit_action(work, "A different action that needs a new clip")
    proc = build(work, "budget.series_usd=0.6", check=False)
    assert proc.returncode != 0
    line = next(l for l in proc.stderr.splitlines() if "budget: series cap" in l)
    assert "budget: series cap $0.60 reached: spent $0.60 + reserved $0.00 + this call $0.25 (generate_clip ep01 sc02 take01)" in line
    # The final no longer matches its script: it is not left under its name to be published by mistake,
    # nor lost: it waits as episode_01_final.outdated.mp4 until the new one is made.
    outdated = work / "results/demo/episode_01_final.outdated.mp4"
    assert not final.exists() and outdated.read_bytes() == old and outdated.stat().st_mtime == built_at
    refused = [e for e in ledger(work).entries() if e.outcome == "refused"]
    assert len(refused) == 1 and refused[0].cost_usd == 0
    # The failed build refreshed the view too (onerror): the refusal is in the file people open.
    assert _view(work) == ledger(work).entries() and [e.outcome for e in _view(work)].count("refused") == 1


def test_downgrade_switches_to_the_fallback_model_at_the_cap(priced):
    work = priced / "work"
    # Room for the writer, one premium clip and one lite clip (5 s x $0.03 x 0.5 = $0.075).
    build(work, "budget.series_usd=0.43", "budget.on_cap=downgrade")
    entries = [e for e in ledger(work).entries() if e.step == "clip" and e.outcome == "ok"]
    assert sorted(e.model for e in entries) == ["fake-video-lite", "fake-video-pro"]
    assert ledger(work).spent() == pytest.approx(2 * LLM_PRICE + CLIP_PRICE + 0.075)
    assert (work / "results/demo/episode_01_final.mp4").exists()


def test_plan_prices_what_the_build_then_pays(built, priced):
    work = priced / "work"
    plan = subprocess.run([CLI, "plan", "--json", "-d", str(work), *PRICED], capture_output=True, text=True, cwd=REPO)
    assert plan.returncode == 0, plan.stderr
    planned = json.loads(plan.stdout)
    assert planned["total_usd"] == pytest.approx(2 * LLM_PRICE + 2 * CLIP_PRICE)
    # qc.retakes=1 (the default): each scene may buy one retake if its take fails QC, priced apart.
    assert planned["worst_case_usd"] == pytest.approx(2 * LLM_PRICE + 4 * CLIP_PRICE)
    takes = json.loads(subprocess.run([CLI, "plan", "--json", "-d", str(work), *PRICED, "takes=3", "qc.retakes=2"],
                                      capture_output=True, text=True, cwd=REPO).stdout)
    assert takes["total_usd"] == pytest.approx(2 * LLM_PRICE + 3 * 2 * CLIP_PRICE), "every take is priced"
    assert takes["worst_case_usd"] == pytest.approx(2 * LLM_PRICE + (3 + 2) * 2 * CLIP_PRICE)
    assert not (work / "results").exists() or not list((work / "results").rglob("*.mp4")), "plan spends nothing"
    assert calls(priced) == [], "plan pays for nothing"
    shutil.rmtree(work, ignore_errors=True)
    work = from_built(built, priced, "work")  # what building `work` from nothing, as planned, paid
    actual = ledger(work).spent()
    assert abs(actual - planned["total_usd"]) <= 0.05 * actual

    again = subprocess.run([CLI, "plan", "--json", "-d", str(work), *PRICED, "video.motion=none"],
                           capture_output=True, text=True, cwd=REPO)
    replanned = json.loads(again.stdout)
    assert {j["rule"] for j in replanned["jobs"] if j["estimate_usd"] > 0 and not j["worst_case"]} == {"generate_clip"}
    assert replanned["total_usd"] == pytest.approx(2 * CLIP_PRICE)
    assert replanned["worst_case_usd"] == pytest.approx(4 * CLIP_PRICE)

    # What the cache holds is not paid again: a fresh folder, and an edit that was reverted.
    fresh = subprocess.run([CLI, "plan", "--json", "-d", str(priced / "fresh"), *PRICED], capture_output=True, text=True, cwd=REPO)
    fresh_plan = json.loads(fresh.stdout)
    assert fresh_plan["total_usd"] == 0 and any(j["cached"] for j in fresh_plan["jobs"])
    original = edit_action(work, "She slams the door")
    build(work)
    edit_action(work, original)
    revert = json.loads(subprocess.run([CLI, "plan", "--json", "-d", str(work), *PRICED], capture_output=True,
                                       text=True, cwd=REPO).stdout)
    clip = next(j for j in revert["jobs"] if j["rule"] == "generate_clip")
    assert clip["cached"] and revert["total_usd"] == 0


def test_sweep_pays_the_writer_once(priced):
    work = priced / "work"
    work.mkdir()
    fixed = [o for o in PRICED if not o.startswith(("video=", "render="))]
    proc = subprocess.run([CLI, "sweep", "-d", str(work), *fixed, "video=fake_paid,still", "render=480p,720p"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    steps = [c["step"] for c in calls(priced)]
    assert steps.count("outline") == 1 and steps.count("episode_script") == 1
    assert steps.count("clip") == 4, "fake_paid clips at two resolutions; `still` clips are free and unbilled"
    sweeps = work / "results/demo/sweeps"
    points = sorted(p.name for p in sweeps.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert points == ["video-fake-paid_render-480p", "video-fake-paid_render-720p",
                      "video-still_render-480p", "video-still_render-720p"]
    for point in points:
        assert (sweeps / point / "episode_01_final.mp4").exists()
    import csv

    rows = list(csv.DictReader((sweeps / "comparison.csv").read_text().splitlines()))
    cost = {row["point"]: float(row["cost_usd"]) for row in rows}
    # The writer is paid by the first point only; a 3 s clip bills 5 s: $0.25 at 480p, $0.50 at 720p.
    assert cost == pytest.approx({"video-fake-paid_render-480p": 2 * LLM_PRICE + 2 * CLIP_PRICE,
                                  "video-fake-paid_render-720p": 4 * CLIP_PRICE,
                                  "video-still_render-480p": 0.0, "video-still_render-720p": 0.0})
    assert {row["point"]: int(row["clips_generated"]) for row in rows}["video-fake-paid_render-720p"] == 2
    assert "video=fake_paid render=720p" in (sweeps / "comparison.md").read_text()
    # The series cap counts the whole sweep: every paid call of every point is in the sweep's purse.
    assert Ledger(sweeps / "ledger.jsonl").spent() == pytest.approx(sum(cost.values()))
