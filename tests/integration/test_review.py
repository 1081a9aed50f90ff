"""Review decisions through the real Snakemake build and a fake hosted gateway on 127.0.0.1: a retake
with a note is one paid call whose request carries the note, and removing the note goes back to the
earlier take at $0; an approved take survives a config change that remakes every other clip; the
keyframe and script gates buy nothing until approved, `plan` prices what approving buys, and approving
buys exactly that."""

import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from shortdrama.config import load_config
from shortdrama.stages.clips import ClipSpec
from test_qc import CLI, CLIP_PRICE, SERIES, _scene, build, done_rules, paid, prompts, qc_report, review_page
from test_qc import gateway, written  # noqa: F401 - fixtures: the fake gateway, the written series

pytestmark = pytest.mark.slow

CLIPS = "results/demo/ep01/clips"


def plan(work: Path, overrides: list[str]) -> dict:
    proc = subprocess.run([CLI, "plan", "-d", str(work), "--json", *overrides], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def selection(work: Path, sc: str) -> dict:
    return json.loads((work / CLIPS / f"sc{sc}.selection.json").read_text())


def test_a_retake_note_is_one_paid_call_and_removing_it_goes_back_at_no_cost(tmp_path, gateway, written):
    server, script = gateway
    decisions = tmp_path / "decisions.yaml"
    # QC loosened so that the flat colour the fake paints for the note's take passes (it is then chosen).
    loose = ["qc.take.max_freeze_s=10", "qc.take.min_keyframe_ssim=0"]
    work, overrides = tmp_path / "work", [*SERIES, *loose, "takes=1", f"review.decisions={decisions}"]
    prompts(written, work, overrides)
    assert build(work, overrides).returncode == 0 and len(server.submissions) == 2
    first = (work / CLIPS / "sc01.mp4").read_bytes()

    note = "slower push-in, she looks up at the end"
    script.colour_for = lambda body: "3050a0" if note in body.get("prompt", "") else None
    decisions.write_text(f"ep01:\n  sc01:\n    retake: {note!r}\n")
    planned = plan(work, overrides)
    asked = [j for j in planned["jobs"] if j["rule"] == "generate_clip"]
    assert [(j["scene"], j["cached"]) for j in asked] == [(1, False)] and planned["total_usd"] == CLIP_PRICE
    retaken = build(work, overrides)
    assert retaken.returncode == 0, retaken.stderr[-3000:]
    assert len(server.submissions) == 3 and note in server.submissions[-1].body["prompt"], "one call, with the note"
    assert done_rules(retaken) == ["check_episode", "choose_take", "generate_clip", "render_episode", "write_timeline"]
    record = selection(work, "01")
    assert (record["chosen"], record["by"]) == (2, "review") and record["takes"][1]["note"] == note
    assert (work / CLIPS / "sc01.mp4").read_bytes() == (work / CLIPS / "sc01/take02.mp4").read_bytes() != first

    decisions.write_text("ep01: {}\n")
    reverted = build(work, overrides)
    assert reverted.returncode == 0 and len(server.submissions) == 3 and len(paid(work)) == 3, "the revert is free"
    assert selection(work, "01")["chosen"] == 1 and (work / CLIPS / "sc01.mp4").read_bytes() == first

    # Asking the same note again is the same take, still on disk: only the choice reruns, $0 (the plan says so).
    decisions.write_text(f"ep01:\n  sc01:\n    retake: {note!r}\n")
    again = plan(work, overrides)
    assert "generate_clip" not in {j["rule"] for j in again["jobs"]} and again["total_usd"] == 0
    assert "choose_take" in {j["rule"] for j in again["jobs"]}


def test_an_approved_take_survives_a_config_change_unless_the_user_says_so(tmp_path, gateway, written):
    server, script = gateway
    decisions = tmp_path / "decisions.yaml"
    work, overrides = tmp_path / "work", [*SERIES, "takes=2", f"review.decisions={decisions}"]
    scene_prompts = prompts(written, work, overrides)
    second = ClipSpec.of(load_config(overrides), _scene(work, overrides, "01"), 2).seed
    script.colour_for = lambda body: "3050a0" if body.get("prompt") == scene_prompts[0] and body.get("seed") == second else None
    assert build(work, overrides).returncode == 0 and len(server.submissions) == 4
    assert selection(work, "01")["chosen"] == 1, "QC prefers the moving take 1 to the frozen colour"
    final = work / "results/demo/episode_01_final.mp4"
    before = final.read_bytes()

    # A pick: the scene's choice, its render and its check rerun; nothing is bought; the final shows take 2.
    decisions.write_text("ep01:\n  sc01:\n    take: 2\n    by: lin\n")
    picked = build(work, overrides)
    assert picked.returncode == 0 and done_rules(picked) == ["check_episode", "choose_take", "render_episode",
                                                                        "write_timeline"]
    assert len(server.submissions) == 4
    record = selection(work, "01")
    assert (record["chosen"], record["by"], record["flagged"]) == (2, "review", False)
    approved = (work / CLIPS / "sc01/take02.mp4").read_bytes()
    assert (work / CLIPS / "sc01.mp4").read_bytes() == approved and final.read_bytes() != before
    with av.open(str(final)) as container:  # the final's first scene now shows take 2's colour
        frame = next(f for f in container.decode(video=0) if f.time >= 0.5).to_ndarray(format="rgb24")
    assert np.abs(frame[:200].reshape(-1, 3).mean(axis=0) - [0x30, 0x50, 0xa0]).max() < 16
    assert qc_report(work, overrides).returncode == 0, "a picked take's QC flags are no longer open"
    review_page(work, overrides)
    record = json.loads((tmp_path / "decisions.approved.json").read_text())["ep01 sc01"]
    assert record["take"] == 2 and record["clip"]["prompt"] == scene_prompts[0]
    assert "Nothing to be done" in build(work, overrides).stderr, "recording the approval changes nothing"

    # Mistakes are one line each, and touch nothing built.
    decisions.write_text("ep01:\n  sc01:\n    take: 3\n")
    wrong = build(work, overrides)
    assert wrong.returncode == 2 and final.exists()
    assert f"shortdrama: error: {decisions}: line 3: ep01 sc01: take 3 does not exist" in wrong.stderr
    decisions.write_text("ep01:\n  sc01:\n    tak: 2\n")
    typo = build(work, overrides)
    assert typo.returncode == 2 and f"{decisions}: line 3: ep01 sc01: unknown key 'tak'" in typo.stderr
    decisions.write_text("ep01:\n  sc01:\n    take: 2\n    by: lin\n")
    assert len(server.submissions) == 4

    # A new video setting and a new image model remake every keyframe and clip but the approved take
    # (whose request is kept, and which reads its redrawn keyframe as ancient).
    reseeded = [*overrides, "video.negative_prompt=blurry", "image.model=storyboard-v2"]
    changed = build(work, reseeded)
    assert changed.returncode == 0, changed.stderr[-3000:]
    new = server.submissions[4:]
    assert len(new) == 2 and {j.body["prompt"] for j in new} == {scene_prompts[1]}, "scene 2's two takes only"
    assert "generate_keyframe ep01 sc01" in changed.stderr, "the keyframe was redrawn"
    assert (work / CLIPS / "sc01/take02.mp4").read_bytes() == approved
    assert (work / CLIPS / "sc01.mp4").read_bytes() == approved

    # The approved take's file lost: remade from the cache with the keyframe it was made from, at $0.
    (work / CLIPS / "sc01/take02.mp4").unlink()
    assert build(work, reseeded).returncode == 0 and len(server.submissions) == 6
    assert (work / CLIPS / "sc01/take02.mp4").read_bytes() == approved

    # Saying so: approvals not respected, the approved scene is made like any other.
    remade = build(work, [*reseeded, "review.respect_approvals=false"])
    assert remade.returncode == 0 and len(server.submissions) == 8
    assert {j.body["prompt"] for j in server.submissions[6:]} == {scene_prompts[0]}


def test_gates_buy_nothing_until_approved_and_approving_buys_exactly_that(tmp_path, gateway, written):
    server, _ = gateway
    decisions = tmp_path / "decisions.yaml"
    work = tmp_path / "work"
    overrides = [*SERIES, "takes=1", "review.gate=keyframes", f"review.decisions={decisions}"]
    prompts(written, work, overrides)
    held = build(work, overrides)
    assert held.returncode == 0, held.stderr[-3000:]
    assert server.submissions == [] and (work / "results/demo/episode_01_final.mp4").is_file()
    assert selection(work, "01")["awaiting"] == "keyframe" and selection(work, "02")["chosen"] is None
    planned = plan(work, overrides)
    assert planned["total_usd"] == 0 and planned["awaiting_approval_usd"] == 2 * CLIP_PRICE

    decisions.write_text("ep01:\n  sc02:\n    keyframe: approved\n")
    assert plan(work, overrides)["total_usd"] == CLIP_PRICE
    approved = build(work, overrides)
    assert approved.returncode == 0, approved.stderr[-3000:]
    assert len(server.submissions) == 1 and selection(work, "02")["chosen"] == 1
    assert done_rules(approved) == ["check_episode", "choose_take", "generate_clip", "render_episode", "write_timeline"]
    assert selection(work, "01")["awaiting"] == "keyframe"

    # The script gate: nothing past the script until the episode is approved.
    scripted = tmp_path / "scripted"
    gated = [*SERIES, "takes=1", "review.gate=script", f"review.decisions={tmp_path / 'none.yaml'}"]
    prompts(written, scripted, gated)
    waiting = build(scripted, gated)
    assert waiting.returncode == 0 and not (scripted / "results/demo/episode_01_final.mp4").exists()
    assert not (scripted / "results/demo/ep01/keyframes").exists() and len(server.submissions) == 1
    # (Scene 2's clip is the request the keyframe-gated series bought: the shared cache answers it.)
    assert plan(scripted, gated)["awaiting_approval_usd"] == CLIP_PRICE
    (tmp_path / "none.yaml").write_text("ep01:\n  script: approved\n")
    assert build(scripted, gated).returncode == 0 and len(server.submissions) == 2
    assert (scripted / "results/demo/episode_01_final.mp4").is_file()
