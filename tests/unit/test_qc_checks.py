"""Automated QC as the build runs it: defects injected into otherwise good media (made here with the
real FFmpeg) are flagged by the right check at the right timecode, clean media is not flagged, and the
best take is chosen. The measurements themselves are tested in test_qc_analysis.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shortdrama.config.models import SubtitleConfig
from shortdrama.config.qc import QCConfig, TakeLimits
from shortdrama.media import run_ffmpeg
from shortdrama.qc.audio_analysis import analyse_audio
from shortdrama.qc.episode import check_episode
from shortdrama.qc.measurements import measure_take
from shortdrama.qc.selection import CheckedTake, rank
from shortdrama.qc.take_checks import TakeExpectation, TakeVerdict, judge_take
from shortdrama.stages.qc import EpisodeQCSpec
from shortdrama.subtitles import Cue, format_srt

W, H, FPS = 180, 320, 24
FRAME = 1 / FPS
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", "-r", str(FPS)]
EXPECT = TakeExpectation(duration=5.0, width=W, height=H, fps=FPS)


def moving(seconds: float, offset: float = 0.0, source: str = "testsrc2") -> str:
    return f"{source}=s={W}x{H}:r={FPS}:d={seconds + offset},trim=start={offset},setpts=PTS-STARTPTS"


def clip(path: Path, *pieces: str) -> Path:
    args = [arg for piece in pieces for arg in ("-f", "lavfi", "-i", piece)]
    links = "".join(f"[{i}:v]" for i in range(len(pieces)))
    run_ffmpeg([*args, "-filter_complex", f"{links}concat=n={len(pieces)}:v=1:a=0[v]", "-map", "[v]", *X264, str(path)])
    return path


def first_frame(video: Path, out: Path) -> Path:
    run_ffmpeg(["-i", str(video), "-frames:v", "1", str(out)])
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("qc-checks")


@pytest.fixture(scope="module")
def clean(media) -> Path:
    return clip(media / "clean.mp4", moving(5))


def judged(path: Path, keyframe: Path | None = None, expect: TakeExpectation = EXPECT, cache: Path | None = None):
    return judge_take(measure_take(path, keyframe, cache), expect, TakeLimits())


def only(verdict: TakeVerdict, check: str):
    found = [f for f in verdict.flags if f.check == check]
    assert found, f"no {check} flag in {verdict.flags}"
    return found[0]


def test_clean_take_passes_every_check(clean, media):
    verdict = judged(clean, first_frame(clean, media / "clean_key.png"))
    assert verdict.passed, verdict.flags
    assert {s.check for s in verdict.skipped} == {"identity"}, "no scorer configured: identity says skipped"


def test_one_second_black_run_is_flagged_at_its_start(media):
    take = clip(media / "black.mp4", moving(2), f"color=black:s={W}x{H}:r={FPS}:d=1", moving(2, 2))
    flag = only(judged(take), "black")
    assert flag.at == pytest.approx(2.0, abs=2 * FRAME)
    assert flag.value == pytest.approx(1.0, abs=2 * FRAME) or flag.value == pytest.approx(0.2, abs=0.02)


def test_two_second_freeze_is_flagged_at_its_start(media):
    frozen = f"{moving(1)},tpad=stop_mode=clone:stop_duration=2"
    take = clip(media / "freeze.mp4", frozen, moving(2, 3))
    flag = only(judged(take), "freeze")
    assert flag.at == pytest.approx(1.0, abs=2 * FRAME)
    assert flag.value == pytest.approx(2.0, abs=3 * FRAME)
    assert judged(take, expect=TakeExpectation(5.0, W, H, FPS, still_by_design=True)).passed, \
        "a provider still by design is exempt from the freeze check"


def test_hard_cut_inside_a_take_is_flagged_at_the_cut(media, clean):
    take = clip(media / "cut.mp4", moving(2.5), moving(2.5, 0, "testsrc"))
    flag = only(judged(take), "cut")
    assert flag.at == pytest.approx(2.5, abs=2 * FRAME)
    assert not [f for f in judged(clean).flags if f.check == "cut"]


def test_take_half_a_second_short_is_flagged(media):
    flag = only(judged(clip(media / "short.mp4", moving(4.5))), "duration")
    assert flag.value == pytest.approx(4.5, abs=FRAME) and flag.limit == pytest.approx(5.0)


def test_take_that_does_not_start_from_its_keyframe_is_flagged(media, clean):
    other = first_frame(clip(media / "other.mp4", moving(1, 0, "testsrc")), media / "other_key.png")
    flag = only(judged(clean, other), "keyframe_drift")
    assert flag.at == 0.0 and flag.value < TakeLimits().min_keyframe_ssim
    text_to_video = TakeExpectation(5.0, W, H, FPS, starts_from_keyframe=False)
    assert judged(clean, other, text_to_video).passed


def test_wrong_size_and_rate_are_flagged_against_the_render_config(clean):
    verdict = judged(clean, expect=TakeExpectation(5.0, 720, 1280, 30))
    assert {f.check for f in verdict.flags} == {"format"} and len(verdict.flags) == 2


def test_measurements_are_cached_by_content(media, clean, tmp_path):
    first = measure_take(clean, None, tmp_path)
    assert len(list((tmp_path / "qc").glob("*.json"))) == 1
    assert measure_take(clean, None, tmp_path) == first
    # A stricter limit is judged from the same measurement: nothing is measured again.
    strict = judge_take(first, EXPECT, TakeLimits(max_blur=0.001))
    assert [f.check for f in strict.flags] == ["blur"] and len(list((tmp_path / "qc").glob("*.json"))) == 1


def test_ranking_prefers_passing_takes_then_score_then_the_earlier_take():
    ok = TakeVerdict((), (), 80.0)
    better = TakeVerdict((), (), 90.0)
    failing = judge_take({"duration_s": 1.0, "codec": "h264", "pix_fmt": "yuv420p", "width": W, "height": H, "fps": FPS,
                          "black_runs": [], "freeze_runs": [], "cuts": [], "blur_mean": 1.0, "first_frame_ssim": 1.0},
                         EXPECT, TakeLimits())
    takes = [CheckedTake(1, Path("1"), failing), CheckedTake(2, Path("2"), ok), CheckedTake(3, Path("3"), better),
             CheckedTake(4, Path("4"), better)]
    assert [c.take for c in rank(takes)] == [3, 4, 2, 1]


# --- the episode: final, voices, subtitles ----------------------------------------------------------

DURATIONS = [3.0, 3.0]
LINES = [["I know what you did."], ["Who are you, really?"]]
SPOKEN = [[{"speaker": "A", "text": LINES[0][0], "start": 0.5, "end": 1.7}],
          [{"speaker": "B", "text": LINES[1][0], "start": 0.5, "end": 1.7}]]


def spec(language: str = "en", lines=LINES) -> EpisodeQCSpec:
    return EpisodeQCSpec(durations=DURATIONS, dialogue=lines, language=language, loudness_lufs=-16.0,
                         subtitles=SubtitleConfig().model_dump(mode="json"),
                         encoding={"width": W, "height": H, "fps": FPS, "crf": 21, "preset": "veryfast"},
                         qc=QCConfig().model_dump(mode="json"))


def voice(path: Path, speech: list[tuple[float, float]], gain_db: float = 0.0) -> Path:
    """3 s of silence with a tone (a stand-in for speech) where `speech` says; gain past 18 dB clips."""
    enable = "+".join(f"between(t,{a},{b})" for a, b in speech) or "0"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=f=330:r=48000:d=3", "-af",
                f"volume=0:enable='not({enable})',volume={gain_db}dB", "-c:a", "pcm_s16le", str(path)])
    return path


def final(path: Path, cues: list[Cue], loudness_offset_db: float = 0.0, work: Path | None = None) -> Path:
    """A 6 s final: moving video, pink noise at -16 LUFS (+ offset), the cues as a mov_text track."""
    work = work or path.parent
    noise = work / f"{path.stem}.noise.wav"
    run_ffmpeg(["-f", "lavfi", "-i", "anoisesrc=color=pink:r=48000:d=6:a=0.1:seed=1", "-ac", "2", str(noise)])
    gain = -16.0 - analyse_audio(noise).integrated_lufs + loudness_offset_db
    srt = work / f"{path.stem}.srt"
    srt.write_text(format_srt(cues), encoding="utf-8")
    run_ffmpeg(["-f", "lavfi", "-i", moving(6), "-i", str(noise), "-i", str(srt), "-map", "0:v", "-map", "1:a",
                "-map", "2:s", *X264, "-af", f"volume={gain:.3f}dB", "-c:a", "aac", "-b:a", "160k", "-c:s", "mov_text",
                "-t", "6", str(path)])
    return path


def episode(media: Path, name: str, cues: list[Cue], spoken=SPOKEN, voices=None, loudness_offset_db: float = 0.0,
            qc_spec: EpisodeQCSpec | None = None) -> dict:
    folder = media / name
    folder.mkdir()
    voices = voices or [voice(folder / f"sc{n}.wav", [(0.5, 1.7)]) for n in (1, 2)]
    cue_files = []
    for n, lines in enumerate(spoken, 1):
        cue_files.append(folder / f"sc{n}.cues.json")
        cue_files[-1].write_text(json.dumps(lines), encoding="utf-8")
    selections = []
    for n in (1, 2):
        selections.append(folder / f"sc{n}.selection.json")
        selections[-1].write_text(json.dumps({"chosen": 1, "flagged": False, "reason": "take 1: passes every check",
                                              "flags": []}), encoding="utf-8")
    srt = folder / "episode.srt"
    srt.write_text(format_srt(cues), encoding="utf-8")
    return check_episode(qc_spec or spec(), final(folder / "final.mp4", cues, loudness_offset_db), srt, voices,
                         cue_files, selections, folder / "qc.json", 1, None)


GOOD_CUES = [Cue(0.5, 1.7, LINES[0][0]), Cue(3.5, 4.7, LINES[1][0])]


def checks(report: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for flag in report["flags"]:
        found.setdefault(flag["check"], []).append(flag)
    return found


def test_clean_episode_passes(media):
    report = episode(media, "clean", GOOD_CUES)
    assert report["passed"], report["flags"]
    assert report["measurements"]["integrated_lufs"] == pytest.approx(-16.0, abs=0.5)


def test_episode_six_lu_too_quiet_is_flagged(media):
    report = episode(media, "quiet", GOOD_CUES, loudness_offset_db=-6.0)
    (flag,) = checks(report)["loudness"]
    assert flag["value"] == pytest.approx(-22.0, abs=0.7) and flag["limit"] == -16.0
    assert set(checks(report)) == {"loudness"}


def test_silent_dialogue_line_is_flagged_at_the_lines_time(media):
    folder = media / "silent-voices"
    folder.mkdir()
    voices = [voice(folder / "sc1.wav", [(0.5, 1.7)]), voice(folder / "sc2.wav", [])]
    (flag,) = checks(episode(media, "silent", GOOD_CUES, voices=voices))["silent_line"]
    assert flag["scene"] == 2 and flag["at"] == pytest.approx(3.5, abs=0.01)


def test_clipped_voice_is_flagged_near_the_clipping(media):
    folder = media / "loud-voices"
    folder.mkdir()
    voices = [voice(folder / "sc1.wav", [(0.5, 1.7)]), voice(folder / "sc2.wav", [(0.5, 1.7)], gain_db=30.0)]
    (flag,) = checks(episode(media, "clipped", GOOD_CUES, voices=voices))["clipped"]
    assert flag["scene"] == 2 and flag["value"] > 0
    assert 3.5 - 0.1 <= flag["at"] <= 4.7


def test_overlapping_cues_are_flagged(media):
    cues = [Cue(0.5, 3.2, LINES[0][0]), Cue(3.1, 4.7, LINES[1][0])]
    found = checks(episode(media, "overlap", cues))
    assert found["overlapping_cues"][0]["at"] == pytest.approx(3.1, abs=0.01)
    assert found["cue_outside_scene"][0]["scene"] == 1


@pytest.mark.parametrize("language, text", [
    ("en", "I know exactly what you did last summer at the lake house, and so does everyone else here tonight."),
    ("zh", "我知道你去年夏天在湖边别墅做了什么，今晚这里的每一个人也都知道了，你还想隐瞒多久呢"),
])
def test_overlong_subtitle_line_is_flagged_latin_and_cjk(media, language, text):
    lines = [[text], LINES[1]]
    spoken = [[{"speaker": "A", "text": text, "start": 0.2, "end": 2.9}], SPOKEN[1]]
    cues = [Cue(0.2, 2.9, text), GOOD_CUES[1]]
    found = checks(episode(media, f"long-{language}", cues, spoken=spoken, qc_spec=spec(language, lines)))
    (flag,) = found["subtitle_width"]
    assert flag["at"] == pytest.approx(0.2, abs=0.01) and flag["value"] > flag["limit"]
    assert "reading_speed" in found, "that much text in 2.7 s is also too fast to read"


def test_dialogue_line_without_a_subtitle_is_flagged(media):
    (flag,) = checks(episode(media, "missing", GOOD_CUES[:1]))["missing_cue"]
    assert flag["scene"] == 2 and flag["at"] == pytest.approx(3.5, abs=0.01)


# --- the identity seam: a scorer the user provides --------------------------------------------------

class ThumbnailScorer:
    """A stand-in for a face-embedding model: similarity of 8x8 grey thumbnails (1 = the same picture)."""

    calls = 0

    def similarity(self, frame, references):  # noqa: ANN001 - PIL images
        import numpy as np

        def thumb(image):  # noqa: ANN001
            return np.asarray(image.convert("L").resize((8, 8)), dtype=float) / 255.0

        ThumbnailScorer.calls += 1
        return float(1.0 - np.mean([np.abs(thumb(frame) - thumb(r)).mean() for r in references]) * 4)


def make_scorer() -> ThumbnailScorer:
    return ThumbnailScorer()


def test_identity_is_skipped_without_a_scorer_and_flags_a_stranger_with_one(media, clean):
    from shortdrama.config.qc import IdentityCheck
    from shortdrama.errors import QCError
    from shortdrama.qc.identity import identity_findings, middle_frame

    none = identity_findings(IdentityCheck(), clean, {"Lin Xiaoyu": ["ref.png"]})
    assert [(f.check, type(f).__name__) for f in none] == [("identity", "Skipped")]

    frame, at = middle_frame(clean)
    assert at == pytest.approx(2.5, abs=2 * FRAME)
    frame.save(media / "same.png")
    from PIL import Image

    Image.new("RGB", frame.size, (250, 250, 250)).save(media / "stranger.png")
    check = IdentityCheck(scorer=f"{__name__}:make_scorer", min_similarity=0.6)
    assert identity_findings(check, clean, {"Lin Xiaoyu": [str(media / "same.png")]}) == []
    (flag,) = identity_findings(check, clean, {"Lin Xiaoyu": [str(media / "stranger.png")]})
    assert flag.check == "identity" and flag.at == pytest.approx(at) and flag.value < 0.6 and "Lin Xiaoyu" in flag.message
    assert ThumbnailScorer.calls == 2
    with pytest.raises(QCError, match="cannot load it"):
        identity_findings(IdentityCheck(scorer="no_such_module:make"), clean, {"Lin Xiaoyu": ["x.png"]})


# --- choosing a take: retakes while every take fails, within what `buy` allows -----------------------

def _choose_spec(retakes: int, on_fail: str = "flag"):
    from shortdrama.stages.takes import ChooseTakeSpec

    enc = {"width": W, "height": H, "fps": FPS, "crf": 21, "preset": "veryfast"}
    clip = {"prompt": "p", "seed": 7, "camera": "wide", "duration": 5.0, "video": {"provider": "job_api"},
            "encoding": enc, "take": 1}
    qc = QCConfig(retakes=retakes, on_fail=on_fail).model_dump(mode="json")
    return ChooseTakeSpec(clip=clip, series_seed=7, takes=1, qc=qc,
                          exemptions={"still_by_design": False, "starts_from_keyframe": False}, characters={})


def _black(path: Path) -> Path:
    return clip(path, f"color=black:s={W}x{H}:r={FPS}:d=5")


def test_every_take_failing_buys_retakes_one_at_a_time_until_one_passes(media, clean, tmp_path):
    from shortdrama.qc.selection import choose

    bought = []

    def buy(number: int, path: Path) -> None:  # the second retake is good
        bought.append(number)
        (_black(path) if number == 2 else path.write_bytes(clean.read_bytes()))

    take = _black(tmp_path / "take01.mp4")
    first_frame(clean, tmp_path / "kf.png")
    record = choose(_choose_spec(retakes=3), [take], tmp_path / "kf.png", tmp_path / "sc01.mp4",
                    tmp_path / "sc01.selection.json", 1, 1, None, buy)
    assert bought == [2, 3], "one at a time, and no more once a take passes"
    assert (record["chosen"], record["retake"], record["flagged"], record["retakes_bought"]) == (3, True, False, 2)
    assert (tmp_path / "sc01.mp4").read_bytes() == clean.read_bytes()
    assert json.loads((tmp_path / "retake02.qc.json").read_text())["flags"][0]["check"] == "black"
    assert json.loads((tmp_path / "take01.qc.json").read_text())["flags"][0]["check"] == "black"


def test_a_retake_the_budget_refuses_leaves_the_scene_flagged_or_stops_the_build(media, clean, tmp_path):
    from shortdrama.cost.budget import BudgetExceeded
    from shortdrama.errors import QCError
    from shortdrama.qc.selection import choose

    def refuse(number: int, path: Path) -> None:
        raise BudgetExceeded("budget: series cap $1.00 reached")

    take = _black(tmp_path / "take01.mp4")
    first_frame(clean, tmp_path / "kf.png")
    args = ([take], tmp_path / "kf.png", tmp_path / "sc01.mp4", tmp_path / "sc01.selection.json", 1, 2, None, refuse)
    record = choose(_choose_spec(retakes=1), *args)
    assert record["flagged"] and record["chosen"] == 1 and "not bought" in record["notes"][0]
    assert {f["check"] for f in record["flags"]} >= {"black"} and record["flags"][0]["scene"] == 2
    with pytest.raises(QCError, match=r"every take of ep01 sc02 fails its checks .*qc.on_fail=stop"):
        choose(_choose_spec(retakes=1, on_fail="stop"), *args)
