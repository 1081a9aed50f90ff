"""A clip that carries its own sound (video.own_audio) through the real build against a fake Kling on
127.0.0.1: the clips are asked with `sound: "on"`, each scene's dialogue track is its clip's sound, the
subtitles sit on the speech the clip holds, the episode's QC checks that track, and nothing is spoken by
a voice."""

import json

import numpy as np
import pytest

from builds import run_snakemake
from fakes.kling_server import FakeKling
from fakes.vendor_base import Outcome
from shortdrama.audio.wav import decode_audio
from shortdrama.media import probe, read_subtitles

pytestmark = pytest.mark.slow

ACCESS, SECRET = "ak-sound-4c1d2e3f5a", "sk-sound-7b8c9d0e1f"
OWN = ["video=kling", "video.model=kling-v2-6", "video.options.mode=pro", "video.own_audio=true", "video.fallback=null",
       "render=480p", "series.episodes=1", "series.scenes_per_episode.min=2", "series.scenes_per_episode.max=2",
       "series.scene_duration.min=4", "series.scene_duration.max=4", "video.poll_interval_s=0.05"]


def test_the_clips_own_sound_is_the_dialogue_and_the_subtitles_sit_on_its_speech(tmp_path, monkeypatch):
    monkeypatch.setenv("KLING_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("KLING_SECRET_KEY", SECRET)
    monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "work"
    with FakeKling(access_key=ACCESS, secret_key=SECRET, default=Outcome(pending_polls=1)) as kling:
        run_snakemake(work, f"overrides={json.dumps([*OWN, f'video.base_url={kling.base_url}'])}")
        assert kling.submissions and all(t.body.get("sound") == "on" and t.body["mode"] == "pro"
                                         for t in kling.submissions)
    ep = work / "results/demo/ep01"
    script = json.loads((ep / "script.json").read_text())
    for n, scene in enumerate(script["scenes"], 1):
        clip = ep / f"clips/sc{n:02d}.mp4"
        assert probe(clip).first("audio") is not None, "the chosen clip keeps its sound"
        track, rate = decode_audio(ep / f"audio/sc{n:02d}.wav")
        assert rate == 48000 and track.size == pytest.approx(scene["duration"] * rate, abs=rate * 0.05)
        quiet, speech = track[: int(0.25 * rate)], track[int(0.4 * rate): int(1.3 * rate)]
        assert np.abs(quiet).max() < 0.01 and np.sqrt(np.mean(speech ** 2)) > 0.1, "the clip's phrases, from 0.3 s"
        spectrum = np.abs(np.fft.rfft(speech))
        assert abs(np.fft.rfftfreq(speech.size, 1 / rate)[spectrum.argmax()] - 220) < 5, "its voice, not eSpeak's"
        cues = [c for c in json.loads((ep / f"audio/sc{n:02d}.cues.json").read_text()) if not c.get("dropped")]
        spoken = [line["text"] for line in scene["dialogue"] if any(ch.isalnum() for ch in line["text"])]
        assert [c["text"] for c in cues] == spoken
        if cues:
            assert cues[0]["start"] == pytest.approx(0.3, abs=0.05), "the first cue starts where the clip speaks"
            assert all(a["end"] <= b["start"] + 1e-6 for a, b in zip(cues, cues[1:]))
    final = work / "results/demo/episode_01_final.mp4"
    heard = [text for _, _, text in read_subtitles(final)]
    assert heard == [line["text"] for s in script["scenes"] for line in s["dialogue"]
                     if any(ch.isalnum() for ch in line["text"])]
    report = json.loads((work / "results/demo/episode_01.qc.json").read_text())
    assert report["passed"] and report["flags"] == [], "the clip's sound passes the checks every dialogue track gets"
    log = "".join(p.read_text() for p in (work / "logs/demo/ep01/speak_dialogue").glob("*.log"))
    assert "espeak" not in log.lower()
