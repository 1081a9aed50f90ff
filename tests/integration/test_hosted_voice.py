"""A hosted voice through the real build: an OpenAI-compatible speech server on 127.0.0.1 (the fake speaks
OpenAI's route, auth and error shapes). Every line is one cached, priced call; a rebuild asks nothing;
recasting one character asks again only for that character's lines; the final carries the speech."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builds import TINY
from fakes.speech_server import FakeSpeech
from shortdrama.cost.ledger import Ledger

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
        cues = json.loads((work / "results/demo/ep01/audio/sc01.cues.json").read_text())
        assert cues and all(c["end"] > c["start"] for c in cues if not c.get("dropped"))
        voices = {body["voice"] for body in speech.bodies}
        assert len(voices) == len({speaker for speaker, _ in spoken}), "one voice per character"

        before = len(speech.bodies)
        assert build(work, overrides).returncode == 0 and len(speech.bodies) == before, "a rebuild asks nothing"

        speaker = sorted(spoken)[0][0]
        cid = next(cid for cid, c in _cast(work, overrides).items() if c == speaker)
        recast = build(work, [*overrides, f"+series.cast.{cid}.voice.openai_speech.id=ballad"])
        assert recast.returncode == 0, recast.stderr[-3000:]
        new = speech.bodies[before:]
        assert new and {b["voice"] for b in new} == {"ballad"}, "only the recast character's lines are asked"
        assert sorted(b["input"] for b in new) == sorted(text for who, text in said if who == speaker)


def _cast(work: Path, overrides: list[str]) -> dict[str, str]:
    from shortdrama.config import load_config

    return {cid: c.name for cid, c in load_config(overrides).series.cast.items()}
