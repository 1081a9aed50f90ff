"""Takes, retakes and automated QC through the real Snakemake build, with the video made by a fake
hosted gateway on 127.0.0.1 that can serve a black take for one scene's first take (a real failure of
hosted models). The fake is image-to-video: a clip starts on the keyframe the request carried."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from builds import run_snakemake
from fakes.video_server import FakeVideoServer, Script
from shortdrama.config import load_config
from shortdrama.cost.ledger import Ledger
from shortdrama.stages.clips import ClipSpec
from shortdrama.workflow import Workflow

pytestmark = pytest.mark.slow

KEY = "sk-video-test-qc-0123"
CLI = str(Path(sys.executable).with_name("shortdrama"))
SERIES = ["video=gateway_kling", "render=480p", "series.episodes=1", "series.scenes_per_episode.min=2",
          "series.scenes_per_episode.max=2", "series.scene_duration.min=3", "series.scene_duration.max=3",
          "video.poll_interval_s=0.05", "video.poll_first_s=0.05", "video.fallback.poll_interval_s=0.05"]
CLIP_PRICE = 0.5  # kling-v1-6 through the gateway: a 3 s scene is bought as 5 s x $0.10


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """The series' outline and script, written once (the writer's spec has no takes, qc or budget in it:
    each test continues from a copy, and reads its scenes' prompts from the script)."""
    work = tmp_path_factory.mktemp("qc-written") / "work"
    with pytest.MonkeyPatch.context() as env:  # the key is checked before any job; no clip is asked for
        env.setenv("VIDEO_GATEWAY_API_KEY", KEY)
        env.setenv("VIDEO_GATEWAY_URL", "http://127.0.0.1:9/v1")
        # (The build's closing check then says the rest is missing: expected, hence check=False.)
        run_snakemake(work, f"overrides={json.dumps(SERIES)}", extra=("--until", "write_episode_script"), check=False)
    assert (work / "results/demo/ep01/script.json").is_file()
    return work


@pytest.fixture
def gateway(tmp_path, monkeypatch):
    """The fake gateway, a private cache, and the scene prompts the series will ask for (the offline
    writer is deterministic: its scripts are written first, then the prompts read from them)."""
    script = Script()
    with FakeVideoServer(script, api_key=KEY) as server:
        monkeypatch.setenv("VIDEO_GATEWAY_API_KEY", KEY)
        monkeypatch.setenv("VIDEO_GATEWAY_URL", server.base_url)
        monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
        yield server, script


def prompts(written: Path, work: Path, overrides: list[str]) -> list[str]:
    """A copy of the written series in `work`, and each scene's clip prompt (no clip is bought)."""
    shutil.copytree(written, work, symlinks=True)
    wf = Workflow(load_config(overrides), overrides, workdir=work)
    path = wf.paths.script("01")
    return [ClipSpec.of(wf.cfg, wf.scene(path, sc)).prompt for sc in wf.scene_ids(path)]


def black_for(prompt: str, seeds: set[int]):
    return lambda body: "000000" if body.get("prompt") == prompt and body.get("seed") in seeds else None


def build(work: Path, overrides: list[str], *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "build", "-d", str(work), "--cores", "2", *overrides, *extra],
                          capture_output=True, text=True)


def paid(work: Path) -> list:
    return [e for e in Ledger(work / "results/demo/ledger.jsonl").entries() if e.step == "clip" and e.cache == "miss"
            and e.outcome == "ok"]


def mean_luma(path: Path, at: float) -> float:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= at:
                return float(np.asarray(frame.to_ndarray(format="gray")).mean())
    raise AssertionError(f"{path} has no frame at {at} s")


def qc_report(work: Path, overrides: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "qc", "-d", str(work), *overrides], capture_output=True, text=True)


def test_black_first_take_is_retaken_once_and_the_final_uses_the_retake(tmp_path, gateway, written):
    server, script = gateway
    work, overrides = tmp_path / "work", [*SERIES, "takes=1", "qc.retakes=1"]
    scene_prompts = prompts(written, work, overrides)
    script.colour_for = black_for(scene_prompts[1], {7})  # scene 2's first take (the series seed) is black
    proc = build(work, overrides)
    assert proc.returncode == 0, proc.stderr[-3000:]

    bought = paid(work)
    assert sorted((e.scene, e.take) for e in bought) == [(1, 1), (2, 1), (2, 2)], "one retake, for scene 2 only"
    assert len(server.submissions) == 3
    selection = json.loads((work / "results/demo/ep01/clips/sc02.selection.json").read_text())
    assert (selection["chosen"], selection["retake"], selection["flagged"]) == (2, True, False)
    assert selection["takes"][0]["flags"][0]["check"] == "black"
    assert "take 1: black" in selection["reason"] or "take 1:" in selection["reason"]
    final = work / "results/demo/episode_01_final.mp4"
    assert mean_luma(final, 3.0 + 1.5) > 30, "the final's scene 2 is the retake, not the black take"
    assert mean_luma(work / "results/demo/ep01/clips/sc02/take01.mp4", 1.5) < 5
    assert qc_report(work, overrides).returncode == 0

    again = build(work, overrides)
    assert again.returncode == 0 and len(server.submissions) == 3 and len(paid(work)) == 3, "a rerun buys nothing"


def test_retake_over_budget_is_not_bought_and_the_scene_is_flagged(tmp_path, gateway, written):
    server, script = gateway
    work = tmp_path / "work"
    overrides = [*SERIES, "takes=1", "qc.retakes=1", f"budget.series_usd={2 * CLIP_PRICE + 0.2}"]
    scene_prompts = prompts(written, work, overrides)
    script.colour_for = black_for(scene_prompts[1], {7})
    proc = build(work, overrides)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(server.submissions) == 2 and len(paid(work)) == 2, "the retake would pass the cap: not bought"
    spent = sum(e.cost_usd for e in Ledger(work / "results/demo/ledger.jsonl").entries())
    assert spent <= 2 * CLIP_PRICE + 0.2
    selection = json.loads((work / "results/demo/ep01/clips/sc02.selection.json").read_text())
    assert selection["flagged"] and "not bought" in selection["notes"][0]
    report = qc_report(work, overrides)
    assert report.returncode == 1
    line = next(line for line in report.stdout.splitlines() if " black " in line)
    assert line.split()[:3] == ["01", "02", "01"] and "00:00:03.000" in line, report.stdout

    # qc.on_fail=stop: the same scene now stops the build with one line; nothing more is bought.
    stop = build(work, [*overrides, "qc.on_fail=stop"])
    assert stop.returncode != 0 and len(server.submissions) == 2
    assert any("every take of ep01 sc02 fails its checks" in line and "qc.on_fail=stop" in line
               for line in stop.stderr.splitlines()), stop.stderr[-3000:]


def test_three_takes_best_used_noop_free_and_a_fourth_take_buys_one_per_scene(tmp_path, gateway, written):
    server, script = gateway
    work, overrides = tmp_path / "work", [*SERIES, "takes=3"]
    scene_prompts = prompts(written, work, overrides)
    # Scene 1's first take and scene 2's second are black: neither may be chosen.
    black = (black_for(scene_prompts[0], {7}), black_for(scene_prompts[1], {ClipSpec.of(
        load_config(overrides), _scene(work, overrides, "02"), 2).seed}))
    script.colour_for = lambda body: black[0](body) or black[1](body)
    proc = build(work, overrides)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(paid(work)) == 3 * 2 and len(server.submissions) == 6
    assert sorted((e.scene, e.take) for e in paid(work)) == [(s, t) for s in (1, 2) for t in (1, 2, 3)]
    selections = {sc: json.loads((work / f"results/demo/ep01/clips/sc{sc}.selection.json").read_text())
                  for sc in ("01", "02")}
    chosen = {sc: s["chosen"] for sc, s in selections.items()}
    assert chosen["01"] != 1 and chosen["02"] != 2
    for selection in selections.values():  # the best-scoring passing take, the earliest among equals
        best = max((t for t in selection["takes"] if t["passed"]), key=lambda t: (t["score"], -t["take"]))
        assert selection["chosen"] == best["take"] and not selection["flagged"]
    for sc, take in chosen.items():
        clip = (work / f"results/demo/ep01/clips/sc{sc}.mp4").read_bytes()
        assert clip == (work / f"results/demo/ep01/clips/sc{sc}/take{take:02d}.mp4").read_bytes()

    noop = build(work, overrides)
    assert noop.returncode == 0 and len(server.submissions) == 6, "a no-op rerun pays nothing"

    # A stricter limit re-judges the takes: only QC, the choice and what reads it rerun; nothing is bought.
    stricter = [*overrides, "qc.take.max_blur=7.0"]
    rejudged = build(work, stricter)
    assert rejudged.returncode == 0 and len(server.submissions) == 6
    assert "generate_clip" not in rejudged.stderr and "choose_take" in rejudged.stderr

    four = build(work, [*overrides, "takes=4"])
    assert four.returncode == 0, four.stderr[-3000:]
    assert len(server.submissions) == 8
    assert sorted((e.scene, e.take) for e in paid(work)) == [(s, t) for s in (1, 2) for t in (1, 2, 3, 4)]


def _scene(work: Path, overrides: list[str], sc: str):
    wf = Workflow(load_config(overrides), overrides, workdir=work)
    return wf.scene(wf.paths.script("01"), sc)


def done_rules(proc: subprocess.CompletedProcess) -> list[str]:
    return sorted(line.split()[2] for line in proc.stderr.splitlines() if line.startswith("shortdrama: done "))


def review_page(work: Path, overrides: list[str]) -> None:
    """`shortdrama review` writes a page whose every media file exists beside it, with scene 1's two takes,
    take 2 marked chosen and picked, take 1's QC flags seeking its player, and what each take cost."""
    from html.parser import HTMLParser

    proc = subprocess.run([CLI, "review", "-d", str(work), *overrides], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    page = Path(proc.stdout.strip())
    assert page == work / "results/demo/review/index.html"
    found: list[dict] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append({"tag": tag, **dict(attrs)})

    html = page.read_text(encoding="utf-8")
    Collect().feed(html)
    media = [e["src"] for e in found if e["tag"] in ("video", "img")]
    assert media and all((page.parent / src).is_file() for src in media), "the page opens from disk"
    takes = [e for e in found if e["tag"] == "figure" and "data-take" in e]
    assert [(t["data-take"], "chosen" in t["class"]) for t in takes[:2]] == [("1", False), ("2", True)]
    assert "take 2 picked by lin" in html and html.count("$0.50, seed") == 4, "each take's price"
    assert any(e["tag"] == "span" and e.get("class") == "flag" and e.get("data-seek") == "0.0" for e in found)
    import base64  # the track inline: a page opened from disk may not load one from another file

    track = next(e["src"] for e in found if e["tag"] == "track")
    vtt = base64.b64decode(track.split(",", 1)[1]).decode("utf-8")
    assert vtt.startswith("WEBVTT") and vtt == (page.parent / "assets/episode_01.vtt").read_text(encoding="utf-8")

