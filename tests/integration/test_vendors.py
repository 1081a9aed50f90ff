"""A series built through a vendor-native video API: the real Snakemake build talking to a fake Kling
on 127.0.0.1, with the ledger taking the vendor's own cost figure and both keys kept out of every file."""

import json

import pytest

from builds import run_snakemake
from fakes.kling_server import FakeKling
from fakes.vendor_base import Outcome
from shortdrama.cost.ledger import Ledger
from shortdrama.media import probe

pytestmark = pytest.mark.slow

ACCESS, SECRET = "ak-sentinel-4c1d2e3f5a", "sk-sentinel-7b8c9d0e1f"
KLING = ["video=kling", "render=480p", "series.episodes=1", "series.scenes_per_episode.min=2",
         "series.scenes_per_episode.max=2", "series.scene_duration.min=3", "series.scene_duration.max=3",
         "video.poll_interval_s=0.05", "video.fallback.poll_interval_s=0.05"]


def test_a_series_through_kling_pays_each_clip_once_at_the_reported_units(tmp_path, monkeypatch):
    monkeypatch.setenv("KLING_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("KLING_SECRET_KEY", SECRET)
    monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "work"
    with FakeKling(access_key=ACCESS, secret_key=SECRET, default=Outcome(pending_polls=2, units=2.0)) as kling:
        overrides = f"overrides={json.dumps([*KLING, f'video.base_url={kling.base_url}'])}"
        run_snakemake(work, overrides)
        script = json.loads((work / "results/demo/ep01/script.json").read_text())
        final = work / "results/demo/episode_01_final.mp4"
        assert probe(final).duration == pytest.approx(sum(s["duration"] for s in script["scenes"]), abs=0.25)
        assert len(kling.submissions) == len(script["scenes"]) == 2
        assert all(t.body["duration"] == "5" and t.body["model_name"] == "kling-v2-1" for t in kling.submissions)
        assert not kling.auth_failures

        run_snakemake(work, overrides)  # nothing is out of date: nothing is submitted again
        assert len(kling.submissions) == 2

    clips = [e for e in Ledger(work / "results/demo/ledger.jsonl").entries() if e.step == "clip"]
    assert [e.cost_usd for e in clips] == pytest.approx([0.28, 0.28]), "2 units reported x $0.14 per unit"
    assert all(e.provider == "kling" and e.message == "kling reported 2 units" for e in clips)
    assert all(e.estimate_usd == pytest.approx(0.21) for e in clips), "the estimate: 5 s x $0.042"
    for folder in (work / "results", work / "logs", work / ".snakemake", tmp_path / "cache"):
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert ACCESS.encode() not in data and SECRET.encode() not in data, f"a key leaked into {path}"
