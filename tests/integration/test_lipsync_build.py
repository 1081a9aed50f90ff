"""Lip-sync through the real build against a fake fal queue on 127.0.0.1: no key, nothing sent; a build
killed while its sync jobs are polled resumes them without a second submission; the final shows the synced
clips in exactly the scenes where someone on screen speaks; a changed line resyncs only its scene."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from builds import TINY, run_snakemake
from fakes.fal_lipsync_server import SYNCED, FakeFalLipsync
from fakes.vendor_base import Outcome
from shortdrama.cost.ledger import Ledger
from shortdrama.schemas import Scene
from shortdrama.stages.lipsync import speaks_on_screen

pytestmark = pytest.mark.slow

KEY = "fal-lipsync-build:4c1d"
CLI = str(Path(sys.executable).with_name("shortdrama"))


def build(work: Path, overrides: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "build", "-d", str(work), "--cores", "2", *overrides], capture_output=True, text=True)


def top_colour(final: Path, at: float) -> np.ndarray:
    """The mean colour of the top third of the frame at `at` s (burned subtitles sit lower)."""
    with av.open(str(final)) as container:
        frame = next(f for f in container.decode(video=0) if f.time >= at).to_ndarray(format="rgb24")
    return frame[: frame.shape[0] // 3].reshape(-1, 3).mean(axis=0)


def test_lipsync_resumes_after_a_kill_syncs_only_speaking_scenes_and_a_changed_line_resyncs_its_scene(
        tmp_path, monkeypatch):
    monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("FAL_KEY", raising=False)
    with FakeFalLipsync(api_key=KEY, default=Outcome(pending_polls=40)) as fal:
        overrides = [*TINY, "lipsync=fal_sync", f"lipsync.base_url={fal.base_url}", "lipsync.poll_interval_s=0.05",
                     "lipsync.poll_first_s=0.05"]
        work = tmp_path / "work"
        missing = build(work, overrides)
        assert missing.returncode == 2 and "FAL_KEY" in missing.stderr and fal.requests == []

        monkeypatch.setenv("FAL_KEY", KEY)
        killed = subprocess.Popen([CLI, "build", "-d", str(work), "--cores", "2", *overrides], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True, env={**os.environ})
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not (fal.submissions and len(fal.polls) >= 3):
            time.sleep(0.05)
        assert fal.submissions, "the build never submitted a lip-sync job"
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
        before_kill = {job.id for job in fal.submissions}
        run_snakemake(work, extra=("--unlock",))  # a killed Snakemake leaves its lock behind

        built = build(work, overrides)
        assert built.returncode == 0, built.stderr[-3000:]
        script = json.loads((work / "results/demo/ep01/script.json").read_text())
        scenes = [Scene.model_validate(s) for s in script["scenes"]]
        speaking = [n for n, scene in enumerate(scenes, 1) if speaks_on_screen(scene)]
        assert speaking, "the tiny demo has a scene where someone on screen speaks"
        assert len(fal.submissions) == len(speaking), "one job per speaking scene; the killed ones were resumed"
        assert before_kill <= {job.id for job in fal.submissions}
        for n in speaking:  # what was sent is the scene's chosen clip and its dialogue track
            sent = [fal.received[job.id] for job in fal.submissions]
            assert (work / f"results/demo/ep01/audio/sc{n:02d}.wav").read_bytes() in [audio for _, audio in sent]
        synced = [e for e in Ledger(work / "results/demo/ledger.jsonl").entries() if e.step == "lipsync"]
        assert len(synced) == len(speaking) and all(e.cost_usd > 0 for e in synced)
        assert sorted(e.seconds for e in synced) == sorted(scenes[n - 1].duration for n in speaking), "seconds billed"

        final = work / "results/demo/episode_01_final.mp4"
        starts = np.cumsum([0.0] + [s.duration for s in scenes])
        green = np.array([int(SYNCED[i:i + 2], 16) for i in (0, 2, 4)])
        for n, scene in enumerate(scenes, 1):
            colour = top_colour(final, starts[n - 1] + scene.duration / 2)
            assert (np.abs(colour - green).max() < 20) == (n in speaking), f"scene {n}: {colour}"

        # One line changed by hand: only its scene is sent again.
        n = speaking[0]
        script["scenes"][n - 1]["dialogue"][0]["text"] = "I kept every letter you never sent."
        (work / "results/demo/ep01/script.json").write_text(json.dumps(script, ensure_ascii=False, indent=2))
        submitted = len(fal.submissions)
        again = build(work, overrides)
        assert again.returncode == 0, again.stderr[-3000:]
        new = fal.submissions[submitted:]
        assert len(new) == 1, "only the changed scene is synced again"
        assert fal.received[new[0].id][1] == (work / f"results/demo/ep01/audio/sc{n:02d}.wav").read_bytes()
