from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from shortdrama.errors import ProviderError
from shortdrama.media import probe
from shortdrama.video.animatic import MOVES, AnimaticVideo
from shortdrama.video.base import ClipRequest, Encoding

ENC = Encoding(width=144, height=256, fps=12, crf=23, preset="ultrafast")


@pytest.fixture(scope="module")
def keyframe(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("kf") / "kf.png"
    image = Image.new("RGB", (144, 256), (30, 40, 60))
    draw = ImageDraw.Draw(image)
    for x in range(0, 144, 12):
        draw.rectangle([x, 0, x + 5, 256], fill=(220, 200, 90))
    for y in range(0, 256, 16):
        draw.line([(0, y), (144, y)], fill=(90, 200, 220), width=2)
    image.save(path)
    return path


def _frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="gray").astype(float) for f in container.decode(video=0)]


@pytest.mark.parametrize("camera", ["zoom-in", "pan", "static"])
def test_clip_has_exact_duration_size_and_codec(tmp_path, keyframe, camera):
    out = tmp_path / "clip.mp4"
    AnimaticVideo().generate(ClipRequest(keyframe, camera, 2.5, ENC), out)
    info = probe(out)
    video = info.first("video")
    assert (video.codec, video.width, video.height, video.fps) == ("h264", 144, 256, 12.0)
    assert len(_frames(out)) == 30
    assert info.first("audio") is None


def test_motion_follows_the_camera(tmp_path, keyframe):
    moved = {}
    for camera in ("static", "pan", "zoom-in"):
        out = tmp_path / f"{camera}.mp4"
        AnimaticVideo(strength=0.3).generate(ClipRequest(keyframe, camera, 2.0, ENC), out)
        frames = _frames(out)
        moved[camera] = np.abs(frames[0] - frames[-1]).mean()
    assert moved["static"] < 2.0
    assert moved["pan"] > 10 * max(moved["static"], 0.5)
    assert moved["zoom-in"] > 10 * max(moved["static"], 0.5)


def test_motion_none_holds_the_frame(tmp_path, keyframe):
    out = tmp_path / "held.mp4"
    AnimaticVideo(motion="none").generate(ClipRequest(keyframe, "pan", 1.0, ENC), out)
    frames = _frames(out)
    assert np.abs(frames[0] - frames[-1]).mean() < 2.0


def test_every_camera_direction_has_a_move():
    from shortdrama.schemas import CAMERA_DIRECTIONS

    assert set(MOVES) == set(CAMERA_DIRECTIONS)


def test_unknown_camera_is_a_provider_error(tmp_path, keyframe):
    with pytest.raises(ProviderError, match="dolly"):
        AnimaticVideo().generate(ClipRequest(keyframe, "dolly", 1.0, ENC), tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
