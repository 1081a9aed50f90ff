"""Platform delivery (shortdrama.deliver): the encode obeys the platform's frame, rate, size and loudness,
its burned captions are found where they really are and judged against the platform's interface bands,
the cover carries the title in the bundled font, and every preset is a valid, vertical platform."""

from pathlib import Path

import numpy as np
import pytest

from shortdrama.audio.wav import write_wav
from shortdrama.config import load_config
from shortdrama.config.deliver import DeliverConfig
from shortdrama.deliver.checks import caption_rows, check_delivery
from shortdrama.deliver.cover import description, draw_cover
from shortdrama.deliver.encode import DeliveryEncode, caption_margin, encode_delivery, peak_rate
from shortdrama.errors import ConfigError, MediaError
from shortdrama.media import probe, run_ffmpeg
from shortdrama.qc.audio_analysis import analyse_audio

STYLE = {"font_size": 12, "primary_colour": "&H00FFFFFF", "outline_colour": "&HA0000000", "border_style": 1,
         "outline": 1.8, "shadow": 0.8, "margin_v": 78}
LIMITS = {**DeliverConfig(platform="testtok", width=540, height=960, fps=30, max_mb=30, max_duration_s=60,
                          preset="veryfast").model_dump(mode="json")}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("deliver")
    scenes = []
    for n, colour in enumerate(("0x3060a0", "0x70a040"), 1):
        clip = folder / f"sc{n:02d}.mp4"
        run_ffmpeg(["-f", "lavfi", "-i", f"color=c={colour}:size=360x640:rate=24", "-t", "2", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(clip)])
        scenes.append(clip)
    t = np.arange(48000 * 4) / 48000
    mix = folder / "mix.wav"
    write_wav(mix, (0.05 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 48000)  # about -29 LUFS
    from shortdrama.subtitles import SubtitleStyle, episode_cues, write_episode_subtitles

    srt, ass = folder / "episode.srt", folder / "episode.ass"
    cues = [[{"speaker": "A", "text": "You came back.", "start": 0.3, "end": 1.6}],
            [{"speaker": "B", "text": "我一直都在。", "start": 0.3, "end": 1.7}]]
    write_episode_subtitles(episode_cues(cues, [2.0, 2.0]), SubtitleStyle.of(STYLE), "zh", srt, folder / "e.vtt", ass)
    low = folder / "low.ass"  # a style whose captions sit almost on the bottom edge
    write_episode_subtitles(episode_cues(cues, [2.0, 2.0]), SubtitleStyle.of({**STYLE, "margin_v": 4}), "zh",
                            folder / "low.srt", folder / "low.vtt", low)
    return {"scenes": scenes, "mix": mix, "srt": srt, "ass": ass, "low_ass": low, "folder": folder}


def _encode(inputs: dict, out: Path, margin: int, ass: str = "ass") -> None:
    enc = DeliveryEncode(width=540, height=960, fps=30, crf=23, preset="veryfast", video_kbps=2000, audio_kbps=128,
                         loudness_lufs=-14.0, true_peak_dbtp=-1.0, caption_margin=margin, faststart=True)
    encode_delivery(inputs["scenes"], inputs["mix"], inputs["srt"], inputs[ass], 4.0, "The Letter", "zh", True, True,
                    enc, out)


def _sources(inputs: dict) -> list:
    return [(inputs["scenes"][0], 0.0, 2.0), (inputs["scenes"][1], 2.0, 4.0)]


CUES = [(0.3, 1.6), (2.3, 3.7)]


def test_the_encode_meets_the_platform_and_its_captions_sit_above_the_bottom_band(inputs):
    out = inputs["folder"] / "ok.mp4"
    _encode(inputs, out, caption_margin(0.2, STYLE["margin_v"]))
    info = probe(out)
    video = info.first("video")
    assert (video.codec, video.width, video.height, round(video.fps)) == ("h264", 540, 960, 30)
    assert info.first("audio").codec == "aac" and info.first("subtitle").codec == "mov_text"
    assert info.duration == pytest.approx(4.0, abs=0.05)
    assert analyse_audio(out).integrated_lufs == pytest.approx(-14.0, abs=1.0), "the quiet mix brought to -14 LUFS"
    rows = caption_rows(out, _sources(inputs), CUES, (540, 960))
    assert len(rows) == 2 and all(bottom < 960 * 0.8 for _, _, bottom in rows), rows
    assert all(top > 960 * 0.5 for _, top, _ in rows), "the captions are in the lower half, where they were put"
    report = check_delivery(out, LIMITS, 4.0, rows)
    assert report["passed"], report["flags"]
    assert report["measured"]["bytes"] == out.stat().st_size


def test_captions_under_the_platforms_interface_and_other_limits_are_flagged(inputs):
    low = inputs["folder"] / "low.mp4"
    _encode(inputs, low, 4, "low_ass")  # a style with its captions almost at the bottom edge, not raised
    rows = caption_rows(low, _sources(inputs), CUES, (540, 960))
    assert rows and all(bottom > 960 * 0.8 for _, _, bottom in rows)
    strict = {**LIMITS, "max_duration_s": 3.0, "max_mb": low.stat().st_size / 2e6, "loudness_lufs": -24.0}
    report = check_delivery(low, strict, 4.0, rows)
    checks = sorted({f["check"] for f in report["flags"]})
    assert checks == ["duration", "loudness", "safe_area", "size"] and not report["passed"]
    assert any("bottom interface" in f["message"] for f in report["flags"])


def test_the_rate_fits_the_size_cap_and_an_episode_too_long_for_it_is_one_line():
    assert peak_rate(8000, 192, None, 180) == 8000
    assert peak_rate(8000, 192, 72_000_000, 60) == 8000, "a minute fits 72 MB at the full rate"
    assert peak_rate(8000, 192, 72_000_000, 120) == int(0.92 * 72_000_000 * 8 / 1000 / 120 - 192)
    assert peak_rate(8000, 192, 72_000_000, 600) == int(0.92 * 72_000_000 * 8 / 1000 / 600 - 192)
    with pytest.raises(MediaError, match="cannot fit 10 MB"):
        peak_rate(8000, 192, 10_000_000, 3600)
    assert caption_margin(0.2, 78) == 78 and caption_margin(0.4, 78) == 122


def test_the_cover_is_the_keyframe_at_cover_size_with_the_title_in_the_upper_third(inputs, tmp_path):
    from PIL import Image

    keyframe = tmp_path / "kf.png"
    Image.new("RGB", (720, 1280), (40, 90, 160)).save(keyframe)
    out = tmp_path / "cover.jpg"
    box = draw_cover(keyframe, "她终于知道了三天前那封信的真相", 1080, 1920, 0.06, out)
    with Image.open(out) as cover:
        assert cover.size == (1080, 1920) and cover.format == "JPEG"
        pixels = np.asarray(cover.convert("RGB"), dtype=np.int16)
    assert 1920 * 0.06 < box.top < box.bottom < 1920 / 3 and 0 <= box.left < box.right <= 1080
    assert len(box.lines) >= 2, "a long CJK title wraps by characters"
    inside = pixels[box.top:box.bottom, box.left:box.right]
    assert (inside.min(axis=2) > 230).mean() > 0.03, "white title strokes drawn in the box"
    assert np.abs(pixels[1500:1600, :] - [40, 90, 160]).max() < 12, "the picture below is the keyframe's"
    text = description("Three Days", 1, "The Slap", "A slap at dinner.", "She opens the letter.")
    assert text.splitlines()[0] == "Three Days · 1: The Slap" and "A slap at dinner." in text and "letter" in text


def test_every_preset_is_a_vertical_platform_with_its_source_and_a_horizontal_one_is_refused():
    for platform in ("tiktok", "youtube_shorts", "douyin", "kuaishou"):
        cfg = load_config([f"deliver={platform}"]).deliver
        assert cfg.platform == platform and cfg.height > cfg.width and cfg.source and cfg.checked
        assert cfg.loudness_lufs == -14.0 and 0 < cfg.bottom_ui < 0.5
    assert not load_config([]).deliver.enabled
    with pytest.raises(ConfigError, match="not vertical"):
        load_config(["deliver=tiktok", "deliver.width=1920", "deliver.height=1080"])


def test_a_silent_mix_is_one_line_before_any_encode(tmp_path):
    from shortdrama.deliver.encode import measure_loudness

    silent = tmp_path / "mix.wav"
    write_wav(silent, np.zeros(48000 * 2, dtype=np.float32), 48000)
    with pytest.raises(MediaError, match="the mix is silent, nothing to bring to -14.0 LUFS"):
        measure_loudness(silent, -14.0, -1.5)
