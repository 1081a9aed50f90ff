"""The decisions file: what a producer writes is read exactly, and every mistake is one line naming
the file and the line."""

import pytest

from shortdrama.review.decisions import Decision, ReviewError, check_decisions, load_decisions


def load(tmp_path, text: str):
    path = tmp_path / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    return load_decisions(path, "review/demo.yaml")


def test_picks_are_read_with_who_and_when_and_a_missing_file_is_no_decision(tmp_path):
    decisions = load(tmp_path, "# picks\nep01:\n  sc02:\n    take: 2\n    by: lin\n    at: '2026-12-06T09:30:00Z'\n"
                               "ep10:\n  sc01: {take: 1}\n")
    assert decisions.of(1, 2) == Decision(2, by="lin", at="2026-12-06T09:30:00Z", line=4)
    assert decisions.of(10, 1).take == 1 and decisions.of(1, 1) is None
    assert load_decisions(tmp_path / "none.yaml", "review/none.yaml").by_shot == {}
    assert load(tmp_path, "").by_shot == {}


@pytest.mark.parametrize("text, message", [
    ("ep01:\n  sc01:\n    take: [2\n", "review/demo.yaml: line 4: not YAML"),
    ("- take: 2\n", "review/demo.yaml: line 1: the file must be a mapping"),
    ("episode1:\n  sc01: {take: 2}\n", "review/demo.yaml: line 1: 'episode1' is not an episode (ep01, ep02, ...)"),
    ("ep01:\n  scene2: {take: 2}\n", "review/demo.yaml: line 2: 'scene2' is not a scene (sc01, sc02, ...)"),
    ("ep01:\n  sc02:\n    take: two\n", "review/demo.yaml: line 3: ep01 sc02: take must be a take number"),
    ("ep01:\n  sc02:\n    take: 0\n", "review/demo.yaml: line 3: ep01 sc02: take must be a take number"),
    ("ep01:\n  sc02:\n    take: 2\n    redo: faster\n", "review/demo.yaml: line 4: ep01 sc02: unknown key 'redo'"),
    ("ep01:\n  sc02:\n    retake: ''\n", "review/demo.yaml: line 3: ep01 sc02: a retake is a note"),
    ("ep01:\n  sc02:\n    retake: [a, a]\n", "review/demo.yaml: line 3: ep01 sc02: the retake note 'a' is given twice"),
    ("ep01:\n  sc02:\n    keyframe: yes\n", "review/demo.yaml: line 3: ep01 sc02 keyframe: write `approved`"),
    ("ep01:\n  script: ok\n", "review/demo.yaml: line 2: ep01 script: write `approved`"),
    ("ep01:\n  sc02: 2\n", "review/demo.yaml: line 2: ep01 sc02: a decision is a mapping"),
])
def test_each_malformed_file_is_one_line_naming_its_line(tmp_path, text, message):
    with pytest.raises(ReviewError) as error:
        load(tmp_path, text)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_decision_must_name_an_episode_scene_and_take_the_series_has(tmp_path):
    decisions = load(tmp_path, "ep01:\n  sc02: {take: 2}\nep03:\n  sc01: {take: 1}\n")
    check_decisions(load(tmp_path, "ep01:\n  sc02: {take: 2}\n"), {1: 3}, takes=2, episodes=2)
    with pytest.raises(ReviewError, match=r"line 4: ep03 sc01: the series has 2 episode\(s\)"):
        check_decisions(decisions, {1: 3}, takes=2, episodes=2)
    with pytest.raises(ReviewError, match=r"line 2: ep01 sc02: episode 1 has 1 scene\(s\)"):
        check_decisions(decisions, {1: 1}, takes=2, episodes=3)
    with pytest.raises(ReviewError, match=r"line 2: ep01 sc02: take 2 does not exist \(the scene has takes 1-1"):
        check_decisions(decisions, {1: 3}, takes=1, episodes=3)


def test_retake_notes_keyframe_and_script_approvals_are_read(tmp_path):
    decisions = load(tmp_path, "ep01:\n  script: approved\n  sc01:\n    keyframe: approved\n"
                               "  sc02:\n    retake: slower push-in\n  sc03:\n    retake: [darker, 'closer, on her eyes']\n"
                               "    take: 4\n")
    assert decisions.script_approved(1) and not decisions.script_approved(2)
    assert decisions.of(1, 1).keyframe_approved and decisions.of(1, 1).take is None
    assert decisions.of(1, 2).retakes == ("slower push-in",) and decisions.of(1, 2).approves_keyframe
    assert decisions.of(1, 3).retakes == ("darker", "closer, on her eyes")
    check_decisions(decisions, {1: 3}, takes=2, episodes=1)  # take 4: the second note's take
    with pytest.raises(ReviewError, match=r"line 8: ep01 sc03: take 4 does not exist \(the scene has takes 1-3"):
        check_decisions(decisions, {1: 3}, takes=1, episodes=1)
    with pytest.raises(ReviewError, match=r"line 2: ep03: the series has 1 episode"):
        check_decisions(load(tmp_path, "ep03:\n  script: approved\n"), {}, takes=1, episodes=1)
