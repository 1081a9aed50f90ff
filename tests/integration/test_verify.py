"""Outputs that check themselves: manifests, `shortdrama verify`, and builds that rebuild what they name.

Every test looks at content (bytes, frames, cues), not only at which jobs ran: a job that reran but
left the old file, or a final that was never rebuilt, must fail here.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from builds import copy_of, REPO, TINY, run_snakemake, tiny_config

pytestmark = pytest.mark.slow

SERIES = "results/demo"
SHORTDRAMA = str(Path(sys.executable).with_name("shortdrama"))


def verify(work: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run([SHORTDRAMA, "verify", "-d", str(work), *TINY, *overrides], capture_output=True, text=True,
                          cwd=REPO)


def files(work: Path) -> dict[str, bytes]:
    """Every output of the series by path (manifests, ledger, the voice casting record and kept copies aside)."""
    root = work / SERIES
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
            and "ledger" not in p.name and ".edited-" not in p.name and p.name != "voices.json"}


def frame_at(path: Path, seconds: float) -> np.ndarray:
    """The decoded RGB frame shown at `seconds` (the first frame at or after it)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds - 1e-6:
                return frame.to_ndarray(format="rgb24").astype(np.int16)
    raise AssertionError(f"{path} has no frame at {seconds} s")


def edit_script(work: Path, change) -> dict:
    path = work / SERIES / "ep01/script.json"
    script = json.loads(path.read_text())
    change(script)
    path.write_text(json.dumps(script, indent=2, ensure_ascii=False))
    return script


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("verified")
    run_snakemake(work, *tiny_config())
    return work


@pytest.fixture
def work(built, tmp_path) -> Path:
    return copy_of(built, tmp_path)


def test_a_build_leaves_a_manifest_for_every_output_and_verifies_clean(work):
    proc = verify(work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # config, outline, script; per scene keyframe, take, clip, selection, voice, cues; mix, music stem, srt, vtt,
    # ass, final, QC, timeline (each take's QC report is a by-product written beside the take: no manifest)
    assert proc.stdout.strip().startswith("all 23 outputs of results/demo match")
    manifests = sorted(p.relative_to(work / SERIES / ".manifests") for p in (work / SERIES / ".manifests").rglob("*.json"))
    outputs = sorted(Path(f"{name}.json") for name in files(work) if not ("/clips/" in name and name.endswith(".qc.json")))
    assert manifests == outputs, "one manifest per output, none for anything else"
    assert (work / SERIES / "ep01/clips/sc01/take01.qc.json").is_file()
    take = json.loads((work / SERIES / ".manifests/ep01/clips/sc01/take01.mp4.json").read_text())
    keyframe = work / SERIES / "ep01/keyframes/sc01.png"
    import hashlib

    def stamp(path: Path) -> dict:
        return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "size": path.stat().st_size,
                "mtime_ns": path.stat().st_mtime_ns}

    assert take["rule"] == "generate_clip" and take["finished"]
    assert take["inputs"] == {f"{SERIES}/ep01/keyframes/sc01.png": stamp(keyframe)}
    assert "prompt" in json.loads(take["spec"]) and json.loads(take["spec"])["take"] == 1
    clip = json.loads((work / SERIES / ".manifests/ep01/clips/sc01.mp4.json").read_text())
    assert clip["rule"] == "choose_take" and clip["inputs"] == {
        f"{SERIES}/ep01/clips/sc01/take01.mp4": stamp(work / SERIES / "ep01/clips/sc01/take01.mp4"),
        f"{SERIES}/ep01/keyframes/sc01.png": stamp(keyframe)}


def test_every_kind_of_intermediate_deleted_in_turn_is_made_again_and_the_final_matches_it(work):
    before = files(work)
    for lost in ("ep01/keyframes/sc02.png", "ep01/clips/sc01.mp4", "ep01/audio/sc02.wav", "ep01/audio/sc01.cues.json",
                 "ep01/audio/episode_mix.wav", "episode_01.srt"):
        (work / SERIES / lost).unlink()
        found = verify(work)
        assert found.returncode == 1
        assert f"out of date: {SERIES}/{lost}: missing" in found.stdout
        assert f"out of date: {SERIES}/episode_01_final.mp4: its input" in found.stdout
        proc = run_snakemake(work, *tiny_config())
        assert "Nothing to be done" not in proc.stdout + proc.stderr, lost
        assert files(work) == before, f"after deleting {lost}: every file made again, byte for byte"
    assert verify(work).returncode == 0


def test_a_hand_replaced_clip_is_caught_kept_aside_and_rebuilt(work):
    clips = work / SERIES / "ep01/clips"
    original, other = (clips / "sc01.mp4").read_bytes(), (clips / "sc02.mp4").read_bytes()
    stat = (clips / "sc01.mp4").stat()
    shutil.copyfile(clips / "sc02.mp4", clips / "sc01.mp4")
    os.utime(clips / "sc01.mp4", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old mtime
    found = verify(work)
    assert found.returncode == 1
    assert f"{SERIES}/ep01/clips/sc01.mp4: changed since choose_take made it" in found.stdout
    assert f"{SERIES}/episode_01_final.mp4: its input {SERIES}/ep01/clips/sc01.mp4 is out of date" in found.stdout

    dry = run_snakemake(work, *tiny_config(), extra=("--dry-run",))
    assert "a real run rebuilds it" in dry.stderr and (clips / "sc01.mp4").read_bytes() == other, "a dry run touches nothing"
    import re

    assert sorted(re.findall(r"^(?:local)?rule (\w+):$", dry.stdout, flags=re.M)) == [
        "all", "check_episode", "choose_take", "render_episode", "write_timeline"], "but shows what a real run will do (no take is bought)"

    proc = run_snakemake(work, *tiny_config())
    kept = sorted(clips.glob("sc01.edited-*.mp4"))
    assert len(kept) == 1 and kept[0].read_bytes() == other, "the hand-made clip is kept beside"
    assert f"kept as {SERIES}/ep01/clips/{kept[0].name}" in proc.stderr
    assert (clips / "sc01.mp4").read_bytes() == original
    assert verify(work).returncode == 0


def test_a_final_older_than_an_edited_script_is_reported_then_rebuilt(work):
    edit_script(work, lambda s: s["scenes"][1]["dialogue"][0].update(text="I changed my mind about everything."))
    found = verify(work)
    assert found.returncode == 1
    for name in ("ep01/audio/sc02.wav", "ep01/audio/sc02.cues.json"):
        assert f"out of date: {SERIES}/{name}: made with other settings (changed: dialogue)" in found.stdout
    for name in ("ep01/audio/episode_mix.wav", "episode_01.srt", "episode_01_final.mp4"):
        assert f"out of date: {SERIES}/{name}: its input" in found.stdout
    assert f"note: {SERIES}/ep01/script.json: edited by hand since the writer made it" in found.stdout
    run_snakemake(work, *tiny_config())
    from shortdrama.media import read_subtitles

    assert "I changed my mind about everything." in [text for _, _, text in read_subtitles(work / SERIES / "episode_01_final.mp4")]
    assert verify(work).returncode == 0


def test_edits_made_while_snakemake_metadata_was_lost_are_still_rebuilt(work):
    final = work / SERIES / "episode_01_final.mp4"
    keyframe = work / SERIES / "ep01/keyframes/sc01.png"
    old_keyframe, old_frame = keyframe.read_bytes(), frame_at(final, 0.5)
    old_scene2 = frame_at(final, 3.2)
    script = edit_script(work, lambda s: s["scenes"][0].update(action="A vase of white lilies falls and shatters",
                                                               camera="zoom-in"))
    shutil.rmtree(work / ".snakemake" / "metadata")
    assert verify(work).returncode == 1
    run_snakemake(work, *tiny_config())
    assert keyframe.read_bytes() != old_keyframe, "the keyframe was redrawn from the new action"
    assert np.abs(frame_at(final, 0.5) - old_frame).mean() > 5, "the final shows the new first scene"
    second = sum(s["duration"] for s in script["scenes"][:1]) + 0.2
    assert np.abs(frame_at(final, second) - old_scene2).mean() < 3, "and the second scene as before"
    assert verify(work).returncode == 0


def test_a_writer_change_while_metadata_was_lost_ends_consistent(work):
    theme = "seed=11"  # the writer's brief: a new outline and new scripts
    shutil.rmtree(work / ".snakemake" / "metadata")
    old_script = (work / SERIES / "ep01/script.json").read_bytes()
    run_snakemake(work, *tiny_config(theme))
    assert (work / SERIES / "ep01/script.json").read_bytes() != old_script, "the writer wrote a new script"
    proc = verify(work, theme)
    assert proc.returncode == 0, proc.stdout
    script = json.loads((work / SERIES / "ep01/script.json").read_text())
    from shortdrama.media import probe, read_subtitles

    final = work / SERIES / "episode_01_final.mp4"
    assert probe(final).duration == pytest.approx(sum(s["duration"] for s in script["scenes"]), abs=0.1)
    assert [t for _, _, t in read_subtitles(final)] == [d["text"] for s in script["scenes"] for d in s["dialogue"]]


def test_a_broken_outline_edit_stops_before_anything_and_keeps_hand_edited_scripts(work):
    edit_script(work, lambda s: s["scenes"][0]["dialogue"][0].update(text="My own line, written by hand."))
    run_snakemake(work, *tiny_config())  # the edit is built: the final speaks it
    before = files(work)
    outline = work / SERIES / "outline.json"
    data = json.loads(outline.read_text())
    data["episodes"][0]["title"] = ""
    outline.write_text(json.dumps(data))
    proc = run_snakemake(work, *tiny_config(), check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("shortdrama: error:")]
    assert errors == [f"shortdrama: error: {SERIES}/outline.json: episodes.0.title: String should have at least 1 character"]
    after = files(work)
    assert {k: v for k, v in after.items() if k != "outline.json"} == {k: v for k, v in before.items() if k != "outline.json"}


def test_an_outline_edit_never_overwrites_a_hand_edited_script(work):
    edited = edit_script(work, lambda s: s["scenes"][0]["dialogue"][0].update(text="My own line, written by hand."))
    script = work / SERIES / "ep01/script.json"
    mine = script.read_bytes()
    outline = work / SERIES / "outline.json"
    data = json.loads(outline.read_text())
    data["episodes"][0]["cliffhanger"] = "The ring is a fake."
    outline.write_text(json.dumps(data, indent=2))

    dry = run_snakemake(work, *tiny_config(), extra=("--dry-run",), check=False)
    assert dry.returncode != 0 and "a real build keeps your edit beside it as script.edited-<time>.json" in dry.stderr
    assert not list(script.parent.glob("script.edited-*.json")), "a dry run writes no file"

    proc = run_snakemake(work, *tiny_config(), check=False)
    assert proc.returncode != 0
    kept = sorted(script.parent.glob("script.edited-*.json"))
    assert len(kept) == 1 and kept[0].read_bytes() == mine and script.read_bytes() == mine
    assert [line for line in proc.stderr.splitlines() if line.startswith("shortdrama: error:")] == [
        f"shortdrama: error: {SERIES}/ep01/script.json was edited by hand and the writer is about to rewrite it "
        f"(its input {SERIES}/outline.json changed since it was made); your edit is kept as "
        f"{SERIES}/ep01/{kept[0].name}: to accept the rewrite, delete {SERIES}/ep01/script.json and build again; "
        f"to keep your edit, undo the change that asks for the rewrite"]

    assert run_snakemake(work, *tiny_config(), check=False).returncode != 0, "it stops again until the user decides"
    assert len(list(script.parent.glob("script.edited-*.json"))) == 1, "and keeps one copy of the same edit"

    script.unlink()  # accept the rewrite
    run_snakemake(work, *tiny_config())
    assert "My own line, written by hand." not in script.read_text()
    assert json.loads(kept[0].read_text()) == json.loads(json.dumps(edited))
    assert verify(work).returncode == 0


def test_a_saved_but_unchanged_outline_does_not_rewrite_a_hand_edited_script(work):
    edit_script(work, lambda s: s["scenes"][0]["dialogue"][0].update(text="My own line, written by hand."))
    mine = (work / SERIES / "ep01/script.json").read_bytes()
    shutil.rmtree(work / ".snakemake" / "metadata")  # nothing left to tell Snakemake the outline is the same
    os.utime(work / SERIES / "outline.json")  # saved again, same bytes, newer than the script
    proc = run_snakemake(work, *tiny_config())
    assert "write_episode_script" not in proc.stdout + proc.stderr
    assert (work / SERIES / "ep01/script.json").read_bytes() == mine


def test_a_clip_job_that_failed_is_rebuilt_by_the_next_run_with_the_final(tmp_path, monkeypatch):
    """The vendor refuses the edited scene's clip once: that run fails and leaves no stale final behind;
    the next run (vendor back) makes the clip and the final, which shows the new clip."""
    from fakes.video_server import Behaviour, FakeVideoServer, Script, prompt_colour

    # The fake serves each prompt one plain colour (the final's frame then shows which clip it holds): QC
    # rightly flags a still colour from a video model as frozen, so no retake is bought here.
    hosted = ["video=gateway_kling", "video.poll_interval_s=0.02", "video.fallback.poll_interval_s=0.02",
              "qc.retakes=0"]
    monkeypatch.setenv("VIDEO_GATEWAY_API_KEY", "sk-video-test")
    monkeypatch.setenv("SHORTDRAMA_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "work"
    with FakeVideoServer(Script(colour_by_prompt=True), api_key="sk-video-test") as video:
        monkeypatch.setenv("VIDEO_GATEWAY_URL", video.base_url)
        run_snakemake(work, *tiny_config(*hosted))
        old_prompt = video.submissions[0].body["prompt"]
        pre_edit = (work / SERIES / "episode_01_final.mp4").read_bytes()
        edit_script(work, lambda s: s["scenes"][0].update(action="Lin Xiaoyu tears the letter in two"))

        video.script.default = Behaviour(outcome="failed")  # kling-v1-6 and its fallback both fail
        failed = run_snakemake(work, *tiny_config(*hosted), check=False)
        assert failed.returncode != 0
        assert not (work / SERIES / "ep01/clips/sc01.mp4").exists()
        assert not (work / SERIES / "episode_01_final.mp4").exists(), "no pre-edit final left to publish"
        assert (work / SERIES / "episode_01_final.outdated.mp4").read_bytes() == pre_edit, "but kept aside"
        report = verify(work, *hosted)
        assert report.returncode == 1
        assert f"out of date: {SERIES}/ep01/clips/sc01.mp4: missing" in report.stdout
        assert f"out of date: {SERIES}/episode_01_final.mp4: missing" in report.stdout

        video.script.default = Behaviour()
        again = run_snakemake(work, *tiny_config(*hosted))
        assert "Nothing to be done" not in again.stdout + again.stderr
        assert not (work / SERIES / "episode_01_final.outdated.mp4").exists(), "gone once the new final is made"
        new_prompt = video.submissions[-1].body["prompt"]
        assert "tears the letter" in new_prompt and len(video.submissions) == 2 + 2 + 1
    frame = frame_at(work / SERIES / "episode_01_final.mp4", 0.3)[:300]  # above the burned-in subtitles
    colour = np.array([int(prompt_colour(new_prompt)[i:i + 2], 16) for i in (0, 2, 4)])
    old = np.array([int(prompt_colour(old_prompt)[i:i + 2], 16) for i in (0, 2, 4)])
    assert np.abs(frame.mean(axis=(0, 1)) - colour).max() < 12, "the final shows the new clip"
    assert np.abs(old - colour).max() > 40, "and the old clip would look different"
    assert verify(work, *hosted).returncode == 0
