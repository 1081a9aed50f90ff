"""Vietnamese as a series language: the offline writer's phrase book, the hosted writer's language
check, the eSpeak NG `vi` voice, and subtitles burned in with the bundled font."""

from __future__ import annotations

import re
import string
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from shortdrama.audio.dialogue import SpokenLine, render_scene_dialogue
from shortdrama.config import load_config
from shortdrama.fonts import font_family, font_path
from shortdrama.schemas import DialogueLine, Location, Scene, check_script
from shortdrama.voice import EspeakVoice, VoiceSpec, espeak_language, voice_for_character
from shortdrama.writers import make_writer
from shortdrama.writers.base import SeriesBrief
from shortdrama.writers.phrasebook import PHRASEBOOK, SPEECH_UNITS_PER_SECOND, speech_units
from shortdrama.writers.prompts import _language, outline_messages
from shortdrama.writers.replies import language_problem, local_findings, speech_overrun

# Every letter Vietnamese writes with a mark: the precomposed block U+1EA0-U+1EF9 and the rest.
VIETNAMESE_LETTERS = "".join(chr(c) for c in range(0x1EA0, 0x1EFA)) + "ĂăÂâĐđÊêÔôƠơƯưÀàÁáÃãÈèÉéÌìÍíĨĩÒòÓóÕõÙùÚúŨũÝý"
STACKED = "Người ấy đã trở về, nhưng mọi thứ đã đổi thay."
CAST = ["Nguyễn Hoài Thu", "Trần Mỹ Hạnh", "Trần Minh Khang"]


def _texts(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    else:
        for item in value:
            yield from _texts(item)


def _shape(value):
    """The phrase book's structure: keys all the way down, lists and tuples by kind, not length."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_shape(item) for item in value)
    return "list" if isinstance(value, list) else type(value).__name__


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


# ----------------------------------------------------------------------------------- phrase book


def test_vietnamese_phrasebook_has_every_key_of_the_english_one():
    en, vi = PHRASEBOOK["en"], PHRASEBOOK["vi"]
    assert set(vi) == set(en)
    for key in en:
        if isinstance(en[key], dict):
            assert set(vi[key]) == set(en[key]), key
            for beat in en[key]:
                assert len(vi[key][beat]) >= len(en[key][beat]), f"{key}.{beat}"
        else:
            assert len(vi[key]) >= len(en[key]), key
    assert [_shape(loc) for loc in vi["locations"]] == [("str", "str")] * len(vi["locations"])
    assert {setting for setting, _ in vi["locations"]} == {"INT", "EXT"}


def test_vietnamese_phrasebook_is_vietnamese_with_its_marks_and_known_placeholders():
    allowed = {"lead", "rival", "ally", "theme", "lead_first", "a", "b"}
    for key, value in PHRASEBOOK["vi"].items():
        for text in _texts(value):
            if text in ("INT", "EXT"):
                continue
            assert unicodedata.is_normalized("NFC", text), text
            assert _placeholders(text) <= allowed, text
            if key == "actions":
                assert _placeholders(text) & {"a", "b"}, text
            # Names (Vietnamese, with marks) stand in for the placeholders in a real series.
            filled = text.format(lead=CAST[0], rival=CAST[1], ally=CAST[2], theme="Chuyện nhà", lead_first="Thu",
                                 a=CAST[0], b=CAST[1])
            assert language_problem(filled, "vi", ignore=CAST) is None, filled
            assert language_problem(filled, "zh") is not None, filled
    assert any(ch in VIETNAMESE_LETTERS for line in _texts(PHRASEBOOK["vi"]["lines"]) for ch in line)


def test_vietnamese_speech_is_counted_in_syllables():
    assert speech_units("Người ấy đã trở về, nhưng mọi thứ đã đổi thay.", "vi") == 11
    assert speech_units("Không... không thể nào.", "vi") == 4
    assert 3.0 <= SPEECH_UNITS_PER_SECOND["vi"] <= 4.5
    # Counted in letters (as Chinese is), this 6-second scene would be refused as far too long.
    scene = Scene(location=Location(setting="INT", description="Phòng khách, ban đêm"), duration=4.0,
                  characters=CAST[:2], action="Hai người đối mặt",
                  dialogue=[DialogueLine(speaker=CAST[0], text="Cô mãi mãi không phải người nhà này."),
                            DialogueLine(speaker=CAST[1], text="Vậy thì chứng minh đi.")], camera="medium")
    assert speech_overrun(1, scene, "vi", SPEECH_UNITS_PER_SECOND["vi"]) is None


# ----------------------------------------------------------------------------------- offline writer


def _write(*overrides: str):
    cfg = load_config(["series=demo_vi", *overrides])
    brief = SeriesBrief.from_config(cfg)
    writer = make_writer(cfg.llm)
    outline = writer.write_outline(brief)
    return brief, outline, [writer.write_episode(brief, outline, e) for e in outline.episodes]


@pytest.fixture(scope="module")
def voice() -> EspeakVoice:
    return EspeakVoice()


@pytest.mark.parametrize("durations", [(), ("series.scene_duration.min=2", "series.scene_duration.max=3")],
                         ids=["demo_vi", "tiny"])
def test_offline_vietnamese_script_validates_and_its_lines_fit_their_scenes(durations, voice):
    brief, outline, scripts = _write(*durations)
    assert outline.language == "vi" and all(s.language == "vi" for s in scripts)
    assert language_problem(outline.synopsis, "vi", ignore=brief.cast_names) is None
    voices = {c.name: voice_for_character(i, c.gender, "vi") for i, c in enumerate(brief.cast)}
    for script in scripts:
        check_script(script, brief.cast_names)
        # A 2-second scene may get a note that it sounds rushed (as in English); never a hard problem.
        assert [f.text for f in local_findings(brief, script.scenes) if f.hard or not durations] == []
        for scene in script.scenes:
            lines = [SpokenLine(line.speaker, line.text, voices[line.speaker]) for line in scene.dialogue]
            _, cues = render_scene_dialogue(lines, scene.duration, voice, sample_rate=16000)
            assert [c.text for c in cues] == [line.text for line in scene.dialogue], "a line was dropped"
            assert cues[-1].end < scene.duration - 0.05, f"the last line was cut: {scene.dialogue}"


def test_offline_writer_is_deterministic_in_vietnamese():
    assert _write()[1:] == _write()[1:]


# ----------------------------------------------------------------------------------- language check


@pytest.mark.parametrize("text", [
    "Sign it, or leave tonight.", "You will never be one of us.", "Then prove it.",
    "This changes everything.", "Who gave you this photo?",
])
def test_english_in_a_vietnamese_series_is_a_problem(text):
    assert language_problem(text, "vi") == "is not written in Vietnamese"


def test_other_scripts_and_stripped_marks_are_problems_for_vietnamese():
    assert language_problem("这张照片是谁给你的？", "vi") == "is not written in Vietnamese"
    assert language_problem("Zhe zhang zhaopian shi shei gei ni de", "vi") == "is not written in Vietnamese"
    assert "diacritics" in language_problem("Toi biet het moi chuyen roi, dung co gia vo nua", "vi")


@pytest.mark.parametrize("text", [
    STACKED, unicodedata.normalize("NFD", STACKED), "Không... không thể nào.", "Đủ rồi!", "Con xin ba tha cho con.",
    "Anh gửi email cho tôi đi.", "OK",
])
def test_vietnamese_passes_in_either_unicode_form_and_with_a_loanword(text):
    assert language_problem(text, "vi") is None


def test_vietnamese_in_an_english_or_chinese_series_is_a_problem():
    assert language_problem("Cô mãi mãi không phải người nhà này.", "en") == "is not written in English"
    assert language_problem("Cô mãi mãi không phải người nhà này.", "zh") == "is not written in Simplified Chinese"
    assert language_problem("Meet me at the Café Đông Du tonight.", "en") is None


def test_cast_names_do_not_count_and_local_findings_flag_an_english_line():
    assert language_problem(f"{CAST[0]}!", "en", ignore=CAST) is None
    brief, _, scripts = _write()
    scene = scripts[0].scenes[0]
    english = scene.model_copy(update={"dialogue": [DialogueLine(speaker=scene.characters[0],
                                                                 text="You were never welcome here.")]})
    findings = [f.text for f in local_findings(brief, [english, *scripts[0].scenes[1:]])]
    assert any("is not written in Vietnamese" in f for f in findings), findings


def test_prompts_ask_for_vietnamese_with_its_marks():
    brief, _, _ = _write()
    order = _language(brief)
    assert order.startswith("Language: Vietnamese (tiếng Việt).") and "có dấu đầy đủ" in order
    assert order in outline_messages(brief)[1]["content"]


# ----------------------------------------------------------------------------------- voice


def test_espeak_has_the_vietnamese_voice_and_dictionary():
    import espeakng_loader

    data = Path(espeakng_loader.get_data_path())
    assert (data / "vi_dict").is_file() and (data / "lang" / "aav" / "vi").is_file()
    assert espeak_language("vi") == espeak_language("vi-VN") == "vi"


def test_vietnamese_voice_reads_vietnamese_and_grows_with_the_text(voice):
    spec = voice_for_character(0, "female", "vi")
    short = voice.synthesize("Không thể nào.", spec)
    long = voice.synthesize(STACKED, spec)
    assert np.sqrt(np.mean(long.astype(np.float64) ** 2)) > 0.02
    seconds = len(long) / voice.sample_rate
    assert len(short) / voice.sample_rate < 0.6 * seconds
    assert 11 / 7 < seconds < 11 / 2.5, "about 3-6 syllables a second"
    # Without the vi dictionary, eSpeak spells out the marked letters ("letter one E ..."): far longer.
    spelled = voice.synthesize(STACKED, VoiceSpec("en-us", spec.variant, spec.pitch, spec.rate))
    assert len(spelled) > 1.5 * len(long)


def test_vietnamese_cast_gets_distinct_voices(voice):
    cfg = load_config(["series=demo_vi"])
    specs = [voice_for_character(i, c.gender, "vi") for i, c in enumerate(cfg.series.cast.values())]
    assert all(s.language == "vi" for s in specs)
    assert len({(s.variant, s.pitch) for s in specs}) == len(specs)
    audio = [voice.synthesize("Tôi biết hết rồi.", s) for s in specs]
    assert all(len(a) > 0.3 * voice.sample_rate for a in audio)
    assert len({a.tobytes() for a in audio}) == len(audio)


# ----------------------------------------------------------------------------------- subtitles


def test_bundled_font_draws_every_vietnamese_letter():
    face = ImageFont.truetype(str(font_path()), 32)

    def drawn(ch: str) -> np.ndarray:
        image = Image.new("L", (64, 64))
        ImageDraw.Draw(image).text((8, 8), ch, font=face, fill=255)
        return np.asarray(image)

    missing_glyph = drawn("\ue000")  # a private-use code point the font lacks: it draws .notdef, a box
    assert missing_glyph.any()
    missing = [ch for ch in VIETNAMESE_LETTERS if np.array_equal(drawn(ch), missing_glyph)]
    assert missing == []
    assert font_family("vi") == font_family("en") == "Noto Sans CJK TC Medium"


def test_burned_in_vietnamese_subtitles_show_and_the_track_is_tagged_vie(tmp_path):
    from shortdrama.audio.wav import write_wav
    from shortdrama.media import probe, read_subtitles
    from shortdrama.render import EpisodeRender, render_episode
    from shortdrama.subtitles import Cue, SubtitleStyle, format_ass, format_srt
    from shortdrama.video.animatic import AnimaticVideo
    from shortdrama.video.base import ClipRequest, Encoding

    import av

    enc = Encoding(width=288, height=512, fps=12, crf=23, preset="ultrafast")
    Image.new("RGB", (enc.width, enc.height), (20, 30, 50)).save(tmp_path / "kf.png")
    clip = tmp_path / "sc.mp4"
    AnimaticVideo().generate(ClipRequest(tmp_path / "kf.png", "static", 2.0, enc), clip)
    write_wav(tmp_path / "mix.wav", np.zeros(96000, dtype=np.float32), 48000)
    (tmp_path / "ep.srt").write_text(format_srt([Cue(0.1, 1.9, STACKED)]), encoding="utf-8")
    (tmp_path / "ep.ass").write_text(format_ass([Cue(0.1, 1.9, STACKED)], SubtitleStyle(), "vi"), encoding="utf-8")
    out = tmp_path / "final.mp4"
    render_episode(EpisodeRender(clips=(clip,), audio=tmp_path / "mix.wav", subtitles=tmp_path / "ep.srt",
                                 encoding=enc, audio_bitrate="96k", soft_subtitles=True, burn_subtitles=True,
                                 language="vi", title="Người ấy trở về", durations=(2.0,), ass=tmp_path / "ep.ass"), out)
    assert probe(out).first("subtitle").language == "vie"
    assert [text for _, _, text in read_subtitles(out)] == [STACKED]

    def frame(path: Path) -> np.ndarray:
        with av.open(str(path)) as container:
            for f in container.decode(video=0):
                if f.time >= 1.0:
                    return f.to_ndarray(format="gray").astype(float)
        raise AssertionError("no frame at 1 s")

    text = np.abs(frame(out) - frame(clip))[int(enc.height * 0.6):]
    assert (text > 60).sum() > 150, "libass drew no subtitle pixels"


def test_the_keyframe_painter_reads_vietnamese_places_and_times():
    """The storyboard paints what a Vietnamese location says: the time of day, the kind of room or street,
    rain (as it does for English and Chinese places)."""
    from shortdrama.keyframes import props
    from shortdrama.keyframes.backdrops import RAIN, time_of_day

    def painter(place: str, table) -> str:  # noqa: ANN001
        return next(paint.__name__ for pattern, paint in table if re.search(pattern, place.lower()))

    assert [time_of_day(p) for p in ("Hành lang bệnh viện, ban đêm", "Gian bếp nhà họ Trần, buổi sáng",
                                     "Khu vườn của biệt thự, lúc hoàng hôn", "Văn phòng kính, ban ngày")] == [
        "night", "morning", "evening", "day"]
    assert painter("Hành lang bệnh viện, ban đêm", props.INTERIORS) == "hospital"
    assert painter("Gian bếp nhà họ Trần, buổi sáng", props.INTERIORS) == "kitchen"
    assert painter("Phòng riêng trong nhà hàng, buổi tối", props.INTERIORS) == "restaurant"
    assert painter("Văn phòng kính của công ty gia đình", props.INTERIORS) == "office"
    assert painter("Phòng khách nhà họ Trần, ban đêm", props.INTERIORS) == "living_room"
    assert painter("Con phố trước biệt thự, đêm mưa", props.EXTERIORS) == "street"
    assert painter("Khu vườn của biệt thự, lúc hoàng hôn", props.EXTERIORS) == "park"
    assert painter("Sân thượng tòa nhà, ban đêm", props.EXTERIORS) == "rooftop"
    assert re.search(RAIN, "con phố trước biệt thự, đêm mưa") and not re.search(RAIN, "phòng khách, ban ngày")


def test_decomposed_text_from_a_model_is_stored_composed():
    """NFD text (a base letter plus combining marks) becomes NFC at the edge, so subtitles and voice
    get one spelling of every letter."""
    composed = "Người ấy đã trở về."
    line = DialogueLine(speaker="Nguyễn Hoài Thu", text=unicodedata.normalize("NFD", composed))
    assert line.text == composed and unicodedata.is_normalized("NFC", line.text)
    assert len(unicodedata.normalize("NFD", composed)) > len(composed)
