"""Exact rebuilds through the real Snakemake: each edit reruns exactly the jobs that are out of date."""

import json
from collections import Counter
from pathlib import Path

import pytest

from builds import copy_of, jobs_run, run_snakemake, tiny_config

pytestmark = pytest.mark.slow

TWO_EPISODES = tiny_config("series.episodes=2")




@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("built")
    proc = run_snakemake(work, *TWO_EPISODES)
    counts = jobs_run(proc)
    assert counts["render_episode"] == 2 and counts["write_episode_script"] == 2
    return work


@pytest.fixture
def workdir(built, tmp_path) -> Path:
    return copy_of(built, tmp_path)


def _script(work: Path, ep: str) -> tuple[Path, dict]:
    path = work / "results" / "demo" / f"ep{ep}" / "script.json"
    return path, json.loads(path.read_text())


def test_second_run_does_nothing(workdir):
    proc = run_snakemake(workdir, *TWO_EPISODES)
    assert sum(jobs_run(proc).values()) == 0, proc.stdout[-2000:]


def test_dialogue_edit_redoes_only_that_episodes_audio_subtitles_and_final(workdir):
    path, script = _script(workdir, "01")
    script["scenes"][1]["dialogue"][0]["text"] = "I changed my mind about everything."
    path.write_text(json.dumps(script, indent=2))
    counts = jobs_run(run_snakemake(workdir, *TWO_EPISODES))
    assert counts == Counter(speak_dialogue=1, write_subtitles=1, mix_episode_audio=1, render_episode=1, check_episode=1,
                             write_timeline=1)
    srt = (workdir / "results/demo/episode_01.srt").read_text()
    assert "I changed my mind about everything." in srt


def test_action_edit_redoes_that_scenes_keyframe_and_clip_and_the_final(workdir):
    path, script = _script(workdir, "02")
    script["scenes"][0]["action"] = "Someone knocks over a vase of white lilies"
    path.write_text(json.dumps(script, indent=2))
    counts = jobs_run(run_snakemake(workdir, *TWO_EPISODES))
    assert counts == Counter(generate_keyframe=1, generate_clip=1, choose_take=1, render_episode=1, check_episode=1,
                             write_timeline=1)


def test_video_option_redoes_every_clip_and_no_writing_or_keyframe(workdir):
    counts = jobs_run(run_snakemake(workdir, *TWO_EPISODES, "video=still"))
    scenes = sum(len(_script(workdir, ep)[1]["scenes"]) for ep in ("01", "02"))
    assert counts["generate_clip"] == scenes
    assert counts["render_episode"] == 2
    for rule in ("write_outline", "write_episode_script", "generate_keyframe", "speak_dialogue", "mix_episode_audio"):
        assert counts[rule] == 0, rule


def test_look_edit_redoes_only_the_scenes_where_that_character_appears(workdir):
    scripts = {ep: _script(workdir, ep)[1] for ep in ("01", "02")}
    appearances = {ep: [i for i, s in enumerate(script["scenes"]) if "Zhang Meifang" in s["characters"]]
                   for ep, script in scripts.items()}
    total = sum(len(s["scenes"]) for s in scripts.values())
    touched = sum(len(v) for v in appearances.values())
    assert 0 < touched < total, "the tiny series should show her in some scenes but not all"
    counts = jobs_run(run_snakemake(workdir, *TWO_EPISODES, "series__cast__meifang__look=older woman, red dress"))
    assert counts["generate_keyframe"] == touched
    assert counts["generate_clip"] == touched
    assert counts["render_episode"] == sum(1 for v in appearances.values() if v)
    for rule in ("write_outline", "write_episode_script", "speak_dialogue", "write_subtitles", "mix_episode_audio"):
        assert counts[rule] == 0, rule


def test_bad_config_fails_before_any_job_and_keeps_what_was_built(workdir):
    finals = sorted(workdir.glob("results/demo/episode_*_final.mp4"))
    before = {p: p.stat().st_mtime for p in finals}
    proc = run_snakemake(workdir, *TWO_EPISODES, "render__resolution=720x", check=False)
    assert proc.returncode != 0
    assert 'shortdrama: error: render.resolution="720x": must be WIDTHxHEIGHT' in proc.stderr
    assert "Traceback" not in proc.stderr
    assert {p: p.stat().st_mtime for p in finals} == before


def test_hand_edit_that_breaks_the_schema_is_one_clear_error(workdir):
    path, script = _script(workdir, "01")
    script["scenes"][0]["dialogue"][0]["speaker"] = "Nobody"
    path.write_text(json.dumps(script, indent=2))
    proc = run_snakemake(workdir, *TWO_EPISODES, check=False)
    assert proc.returncode != 0
    line = next(l for l in proc.stderr.splitlines() if "Nobody" in l)
    assert line.startswith("shortdrama: error: results/demo/ep01/script.json: episode 1 scene 1: speaker 'Nobody'")
    assert "Traceback" not in proc.stderr
    assert (workdir / "results/demo/episode_01_final.mp4").exists()


def test_frame_rounding_keeps_picture_voice_and_subtitles_together(workdir):
    path, script = _script(workdir, "01")
    for scene in script["scenes"]:
        scene["duration"] = 2.52  # 60.48 frames at 24 fps
    script["target_duration"] = 2.52 * len(script["scenes"])
    path.write_text(json.dumps(script, indent=2))
    run_snakemake(workdir, *TWO_EPISODES)
    from shortdrama.audio.wav import read_wav
    from shortdrama.media import probe

    frames = round(2.52 * 24) * len(script["scenes"])
    video = probe(workdir / "results/demo/episode_01_final.mp4").duration
    samples, rate = read_wav(workdir / "results/demo/ep01/audio/episode_mix.wav")
    assert video == pytest.approx(frames / 24, abs=0.05)
    assert len(samples) / rate == pytest.approx(frames / 24, abs=0.01)


def test_deleted_final_file_is_rebuilt_alone(workdir):
    (workdir / "results/demo/episode_01_final.mp4").unlink()
    counts = jobs_run(run_snakemake(workdir, *TWO_EPISODES))
    assert counts == Counter(render_episode=1, check_episode=1, write_timeline=1), \
        "and its check, which reads the new final, and the timeline, which reads the check"
    assert (workdir / "results/demo/episode_01_final.mp4").exists()
