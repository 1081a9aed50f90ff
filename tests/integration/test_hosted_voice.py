"""A hosted voice through the real build: an OpenAI-compatible speech server on 127.0.0.1 (the fake speaks
OpenAI's route, auth and error shapes). Every line is one cached, priced call; a rebuild asks nothing;
recasting one character asks again only for that character's lines and moves only that character's
subtitle cues to the new speech; the casting is written down."""

import json
import subprocess
from collections import Counter
import sys
from pathlib import Path

import pytest

from builds import TINY, jobs_run
from fakes.speech_server import FakeSpeech
from shortdrama.cost.ledger import Ledger
from shortdrama.media import read_subtitles

pytestmark = pytest.mark.slow

KEY = "sk-speech-build-4410"
CLI = str(Path(sys.executable).with_name("shortdrama"))


def build(work: Path, overrides: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "build", "-d", str(work), "--cores", "2", *overrides], capture_output=True, text=True)


def test_each_line_is_bought_once_and_a_recast_asks_only_that_characters_lines(tmp_path, monkeypatch):
    monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
    with FakeSpeech(api_key=KEY) as speech:
        overrides = [*TINY, "voice=openai_tts", f"voice.base_url={speech.base_url}"]
        work = tmp_path / "work"
        missing = build(work, overrides)  # no key: one line, nothing sent
        assert missing.returncode == 2 and "OPENAI_API_KEY" in missing.stderr and speech.bodies == []

        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        built = build(work, overrides)
        assert built.returncode == 0, built.stderr[-3000:]
        script = json.loads((work / "results/demo/ep01/script.json").read_text())
        said = [(line["speaker"], line["text"]) for scene in script["scenes"] for line in scene["dialogue"]]
        spoken = set(said)
        asked = [body["input"] for body in speech.bodies]
        assert sorted(asked) == sorted(text for _, text in said), "every line asked for once (a line sped up to fit is not bought again)"
        lines = [e for e in Ledger(work / "results/demo/ledger.jsonl").entries() if e.step == "speech_line"]
        assert len(lines) == len(speech.bodies) and all(e.cost_usd > 0 for e in lines)
        assert sorted(e.characters for e in lines) == sorted(len(b["input"]) for b in speech.bodies), \
            "the ledger says what each line was billed by"
        cues = json.loads((work / "results/demo/ep01/audio/sc01.cues.json").read_text())
        assert cues and all(c["end"] > c["start"] for c in cues if not c.get("dropped"))
        voices = {body["voice"] for body in speech.bodies}
        assert len(voices) == len({speaker for speaker, _ in spoken}), "one voice per character"

        before = len(speech.bodies)
        assert build(work, overrides).returncode == 0 and len(speech.bodies) == before, "a rebuild asks nothing"

        speaker = sorted(spoken)[0][0]
        cid = next(cid for cid, c in _cast(work, overrides).items() if c == speaker)
        recorded = json.loads((work / "results/demo/voices.json").read_text())["openai_speech"]
        assert set(recorded) == set(_cast(work, overrides)), "every character's casting is written down"
        final = work / "results/demo/episode_01_final.mp4"
        cues_before = {text: end - start for start, end, text in read_subtitles(final)}
        speech.voice_pace["ballad"] = 0.6  # the new voice speaks faster than the old one
        recast = build(work, [*overrides, f"+series.cast.{cid}.voice.openai_speech.id=ballad"])
        assert recast.returncode == 0, recast.stderr[-3000:]
        new = speech.bodies[before:]
        assert new and {b["voice"] for b in new} == {"ballad"}, "only the recast character's lines are asked"
        speaking_scenes = sum(1 for scene in script["scenes"] if any(l["speaker"] == speaker for l in scene["dialogue"]))
        assert jobs_run(recast) == Counter({"record_config": 1, "speak_dialogue": speaking_scenes, "write_subtitles": 1,
                                            "mix_episode_audio": 1, "render_episode": 1, "check_episode": 1,
                                            "write_timeline": 1}), \
            "only the scenes where the recast character speaks, and their episode's mix and render"
        assert sorted(b["input"] for b in new) == sorted(text for who, text in said if who == speaker)
        # The subtitles follow the new speech: the recast character's cues are shorter, the others' are not.
        cues_after = {text: end - start for start, end, text in read_subtitles(final)}
        assert set(cues_after) == set(cues_before)
        for who, text in said:
            if who == speaker:
                assert cues_after[text] < cues_before[text] - 0.1, f"{text!r} kept its old timing"
            else:
                assert abs(cues_after[text] - cues_before[text]) < 0.05, f"{text!r} changed though its voice did not"




def _cast(work: Path, overrides: list[str]) -> dict[str, str]:
    from shortdrama.config import load_config

    return {cid: c.name for cid, c in load_config(overrides).series.cast.items()}


def test_plan_prices_only_the_lines_the_cache_does_not_hold(tmp_path, monkeypatch):
    from shortdrama.config import load_config
    from shortdrama.cost.call import Runtime
    from shortdrama.stages.registry import rule
    from shortdrama.workflow import Workflow

    monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeSpeech(api_key=KEY) as speech:
        overrides = [*TINY, "voice=openai_tts", f"voice.base_url={speech.base_url}"]
        work = tmp_path / "work"
        assert build(work, overrides).returncode == 0
        cfg = load_config(overrides)
        wf = Workflow(cfg, overrides, checkout=Path(__file__).resolve().parents[2], workdir=work)
        runtime = Runtime.from_config(cfg, work / "results/demo", tmp_path / "cache")
        script = wf.paths.script("01")
        jobs = [j for j in wf.episode_jobs(script) if j.rule == "speak_dialogue"]
        assert jobs and all(rule("speak_dialogue").price(j, runtime).estimate_usd == 0 for j in jobs), \
            "every line is in the cache: nothing to buy"
        said = json.loads((work / script).read_text())["scenes"]
        speaker = said[0]["dialogue"][0]["speaker"]
        cid = next(cid for cid, c in cfg.series.cast.items() if c.name == speaker)
        recast = load_config([*overrides, f"+series.cast.{cid}.voice.openai_speech.id=ballad"])
        wf = Workflow(recast, overrides, checkout=Path(__file__).resolve().parents[2], workdir=work)
        owed = {j.scene: rule("speak_dialogue").price(j, runtime).estimate_usd
                for j in wf.episode_jobs(script) if j.rule == "speak_dialogue"}
        assert owed[1] > 0
        for scene, estimate in owed.items():
            lines = [d for d in said[scene - 1]["dialogue"] if d["speaker"] == speaker]
            expected = sum(len(d["text"]) for d in lines) * recast.voice.pricing.per_1k_chars / 1000
            assert estimate == pytest.approx(expected), f"scene {scene}: only {speaker}'s lines are priced"
