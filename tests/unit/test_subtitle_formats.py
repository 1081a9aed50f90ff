"""The episode's subtitles in three formats (SRT, WebVTT, ASS), written by write_subtitles with pysubs2:
each parses back with pysubs2 to the dialogue's cues, and the ASS carries render.subtitles' style."""

import json
from pathlib import Path

import pysubs2
import pytest

from shortdrama.config import SubtitleConfig, load_config
from shortdrama.errors import ConfigError, MediaError
from shortdrama.fonts import FONT_FAMILY, font_file
from shortdrama.subtitles import (Cue, SubtitleStyle, episode_cues, format_ass, format_srt, format_vtt, parse_ass,
                                  parse_srt, parse_vtt)

# One scene of each language's dialogue, as speak_dialogue writes its cues (seconds from the scene's start).
SCENES = [
    [{"speaker": "Lin", "text": "你到底是谁？我们认识吗", "start": 0.213, "end": 1.987},
     {"speaker": "Wei", "text": "I know what you did.", "start": 2.004, "end": 2.999}],
    [{"speaker": "An", "text": "Tôi biết anh đã làm gì. Ấy ề ở ữ!", "start": 0.1234, "end": 2.5006},
     {"speaker": "An", "text": "dropped", "start": 2.6, "end": 2.9, "dropped": True}],
    [{"speaker": "Lin", "text": "<i>别</i> {\\an8} C:\\New & 12:30 -->", "start": 0.5, "end": 1.25}],
]
DURATIONS = [3.0, 3.0, 2.0]
CUES = episode_cues(SCENES, DURATIONS)


def _spec(**style) -> str:
    from shortdrama.stages.render import SubtitlesSpec

    config = SubtitleConfig(**style).model_dump(mode="json", exclude={"soft", "burn"})
    return SubtitlesSpec(durations=DURATIONS, style=config, language="zh", frame=[720, 1280]).to_json()


@pytest.fixture
def written(tmp_path) -> dict[str, Path]:
    """write_subtitles' three outputs from the scenes' cue files."""
    from shortdrama.stages.render import write_subtitles

    cue_files = []
    for i, scene in enumerate(SCENES, 1):
        cue_files.append(tmp_path / f"sc{i:02d}.cues.json")
        cue_files[-1].write_text(json.dumps(scene, ensure_ascii=False), encoding="utf-8")
    out = {fmt: tmp_path / f"episode_01.{fmt}" for fmt in ("srt", "vtt", "ass")}
    write_subtitles(_spec(), cue_files, out["srt"], out["vtt"], out["ass"])
    return out


def test_the_three_files_parse_back_with_pysubs2_to_the_dialogue(written):
    expected = [(round(c.start * 1000), round(c.end * 1000), c.text) for c in CUES]
    assert [text for *_, text in expected] == ["你到底是谁？我们认识吗", "I know what you did.",
                                               "Tôi biết anh đã làm gì. Ấy ề ở ữ!", "<i>别</i> {\\an8} C:\\New & 12:30 -->"]
    assert expected[2][:2] == (3123, 5501)  # shifted by the scene before it, to the millisecond
    for fmt, parse, tolerance_ms in (("srt", parse_srt, 1), ("vtt", parse_vtt, 1), ("ass", parse_ass, 5)):
        text = written[fmt].read_text(encoding="utf-8")
        subs = pysubs2.SSAFile.from_string(text)  # pysubs2 recognises each format by itself
        assert subs.format == fmt and len(subs.events) == len(CUES), fmt
        for event, (start, end, _) in zip(subs.events, expected):
            assert abs(event.start - start) <= tolerance_ms and abs(event.end - end) <= tolerance_ms, fmt
        cues = parse(text)
        assert [c.text for c in cues] == [t for *_, t in expected], fmt  # order, CJK, diacritics, markup as text
        assert all(abs(c.start - e.start) <= tolerance_ms / 1000 + 1e-9 and abs(c.end - e.end) <= tolerance_ms / 1000 + 1e-9
                   for c, e in zip(cues, CUES)), fmt
    # Plain dialogue reads back with pysubs2's own plaintext too: nothing was escaped in it.
    ass = pysubs2.load(str(written["ass"]))
    assert [e.plaintext for e in ass.events[:3]] == [c.text for c in CUES[:3]]


def test_vietnamese_and_cjk_are_stored_as_utf8_text(written):
    raw = {fmt: path.read_bytes() for fmt, path in written.items()}
    for data in raw.values():
        assert "Tôi biết anh đã làm gì. Ấy ề ở ữ!".encode() in data and "你到底是谁？我们认识吗".encode() in data
    assert raw["vtt"].startswith(b"WEBVTT\n") and b"&lt;i&gt;" in raw["vtt"] and b"<i>" not in raw["vtt"]


def test_the_ass_carries_the_configured_style(tmp_path):
    subs = pysubs2.SSAFile.from_string(format_ass(CUES, SubtitleStyle(), "zh"))
    assert (subs.info["PlayResX"], subs.info["PlayResY"], subs.info["ScaledBorderAndShadow"]) == ("384", "288", "yes")
    default = subs.styles["Default"]
    assert default.fontname == FONT_FAMILY == "Noto Sans CJK TC Medium"  # the bundled face: libass finds it
    assert (default.fontsize, default.outline, default.shadow, default.borderstyle) == (12, 1.8, 0.8, 1)
    assert (default.marginl, default.marginr, default.marginv) == (10, 10, 78)
    assert default.alignment == pysubs2.Alignment.BOTTOM_CENTER
    assert default.primarycolor == pysubs2.Color(255, 255, 255, 0)
    assert default.outlinecolor == pysubs2.Color(0, 0, 0, 0xA0)

    style = SubtitleStyle(font="DejaVu Sans", font_size=20, primary_colour="&H0000FFFF", outline_colour="&H00112233",
                          back_colour="&H80000000", border_style=3, outline=2.5, shadow=0.0, position="top",
                          margin_l=30, margin_r=40, margin_v=12)
    custom = pysubs2.SSAFile.from_string(format_ass(CUES, style, "zh")).styles["Default"]
    assert (custom.fontname, custom.fontsize, custom.borderstyle, custom.outline, custom.shadow) == (
        "DejaVu Sans", 20, 3, 2.5, 0)
    assert custom.primarycolor == pysubs2.Color(255, 255, 0, 0)  # &HAABBGGRR: yellow
    assert custom.outlinecolor == pysubs2.Color(0x33, 0x22, 0x11, 0) and custom.backcolor == pysubs2.Color(0, 0, 0, 0x80)
    assert (custom.marginl, custom.marginr, custom.marginv) == (30, 40, 12)
    assert custom.alignment == pysubs2.Alignment.TOP_CENTER
    middle = pysubs2.SSAFile.from_string(format_ass(CUES, SubtitleStyle(position="middle"), "vi")).styles["Default"]
    assert middle.alignment == pysubs2.Alignment.MIDDLE_CENTER


def test_a_style_change_changes_the_ass_and_its_spec_only(tmp_path):
    from shortdrama.stages.render import write_subtitles

    cue_file = tmp_path / "sc01.cues.json"
    cue_file.write_text(json.dumps(SCENES[0], ensure_ascii=False), encoding="utf-8")
    files = {}
    for name, style in (("plain", {}), ("big", {"font_size": 20, "primary_colour": "&H0000FFFF"})):
        spec = json.loads(_spec(**style))
        spec["durations"] = [3.0]
        paths = [tmp_path / f"{name}.{fmt}" for fmt in ("srt", "vtt", "ass")]
        write_subtitles(json.dumps(spec, sort_keys=True), [cue_file], *paths)
        files[name] = [p.read_bytes() for p in paths]
    assert files["plain"][:2] == files["big"][:2]  # SRT and WebVTT: the same cues
    assert files["plain"][2] != files["big"][2]
    assert b"Style: Default,Noto Sans CJK TC Medium,20,&H0000FFFF," in files["big"][2]
    assert _spec() != _spec(font_size=20)


def test_a_long_cjk_line_is_broken_in_the_ass_and_reads_back_whole(tmp_path):
    from functools import partial

    from shortdrama.qc.text_fit import cjk_lines, fits

    long = "这是一句很长很长的台词，它一定会在屏幕上换成两行才能放得下，对吧？"
    assert not fits(long, font_size=12, frame_width=720, frame_height=1280)[0]
    lines_of = partial(cjk_lines, font_size=12, frame_width=720, frame_height=1280)
    text = format_ass([Cue(0.0, 2.0, long), Cue(2.0, 3.0, "A long English line is wrapped by libass at its spaces "
                                                           "so it is left alone here")], SubtitleStyle(), "zh", lines_of)
    first, second = pysubs2.SSAFile.from_string(text).events
    assert first.text == "这是一句很长很长的台词，它一定会\\N在屏幕上换成两行才能放得下，对吧？"  # none before a comma
    assert "\\N" not in second.text
    assert [c.text for c in parse_ass(text)][0] == long


def test_srt_and_vtt_timings_are_to_the_millisecond():
    cues = [Cue(0.0014, 0.9996, "a"), Cue(3599.9994, 3600.0006, "late")]
    for text in (format_srt(cues), format_vtt(cues)):
        subs = pysubs2.SSAFile.from_string(text)
        assert [(e.start, e.end) for e in subs] == [(1, 1000), (3599999, 3600001)]
    assert "00:59:59.999 --> 01:00:00.001" in format_vtt(cues)


@pytest.mark.parametrize("override, message", [
    ("render.subtitles.position=left", "render.subtitles.position=\"left\": Input should be 'bottom', 'middle' or 'top'"),
    ("render.subtitles.font=\"Noto{Sans\"", "render.subtitles.font=\"Noto{Sans\": must be a font family name"),
    ("render.subtitles.margin_l=500", "render.subtitles.margin_l=500: Input should be less than or equal to 160"),
    ("render.subtitles.back_colour=black", "render.subtitles.back_colour=\"black\": String should match pattern"),
])
def test_a_bad_style_is_one_clear_line_at_the_edge(override, message):
    with pytest.raises(ConfigError) as caught:
        load_config([override])
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_a_font_that_is_not_installed_fails_before_any_file_is_written(tmp_path):
    from shortdrama.stages.render import write_subtitles

    assert font_file(None, "zh") == font_file(FONT_FAMILY) and font_file(None, "vi").is_file()
    with pytest.raises(MediaError, match=r"^render.subtitles.font 'No Such Face' is not installed here"):
        write_subtitles(_spec(font="No Such Face"), [], tmp_path / "a.srt", tmp_path / "a.vtt", tmp_path / "a.ass")
    assert not list(tmp_path.iterdir())
