"""The served page's writes (shortdrama.review.edits): the decisions file in the shape the build reads,
hand edits of a script validated before they land, every write atomic and serialised (many threads
and processes writing at once lose nothing)."""

import json
import subprocess
import sys
import threading

import pytest
import yaml

from shortdrama.config import load_config
from shortdrama.errors import SchemaError
from shortdrama.review import edits
from shortdrama.review.decisions import ReviewError, load_decisions
from shortdrama.schemas import write_document
from shortdrama.writers.base import SeriesBrief
from shortdrama.writers.offline import OfflineWriter


@pytest.fixture
def decisions(tmp_path):
    return tmp_path / "review" / "demo.yaml"


def read(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_a_pick_is_written_in_the_decisions_shape_and_keeps_the_rest(decisions):
    decisions.parent.mkdir()
    decisions.write_text("# picks for the demo\n# (kept)\n\nep02:\n  sc01: {take: 1, by: mo}\n", encoding="utf-8")
    assert edits.set_pick(decisions, 1, 2, 2, by="lin")
    text = decisions.read_text(encoding="utf-8")
    assert text.startswith("# picks for the demo\n# (kept)\n\nep01:\n  sc02:\n    take: 2\n    by: lin\n    at: '20")
    assert read(decisions)["ep02"] == {"sc01": {"take": 1, "by": "mo"}}, "other decisions stay as they were"
    parsed = load_decisions(decisions, "review/demo.yaml")
    assert parsed.of(1, 2).take == 2 and parsed.of(1, 2).by == "lin" and parsed.of(1, 2).at.endswith("Z")
    assert parsed.of(2, 1).take == 1

    before = decisions.read_text(encoding="utf-8")
    assert not edits.set_pick(decisions, 1, 2, 2, by="lin"), "the same pick again changes nothing (not even at:)"
    assert decisions.read_text(encoding="utf-8") == before
    assert edits.set_pick(decisions, 1, 2, None)
    assert "ep01" not in read(decisions), "taking the pick back leaves no empty entry"
    with pytest.raises(ReviewError, match="take must be a take number"):
        edits.set_pick(decisions, 1, 2, 0)


def test_an_existing_key_spelling_is_reused(decisions):
    decisions.parent.mkdir()
    decisions.write_text("ep001:\n  sc03:\n    take: 1\n", encoding="utf-8")
    edits.set_pick(decisions, 1, 3, 2)
    assert read(decisions) == {"ep001": {"sc03": {"take": 2, "at": read(decisions)["ep001"]["sc03"]["at"]}}}


def test_retake_notes_are_appended_and_blank_or_repeated_ones_refused(decisions):
    assert edits.add_retake(decisions, 1, 2, "  tighter on her face ", by="lin")
    assert read(decisions)["ep01"]["sc02"]["retake"] == "tighter on her face", "one note is a string"
    edits.add_retake(decisions, 1, 2, "slower push-in")
    assert read(decisions)["ep01"]["sc02"]["retake"] == ["tighter on her face", "slower push-in"]
    assert "by" not in read(decisions)["ep01"]["sc02"], "by: says who made the entry's latest change"
    for note, message in [("   ", "blank"), ("Tighter on  her face", "already asked"), ("two\nlines", "line break"),
                          ("x" * 401, "at most 400")]:
        with pytest.raises(ReviewError, match=message):
            edits.add_retake(decisions, 1, 2, note)
    assert load_decisions(decisions, "review/demo.yaml").of(1, 2).retakes == ("tighter on her face", "slower push-in")
    edits.clear_retakes(decisions, 1, 2)
    assert "ep01" not in (read(decisions) or {})


def test_approvals_of_a_keyframe_and_a_script(decisions):
    edits.approve_keyframe(decisions, 1, 2, by="lin")
    edits.approve_script(decisions, 1, by="lin")
    edits.set_pick(decisions, 1, 1, 1)
    data = read(decisions)
    assert list(data["ep01"]) == ["script", "sc01", "sc02"], "script first, then the scenes in order"
    assert data["ep01"]["script"] == "approved" and data["ep01"]["sc02"]["keyframe"] == "approved"
    parsed = load_decisions(decisions, "review/demo.yaml")
    assert parsed.script_approved(1) and not parsed.script_approved(2)
    assert parsed.of(1, 2).keyframe_approved and parsed.of(1, 2).by == "lin"


def test_a_broken_file_is_not_overwritten(decisions):
    decisions.parent.mkdir()
    decisions.write_text("ep01: [oops\n", encoding="utf-8")
    with pytest.raises(ReviewError, match="not YAML"):
        edits.set_pick(decisions, 1, 1, 1)
    assert decisions.read_text(encoding="utf-8") == "ep01: [oops\n"


def test_many_threads_adding_notes_at_once_lose_none(decisions):
    notes = [f"note {t}-{i}" for t in range(8) for i in range(4)]

    def add(t: int) -> None:
        for i in range(4):
            edits.add_retake(decisions, 1, 1 + t % 2, f"note {t}-{i}", by=f"tab{t}")

    threads = [threading.Thread(target=add, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    data = read(decisions)["ep01"]
    assert sorted(data["sc01"]["retake"] + data["sc02"]["retake"]) == sorted(notes)
    assert not list(decisions.parent.glob(".*.part")), "no temporary file is left behind"


def test_many_processes_adding_notes_at_once_lose_none(decisions):
    code = ("import sys; from pathlib import Path; from shortdrama.review.edits import add_retake\n"
            "for i in range(5): add_retake(Path(sys.argv[1]), 2, 3, f'process {sys.argv[2]} note {i}')\n")
    workers = [subprocess.Popen([sys.executable, "-c", code, str(decisions), str(p)]) for p in range(4)]
    assert [worker.wait(60) for worker in workers] == [0] * 4
    assert sorted(read(decisions)["ep02"]["sc03"]["retake"]) == sorted(
        f"process {p} note {i}" for p in range(4) for i in range(5))


# -- scripts ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cfg():
    return load_config(["series.episodes=1", "series.scenes_per_episode.min=2", "series.scenes_per_episode.max=2"])


@pytest.fixture
def script(tmp_path, cfg):
    brief = SeriesBrief.from_config(cfg)
    outline = OfflineWriter().write_outline(brief)
    path = tmp_path / "results" / "demo" / "ep01" / "script.json"
    write_document(OfflineWriter().write_episode(brief, outline, outline.episodes[0]), path)
    return path


def checked(cfg):
    return {"cast": [c.name for c in cfg.series.cast.values()], "language": cfg.series.language, "episode": 1}


def test_a_dialogue_line_edit_changes_that_line_only_and_keeps_the_format(script, cfg):
    before = json.loads(script.read_text(encoding="utf-8"))
    assert edits.edit_dialogue(script, 2, 0, "  Mother, put the phone down. ", **checked(cfg))
    text = script.read_text(encoding="utf-8")
    after = json.loads(text)
    assert after["scenes"][1]["dialogue"][0] == {**before["scenes"][1]["dialogue"][0], "text": "Mother, put the phone down."}
    after["scenes"][1]["dialogue"][0] = before["scenes"][1]["dialogue"][0]
    assert after == before, "nothing else changed"
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n", "the writer's formatting"
    assert not edits.edit_dialogue(script, 2, 0, "Mother, put the phone down.", **checked(cfg)), "same text: no write"


def test_an_action_edit_and_refused_edits_leave_the_file_alone(script, cfg):
    edits.edit_action(script, 1, "She tears the letter in two.", **checked(cfg))
    assert json.loads(script.read_text(encoding="utf-8"))["scenes"][0]["action"] == "She tears the letter in two."
    before = script.read_bytes()
    for edit, message in [(lambda: edits.edit_action(script, 1, "   "), "blank"),
                          (lambda: edits.edit_action(script, 1, "a\nb"), "line break"),
                          (lambda: edits.edit_action(script, 1, "x" * 401, **checked(cfg)), "400"),
                          (lambda: edits.edit_action(script, 3, "fine"), "no scene 3"),
                          (lambda: edits.edit_dialogue(script, 1, 99, "fine"), "no line 99"),
                          (lambda: edits.edit_dialogue(script.with_name("none.json"), 1, 0, "fine"), "no such script")]:
        with pytest.raises(SchemaError, match=message):
            edit()
    assert script.read_bytes() == before
