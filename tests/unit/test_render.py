"""The final render on tiny real inputs: streams, duration, soft subtitles and burned-in CJK text."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shortdrama.audio.wav import write_wav
from shortdrama.media import probe, read_subtitles
from shortdrama.render import EpisodeRender, render_episode
from shortdrama.subtitles import Cue, format_srt
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
    (work / "episode.srt").write_text(format_srt(CUES), encoding="utf-8")
    return work, clips


def _job(work, clips, burn: bool) -> EpisodeRender:
    return EpisodeRender(clips=tuple(clips), audio=work / "mix.wav", subtitles=work / "episode.srt", encoding=ENC,
                         audio_bitrate="96k", soft_subtitles=True, burn_subtitles=burn, language="zh",
                         title="Test", durations=DURATIONS)


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
