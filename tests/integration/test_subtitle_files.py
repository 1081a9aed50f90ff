"""The episode's subtitle files through the real Snakemake (demo_zh): SRT, WebVTT and the styled ASS match
the dialogue, the final burns the ASS in the bundled CJK face, and a style edit reruns only the
subtitles, the final and its QC, with no paid call."""

import json
from pathlib import Path

import av
import numpy as np
import pysubs2
import pytest

from builds import copy_of, run_snakemake, tiny_config
from test_rebuilds import jobs_run

from shortdrama.subtitles import episode_cues, parse_ass, parse_srt, parse_vtt

pytestmark = pytest.mark.slow

SERIES = ("series=demo_zh", *tiny_config())
UPSTREAM = {"write_outline", "write_episode_script", "generate_character_references", "train_character_lora",
            "draw_contact_sheet", "generate_keyframe", "generate_clip", "choose_take", "speak_dialogue",
            "mix_episode_audio", "sync_lips"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("subtitles_zh")
    run_snakemake(work, *SERIES)
    return work


def _results(work: Path) -> Path:
    return work / "results" / "demo_zh"


def _cues(results: Path):
    script = json.loads((results / "ep01" / "script.json").read_text(encoding="utf-8"))
    scenes = [json.loads((results / "ep01" / "audio" / f"sc{i:02d}.cues.json").read_text(encoding="utf-8"))
              for i in range(1, len(script["scenes"]) + 1)]
    return script, episode_cues(scenes, [s["duration"] for s in script["scenes"]])


def test_the_three_subtitle_files_match_the_dialogue(built):
    results = _results(built)
    script, cues = _cues(results)
    lines = [line["text"] for scene in script["scenes"] for line in scene["dialogue"]]
    assert cues and [c.text for c in cues] == lines
    for fmt, parse, tolerance in (("srt", parse_srt, 0.001), ("vtt", parse_vtt, 0.001), ("ass", parse_ass, 0.005)):
        text = (results / f"episode_01.{fmt}").read_text(encoding="utf-8")
        assert pysubs2.SSAFile.from_string(text).format == fmt
        parsed = parse(text)
        assert [c.text for c in parsed] == lines, fmt
        assert all(abs(a.start - b.start) <= tolerance + 1e-9 and abs(a.end - b.end) <= tolerance + 1e-9
                   for a, b in zip(parsed, cues)), fmt
    style = pysubs2.load(str(results / "episode_01.ass")).styles["Default"]
    assert style.fontname == "Noto Sans CJK TC Medium" and style.fontsize == 12


def _gray_at(path: Path, seconds: float) -> np.ndarray:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_ndarray(format="gray").astype(float)
    raise AssertionError(f"no frame at {seconds} s in {path.name}")


def test_the_final_burns_the_ass_in_the_cjk_face(built):
    """At the middle of the first cue the final differs from its scene's clip in the subtitle band
    (libass drew the CJK text: the font was found), and not above it."""
    results = _results(built)
    script, cues = _cues(results)
    first = cues[0]
    offset, scene = 0.0, 0
    while offset + script["scenes"][scene]["duration"] <= first.start:
        offset += script["scenes"][scene]["duration"]
        scene += 1
    middle = (first.start + first.end) / 2
    final = _gray_at(results / "episode_01_final.mp4", middle)
    clip = _gray_at(results / "ep01" / "clips" / f"sc{scene + 1:02d}.mp4", middle - offset)
    height = final.shape[0]
    ink = np.abs(final - clip) > 60
    band = ink[int(height * 0.6):int(height * 0.85)]
    assert band.sum() > 300, "libass drew no subtitle in the band: the bundled CJK font was not found?"
    assert ink[: int(height * 0.5)].sum() < 0.1 * band.sum()


def test_a_style_edit_reruns_only_the_subtitles_the_final_and_its_check(built, tmp_path):
    work = copy_of(built, tmp_path)
    results = _results(work)
    before = {fmt: (results / f"episode_01.{fmt}").read_bytes() for fmt in ("srt", "vtt", "ass")}
    ledger = results / "ledger.jsonl"
    entries = ledger.read_text().count("\n") if ledger.exists() else 0
    styled = ("series=demo_zh", *tiny_config("render.subtitles.font_size=16", "render.subtitles.primary_colour='&H0000FFFF'"))
    counts = jobs_run(run_snakemake(work, *styled))
    assert (counts["write_subtitles"], counts["render_episode"], counts["check_episode"]) == (1, 1, 1)
    # Nothing the subtitles are made from reruns (what reads them or the final, e.g. an episode's
    # timeline or its deliveries, follows them; record_config records the whole config).
    assert not UPSTREAM & set(counts), counts
    after = {fmt: (results / f"episode_01.{fmt}").read_bytes() for fmt in ("srt", "vtt", "ass")}
    assert after["srt"] == before["srt"] and after["vtt"] == before["vtt"]
    assert b"Style: Default,Noto Sans CJK TC Medium,16,&H0000FFFF," in after["ass"]
    paid = [json.loads(line) for line in ledger.read_text().splitlines()[entries:]] if ledger.exists() else []
    assert sum(entry.get("cost_usd", 0.0) for entry in paid) == 0.0, "a style edit calls no provider"
    assert sum(jobs_run(run_snakemake(work, *styled)).values()) == 0
