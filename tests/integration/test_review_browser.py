"""The review loop in a real browser: Debian's Chromium driven by Playwright against `shortdrama review
--serve` (the real CLI) over a tiny series whose clips a fake hosted gateway on 127.0.0.1 sells.

A pick in the page is written to the decisions file, and the rebuild the page starts reruns only that
scene's choice and its episode's render and check, pays nothing, and the final shows the picked take;
a retake asked in the page is one paid call whose request carries the note; a dialogue line edited in
the page reruns only that line's voice, the subtitles, the mix, the render and its check. The static
page opens from disk with no console error and every take and the final play. A screenshot of the
served page is kept under the test's temp dir.

Skipped where no Chromium is installed, except in CI (`SHORTDRAMA_REQUIRE_CHROMIUM=1`, .ci/run installs
Debian's `chromium` first)."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from fakes.video_server import FakeVideoServer, Script
from test_qc import CLI, KEY, SERIES, build, paid, prompts
from test_review import written  # noqa: F401 - the module's written series (a fixture)
from shortdrama.config import load_config
from shortdrama.stages.clips import ClipSpec
from shortdrama.workflow import Workflow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("SHORTDRAMA_REQUIRE_CHROMIUM") != "1",
    reason="needs Debian's chromium (apt-get install chromium); .ci/run installs it")]

CLIPS = "results/demo/ep01/clips"
PICKED_COLOUR = (0x30, 0x50, 0xA0)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "SHORTDRAMA_REQUIRE_CHROMIUM=1 but no chromium on PATH"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def served(tmp_path, monkeypatch, written):  # noqa: F811 - the fixture imported above
    """A built series with two takes per scene, and `shortdrama review --serve` on it."""
    script = Script()
    with FakeVideoServer(script, api_key=KEY) as gateway:
        monkeypatch.setenv("VIDEO_GATEWAY_API_KEY", KEY)
        monkeypatch.setenv("VIDEO_GATEWAY_URL", gateway.base_url)
        monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
        decisions = tmp_path / "decisions.yaml"
        work, overrides = tmp_path / "work", [*SERIES, "takes=2", f"review.decisions={decisions}"]
        scene_prompts = prompts(written, work, overrides)
        cfg = load_config(overrides)
        wf = Workflow(cfg, overrides, workdir=work)
        second = ClipSpec.of(cfg, wf.scene(wf.paths.script("01"), "01"), 2).seed
        script.colour_for = lambda body: ("%02x%02x%02x" % PICKED_COLOUR if body.get("prompt") == scene_prompts[0]
                                          and body.get("seed") == second else None)
        built = build(work, overrides)
        assert built.returncode == 0, built.stderr[-3000:]
        assert json.loads((work / CLIPS / "sc01.selection.json").read_text())["chosen"] == 1
        server = subprocess.Popen([CLI, "review", "--serve", "-d", str(work), *overrides],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            url = _served_url(server)
            yield {"url": url, "work": work, "decisions": decisions, "gateway": gateway, "overrides": overrides,
                   "prompts": scene_prompts}
        finally:
            server.terminate()
            server.wait(timeout=30)


def _served_url(server: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if line.strip().startswith("http://127.0.0.1:"):
            return line.strip()
        if not line and server.poll() is not None:
            raise AssertionError(f"review --serve exited: {server.stderr.read()[-2000:]}")
    raise AssertionError("review --serve printed no address")


def rebuild(page, base: str, work: Path) -> list[str]:
    """Start the page's rebuild with its button; its progress shows in the page, which reloads when the
    build ends. Returns the rules the build ran."""
    with page.expect_navigation(timeout=300_000):
        page.click('button[data-action="rebuild"]')
        page.wait_for_selector('#rebuild-status[data-state="running"]', timeout=60_000)
        assert "rebuilding" in page.inner_text("#rebuild-text")
    page.wait_for_load_state()
    status = page.request.get(f"{base}/api/rebuild").json()
    log = (work / "results/demo/review/rebuild.log").read_text()
    assert status.get("state") == "ok" and status.get("returncode") == 0, log[-3000:]
    return sorted(line.split()[2] for line in log.splitlines() if line.startswith("shortdrama: done "))


def wait_for(predicate, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def frame_rgb(path: Path, at: float) -> np.ndarray:
    with av.open(str(path)) as container:
        frame = next(f for f in container.decode(video=0) if f.time >= at)
        return frame.to_ndarray(format="rgb24")


def test_pick_retake_and_edit_in_the_served_page_rebuild_exactly_what_they_change(served, browser, tmp_path):
    work, gateway, decisions = served["work"], served["gateway"], served["decisions"]
    base = served["url"].split("/review/")[0]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served["url"])
    page.wait_for_selector('button[data-action="pick"][data-ep="01"][data-sc="01"][data-take="2"]')
    page.screenshot(path=str(tmp_path / "review_page.png"), full_page=True)
    assert (tmp_path / "review_page.png").stat().st_size > 10_000
    submissions = len(gateway.submissions)
    assert submissions == 4

    # Pick take 2 of scene 1: the decisions file says so; the rebuild reruns the choice, the render and its check.
    page.click('button[data-action="pick"][data-ep="01"][data-sc="01"][data-take="2"]')
    wait_for(lambda: decisions.exists() and (yaml.safe_load(decisions.read_text()) or {}).get("ep01", {})
             .get("sc01", {}).get("take") == 2, "the pick in the decisions file")
    assert rebuild(page, base, work) == ["check_episode", "choose_take", "render_episode", "write_timeline"]
    assert len(gateway.submissions) == submissions and len(paid(work)) == 4, "a pick pays nothing"
    assert (work / CLIPS / "sc01.mp4").read_bytes() == (work / CLIPS / "sc01/take02.mp4").read_bytes()
    shown = frame_rgb(work / "results/demo/episode_01_final.mp4", 1.0)[:200].reshape(-1, 3).mean(axis=0)
    assert np.abs(shown - PICKED_COLOUR).max() < 16, "the final's scene 1 is take 2"
    assert page.locator('button.picked[data-ep="01"][data-sc="01"][data-take="2"]').count() == 1

    # A retake of scene 2 with a note: exactly one paid call, and its request carries the note.
    note = "hold on her face as she reads"
    page.fill('textarea[data-action="retake-note"][data-ep="01"][data-sc="02"]', note)
    page.click('button[data-action="retake"][data-ep="01"][data-sc="02"]')
    wait_for(lambda: note in decisions.read_text(), "the note in the decisions file")
    assert rebuild(page, base, work) == ["check_episode", "choose_take", "generate_clip", "render_episode",
                                         "write_timeline"]
    assert len(gateway.submissions) == submissions + 1 and len(paid(work)) == 5
    assert note in gateway.submissions[-1].body["prompt"]

    # One dialogue line edited: only its voice, the subtitles, the mix, the render and its check rerun.
    script_path = work / "results/demo/ep01/script.json"
    line = 'input[data-action="edit-line"][data-ep="01"][data-sc="01"][data-line="0"]'
    new_text = "I will not sign it, not today."
    page.fill(line, new_text)
    page.click('button[data-action="save-line"][data-ep="01"][data-sc="01"][data-line="0"]')
    wait_for(lambda: new_text in script_path.read_text(encoding="utf-8"), "the edit in script.json")
    assert json.loads(script_path.read_text())["scenes"][0]["dialogue"][0]["text"] == new_text
    assert rebuild(page, base, work) == ["check_episode", "mix_episode_audio", "render_episode", "speak_dialogue",
                                         "write_subtitles", "write_timeline"]
    assert "speak_dialogue ep01 sc01" in (work / "results/demo/review/rebuild.log").read_text()
    assert new_text in (work / "results/demo/episode_01.srt").read_text(encoding="utf-8")
    assert len(gateway.submissions) == submissions + 1
    page.screenshot(path=str(tmp_path / "review_page_after.png"), full_page=True)
    assert errors == [], errors

    # The static page, from disk: no console error, and every take and the final play.
    static = subprocess.run([CLI, "review", "-d", str(work), *served["overrides"]], capture_output=True, text=True)
    assert static.returncode == 0, static.stderr
    disk = browser.new_page()
    console: list[str] = []
    disk.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
    disk.on("pageerror", lambda error: console.append(str(error)))
    disk.goto(Path(static.stdout.strip()).as_uri())
    durations = disk.evaluate("""() => Promise.all([...document.querySelectorAll('video')].map(v =>
        new Promise(done => {
          if (v.readyState >= 1) return done(v.duration);
          v.addEventListener('loadedmetadata', () => done(v.duration));
          v.addEventListener('error', () => done(-1));
          v.preload = 'metadata'; v.load();
        })))""")
    takes = len(list((work / CLIPS).glob("sc*/take*.mp4")))
    assert len(durations) >= takes + 1 and all(d > 0 for d in durations), durations
    disk.wait_for_timeout(500)
    assert console == [], console
