"""Text that could break or forge subtitles, or crash the render, stops a build in one line.

A hand edit of ep01/script.json is read back before any job runs: a NUL or a line break in a
dialogue line, or a NUL in the title (which becomes the MP4's title metadata), is named with the file
and the field, no Python traceback is printed, and the episode already built is left as it was.
"""

import json
from pathlib import Path

import pytest

from builds import copy_of, run_snakemake, tiny_config

pytestmark = pytest.mark.slow

TINY = tiny_config()
SCRIPT = "results/demo/ep01/script.json"
FINAL = "results/demo/episode_01_final.mp4"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("text_safety")
    run_snakemake(work, *TINY)
    return work


@pytest.fixture
def workdir(built, tmp_path) -> Path:
    return copy_of(built, tmp_path)


def _first_line(script: dict) -> dict:
    return next(line for scene in script["scenes"] for line in scene["dialogue"])


@pytest.mark.parametrize("edit, problem", [
    (lambda s: _first_line(s).update(text="Wait\x00 for me"),
     "scenes.{scene}.dialogue.0.text: contains a control character U+0000 at character 5; "
     "write plain text without control characters"),
    (lambda s: _first_line(s).update(text="Run!\n\n99\n00:00:00,000 --> 00:00:04,500\nFORGED"),
     "scenes.{scene}.dialogue.0.text: contains a line break U+000A at character 5; "
     "a dialogue entry is one line: give each line its own entry"),
    (lambda s: s.update(title="Episode\x00One"),
     "title: contains a control character U+0000 at character 8; write plain text without control characters"),
], ids=["nul-in-dialogue", "forged-cue-in-dialogue", "nul-in-title"])
def test_unsafe_text_in_a_hand_edited_script_fails_in_one_line(workdir, edit, problem):
    final = workdir / FINAL
    before = final.read_bytes()
    path = workdir / SCRIPT
    script = json.loads(path.read_text(encoding="utf-8"))
    scene = next(i for i, s in enumerate(script["scenes"]) if s["dialogue"])
    edit(script)
    path.write_text(json.dumps(script, indent=2), encoding="utf-8")

    proc = run_snakemake(workdir, *TINY, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("shortdrama")]
    assert errors == [f"shortdrama: error: {SCRIPT}: {problem.format(scene=scene)}"], proc.stderr[-3000:]
    assert final.read_bytes() == before
