"""The final render on tiny real inputs: streams, duration, soft subtitles and burned-in CJK text."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shortdrama.audio.wav import write_wav
from shortdrama.errors import SchemaError
from shortdrama.media import probe, read_subtitles
from shortdrama.render import EpisodeRender, render_episode
from shortdrama.subtitles import Cue, SubtitleStyle, format_ass, format_srt
from shortdrama.video.animatic import AnimaticVideo
from shortdrama.video.base import ClipRequest, Encoding

ENC = Encoding(width=288, height=512, fps=12, crf=23, preset="ultrafast")
DURATIONS = (1.5, 2.0)
CUES = [Cue(0.2, 1.4, "第一句台词"), Cue(1.7, 3.3, "Second line")]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    work = tmp_path_factory.mktemp("render")
    Image.new("RGB", (ENC.width, ENC.height), (20, 30, 50)).save(work / "kf.png")
    clips = []
    for i, duration in enumerate(DURATIONS):
        clip = work / f"sc{i}.mp4"
        AnimaticVideo().generate(ClipRequest(work / "kf.png", "static", duration, ENC), clip)
        clips.append(clip)
    t = np.arange(int(48000 * sum(DURATIONS))) / 48000
    write_wav(work / "mix.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 48000)
    _write(work / "episode", CUES)
    return work, clips


def _write(stem: Path, cues, style: SubtitleStyle = SubtitleStyle()) -> None:
    """The SRT (soft track) and the styled ASS (burn-in) write_subtitles makes of `cues`."""
    stem.with_suffix(".srt").write_text(format_srt(cues), encoding="utf-8")
    stem.with_suffix(".ass").write_text(format_ass(cues, style, "zh"), encoding="utf-8")


def _job(work, clips, burn: bool, subtitles: str = "episode.srt", title: str = "Test") -> EpisodeRender:
    return EpisodeRender(clips=tuple(clips), audio=work / "mix.wav", subtitles=work / subtitles, encoding=ENC,
                         audio_bitrate="96k", soft_subtitles=True, burn_subtitles=burn, language="zh",
                         title=title, durations=DURATIONS, ass=(work / subtitles).with_suffix(".ass"))


def _frame_at(path: Path, seconds: float) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_ndarray(format="gray").astype(float)
    raise AssertionError("no frame at that time")


def test_soft_subtitles_streams_and_duration(inputs, tmp_path):
    work, clips = inputs
    out = tmp_path / "final.mp4"
    render_episode(_job(work, clips, burn=False), out)
    info = probe(out)
    video, audio, subs = info.first("video"), info.first("audio"), info.first("subtitle")
    assert (video.codec, video.width, video.height, video.fps) == ("h264", 288, 512, 12.0)
    assert audio.codec == "aac" and audio.sample_rate == 48000
    assert subs.codec == "mov_text" and subs.language == "chi"
    assert abs(info.duration - sum(DURATIONS)) <= 0.1
    texts = [text for _, _, text in read_subtitles(out)]
    assert texts == [c.text for c in CUES]
    data = out.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat"), "+faststart puts the index first"


def test_burned_in_cjk_subtitles_are_visible(inputs, tmp_path):
    work, clips = inputs
    plain, burned = tmp_path / "plain.mp4", tmp_path / "burned.mp4"
    render_episode(_job(work, clips, burn=False), plain)
    render_episode(_job(work, clips, burn=True), burned)
    during_cue = np.abs(_frame_at(burned, 0.8) - _frame_at(plain, 0.8))
    lower_third = during_cue[int(ENC.height * 0.6):]
    assert (lower_third > 60).sum() > 150, "libass drew no subtitle pixels: font not found?"
    between_cues = np.abs(_frame_at(burned, 1.55) - _frame_at(plain, 1.55))
    assert (between_cues > 60).sum() < 20


# Dialogue that tries to style, move or forge subtitles: each cue must show its text as written.
WJ = "\u2060"
HOSTILE = [Cue(0.2, 1.4, "{\\an8}{\\pos(10,10)}<b>TOP</b>"),
           Cue(1.6, 2.4, "Run!\n\n99\n00:00:00,000 --> 00:00:04,500\nFORGED"),
           Cue(2.6, 3.3, "NUL\x00<i>here</i> <font color=\"red\">C:\\New</font>")]
SHOWN = ["{\\an8}{\\pos(10,10)}<b>TOP</b>", "Run! 99 00:00:00,000 --> 00:00:04,500 FORGED",
         "NUL <i>here</i> <font color=\"red\">C:\\New</font>"]


def _mov_text_samples(path: Path) -> list[tuple[float, float, str]]:
    """The soft track's cues as stored: a 3GPP timed-text sample is a 16-bit length and UTF-8 text."""
    import av

    samples = []
    with av.open(str(path)) as container:
        stream = container.streams.subtitles[0]
        for packet in container.demux(stream):
            data = bytes(packet)
            size = int.from_bytes(data[:2], "big")
            if packet.pts is not None and size:
                start = float(packet.pts * stream.time_base)
                samples.append((start, start + float(packet.duration * stream.time_base), data[2:2 + size].decode()))
    return samples


def test_hostile_dialogue_is_shown_as_written_in_the_soft_and_burned_subtitles(inputs, tmp_path):
    work, clips = inputs
    _write(tmp_path / "hostile", HOSTILE)
    (tmp_path / "mix.wav").symlink_to(work / "mix.wav")
    soft, burned = tmp_path / "soft.mp4", tmp_path / "burned.mp4"
    render_episode(_job(tmp_path, clips, burn=False, subtitles="hostile.srt"), soft)
    render_episode(_job(tmp_path, clips, burn=True, subtitles="hostile.srt"), burned)

    stored = _mov_text_samples(soft)
    assert [(round(a, 3), round(b, 3)) for a, b, _ in stored] == [(0.2, 1.4), (1.6, 2.4), (2.6, 3.3)]
    assert [text.replace(WJ, "") for _, _, text in stored] == SHOWN
    # As FFmpeg decodes the track again: the same cues, no styling tags, the forged timing still text.
    # (PyAV's `dialogue`, which read_subtitles uses, drops any {...} itself, so the first cue reads "<b>TOP</b>".)
    decoded = read_subtitles(soft)
    assert [(round(a, 3), round(b, 3)) for a, b, _ in decoded] == [(0.2, 1.4), (1.6, 2.4), (2.6, 3.3)]
    assert [text.replace(WJ, "") for _, _, text in decoded] == ["<b>TOP</b>", *SHOWN[1:]]

    # libass obeys neither {\an8} nor {\pos}: the line stays at the bottom, where the style puts it,
    # and draws the braces and what is inside them (about 210 px wide; "<b>TOP</b>" alone is about 85).
    during = np.abs(_frame_at(burned, 0.8) - _frame_at(soft, 0.8)) > 60
    assert during[: int(ENC.height * 0.6)].sum() < 20, "an override tag moved the subtitle"
    assert during[int(ENC.height * 0.6):].sum() > 150
    columns = np.nonzero(during)[1]
    assert columns.max() - columns.min() > 150, "libass hid the {...} of the line"


def test_a_title_unsafe_for_metadata_fails_in_one_line_before_ffmpeg(inputs, tmp_path, monkeypatch):
    import shortdrama.render as render

    work, clips = inputs
    monkeypatch.setattr(render, "run_ffmpeg", lambda *a, **k: pytest.fail("ffmpeg ran"))
    for title, problem in [("Ep\x00One", "contains a control character U+0000 at character 3"),
                           ("Ep\nOne", "contains a line break U+000A at character 3"),
                           ("x" * 201, "is longer than 200 characters")]:
        with pytest.raises(SchemaError) as caught:
            render_episode(_job(work, clips, burn=False, title=title), tmp_path / "final.mp4")
        message = str(caught.value)
        assert message.startswith(f"the episode title {title[:80]!r} cannot be the video's title metadata: it {problem}")
        assert "\n" not in message and "\x00" not in message
    assert not (tmp_path / "final.mp4").exists()


def test_the_subtitle_style_is_configuration_and_reaches_the_render_spec(inputs, tmp_path):
    """render.subtitles.* (size, colours, margin) is read from the config, enters the render spec (so a
    style edit re-renders the finals) and, through the ASS, changes what is burned in."""
    from shortdrama.config import SubtitleConfig, load_config
    from shortdrama.stages.render import RenderSpec
    from shortdrama.schemas import EpisodeScript

    script = EpisodeScript.model_validate({"episode": 1, "title": "t", "language": "zh", "mood": "tense", "scenes": [
        {"location": {"setting": "INT", "description": "a room"}, "duration": 1.5, "characters": ["Lin Xiaoyu"],
         "action": "She waits", "camera": "static"}]})
    plain = RenderSpec.of(load_config(), script)
    bigger = RenderSpec.of(load_config(["render.subtitles.font_size=24", "render.subtitles.margin_v=20"]), script)
    assert plain.subtitles == SubtitleConfig().model_dump(mode="json")
    assert bigger.to_json() != plain.to_json() and bigger.subtitles["font_size"] == 24

    work, clips = inputs
    small, large, none = tmp_path / "small.mp4", tmp_path / "large.mp4", tmp_path / "none.mp4"
    render_episode(_job(work, clips, burn=True), small)
    _write(tmp_path / "large", CUES, SubtitleStyle(font_size=24, margin_v=20))
    render_episode(EpisodeRender(**{**_job(work, clips, burn=True).__dict__, "ass": tmp_path / "large.ass"}), large)
    render_episode(_job(work, clips, burn=False), none)
    ink = {name: np.abs(_frame_at(path, 0.8) - _frame_at(none, 0.8)) > 60 for name, path in
           (("small", small), ("large", large))}
    assert ink["large"].sum() > 2 * ink["small"].sum(), "a font twice as large draws more subtitle pixels"
    rows = {name: np.flatnonzero(mask.any(axis=1)) for name, mask in ink.items()}
    assert rows["large"].max() > rows["small"].max(), "a smaller bottom margin puts the line lower"
