"""Platform delivery through the real build: each preset's package obeys its own limits (frame, rate,
duration, size, loudness, captions above its interface), carries a cover and the description from the
outline, and changing the platform reruns only the delivery jobs."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from builds import TINY, jobs_run
from shortdrama.config import load_config
from shortdrama.media import probe

pytestmark = pytest.mark.slow

CLI = str(Path(sys.executable).with_name("shortdrama"))


def build(work: Path, overrides: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "build", "-d", str(work), "--cores", "2", *overrides], capture_output=True, text=True)




def test_each_platform_package_obeys_its_limits_and_a_new_platform_reruns_only_delivery(tmp_path, monkeypatch):
    monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "work"
    fast = ["deliver.preset=ultrafast"]  # x264's speed only: every limit is the preset's own
    first = build(work, [*TINY, "deliver=tiktok", *fast])
    assert first.returncode == 0, first.stderr[-3000:]
    outline = json.loads((work / "results/demo/outline.json").read_text())
    script = json.loads((work / "results/demo/ep01/script.json").read_text())
    final = probe(work / "results/demo/episode_01_final.mp4")
    for platform in ("tiktok", "youtube_shorts", "douyin", "kuaishou"):
        if platform != "tiktok":
            again = build(work, [*TINY, f"deliver={platform}", *fast])
            assert again.returncode == 0, again.stderr[-3000:]
            assert jobs_run(again) == Counter({"record_config": 1, "deliver_episode": 1}), \
                "a new platform reruns the delivery only (and the config's record)"
        limits = load_config([*TINY, f"deliver={platform}", *fast]).deliver
        folder = work / "results/demo/deliver" / platform
        info = probe(folder / "episode_01.mp4")
        video = info.first("video")
        assert (video.codec, video.width, video.height, round(video.fps)) == ("h264", limits.width, limits.height,
                                                                            limits.fps)
        assert info.duration == pytest.approx(final.duration, abs=0.1)
        report = json.loads((folder / "episode_01.qc.json").read_text())
        assert report["passed"], report["flags"]
        measured = report["measured"]
        assert abs(measured["integrated_lufs"] - limits.loudness_lufs) <= 1.0 and measured["true_peak_dbtp"] <= -1.0
        assert limits.max_bytes is None or measured["bytes"] <= limits.max_bytes  # max_mb in bytes
        assert measured["captions"] and all(c["bottom"] < limits.height * (1 - limits.bottom_ui)
                                            for c in measured["captions"])
        with Image.open(folder / "episode_01_cover.jpg") as cover:
            assert cover.size == (limits.cover_width, limits.cover_height)
        text = (folder / "episode_01.txt").read_text()
        episode = outline["episodes"][0]
        assert script["title"] in text and episode["hook"] in text and episode["cliffhanger"] in text
    assert (work / "results/demo/deliver/tiktok/episode_01.mp4").exists(), "the earlier platform's package is kept"
    qc = subprocess.run([CLI, "qc", "-d", str(work), *TINY, "deliver=kuaishou", *fast], capture_output=True, text=True)
    assert qc.returncode in (0, 1) and "kuaishou" not in qc.stdout, "the package passed: nothing of it is listed"
    (work / "results/demo/deliver/kuaishou/episode_01.qc.json").unlink()
    missing = subprocess.run([CLI, "qc", "-d", str(work), *TINY, "deliver=kuaishou", *fast], capture_output=True,
                             text=True)
    assert missing.returncode == 2 and "no delivery report" in missing.stderr, "shortdrama qc reads the package's report"
