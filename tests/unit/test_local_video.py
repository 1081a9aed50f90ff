"""Local image-to-video clips, tested like diffusers tests Wan: tiny seeded random pipelines built in code, real
loading from a local directory, real x264 encoding, then properties (exact frame counts and size, the fit the
report names, same seed -> same clip). The fitting arithmetic is tested on its own, without a model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from shortdrama.errors import ConfigError, ProviderError  # noqa: E402
from shortdrama.media import probe, run_ffmpeg  # noqa: E402
from shortdrama.video.animatic import AnimaticVideo  # noqa: E402
from shortdrama.video.base import ClipRequest, Encoding, frame_count  # noqa: E402
from shortdrama.video.diffusion import LocalVideoSettings, generate_local_clip  # noqa: E402
from shortdrama.video.fit import (  # noqa: E402
    FrameSource,
    interpolate_plan,
    ping_pong_index,
    plan_frames,
    render_plan,
)
from shortdrama.testing.tiny_wan import build_tiny_wan_i2v_model  # noqa: E402
from shortdrama.video.wan_model import check_model_dir, load_wan_pipeline  # noqa: E402

ENC = Encoding(width=64, height=96, fps=24, crf=23, preset="ultrafast")
PROMPT = "she turns towards the window, rain outside"
NATIVE = 9  # tiny clips: 9 frames at 16 fps = 0.5625 s
LONGER, SHORTER = 1.0, 0.25  # scene seconds: one past the native clip, one inside it


# No network and one torch thread for the whole module (fixtures in conftest.py).
pytestmark = pytest.mark.usefixtures("offline", "one_thread")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, offline, one_thread) -> Path:
    return build_tiny_wan_i2v_model(tmp_path_factory.mktemp("tiny-wan") / "model", seed=0)


@pytest.fixture(scope="module")
def keyframe(tmp_path_factory) -> Path:
    """Landscape on purpose: the portrait generation size and the clip size both crop it (cover)."""
    path = tmp_path_factory.mktemp("kf") / "kf.png"
    image = Image.new("RGB", (120, 80), (30, 40, 60))
    ImageDraw.Draw(image).rectangle([40, 10, 80, 70], fill=(220, 180, 90))
    image.save(path)
    return path


def _settings(model_dir: Path, **overrides) -> LocalVideoSettings:
    values = dict(model_dir=model_dir, steps=2, gen_width=32, gen_height=48, num_frames=NATIVE, native_fps=16)
    return LocalVideoSettings(**{**values, **overrides})


def _decoded(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


# ---- fitting: pure frame arithmetic ----

@pytest.mark.parametrize("native,native_fps,seconds,fps", [(81, 16, 3.0, 24), (81, 16, 5.0, 30), (9, 16, 0.25, 24),
                                                            (9, 16, 0.5625, 16), (81, 16, 2.0, 12)])
def test_trim_plays_native_speed_and_drops_the_end(native, native_fps, seconds, fps):
    out = frame_count(seconds, fps)
    plan = plan_frames(native, native_fps, out, fps, "interpolate")
    assert plan.fit == "trimmed" and len(plan.sources) == out
    assert [s.lo for s in plan.sources] == [i * native_fps // fps for i in range(out)]
    assert all(s.weight == 0.0 and s.lo == s.hi < native for s in plan.sources)
    assert plan.slowdown == 1.0


@pytest.mark.parametrize("native,native_fps,seconds,fps", [(81, 16, 8.0, 24), (81, 16, 6.0, 30), (9, 16, 1.0, 24),
                                                            (9, 16, 2.0, 12), (5, 16, 0.7, 25)])
def test_interpolate_slows_down_with_blended_in_betweens(native, native_fps, seconds, fps):
    out = frame_count(seconds, fps)
    plan = plan_frames(native, native_fps, out, fps, "interpolate")
    assert plan.fit == "interpolated" and len(plan.sources) == out
    assert plan.slowdown == pytest.approx((out / fps) / (native / native_fps))
    assert plan.slowdown > 1 and f"slowed x{plan.slowdown:.3g}" in plan.detail
    positions = [s.lo + s.weight for s in plan.sources]
    assert positions == pytest.approx([min(i * native / out, native - 1) for i in range(out)])
    assert plan.sources[0] == FrameSource(0, 0, 0.0) and plan.sources[-1].lo >= native - 2
    for s in plan.sources:
        assert (s.hi == s.lo + 1 and 0 < s.weight < 1) or (s.hi == s.lo and s.weight == 0.0)
    assert any(s.weight > 0 for s in plan.sources)


def test_ping_pong_never_repeats_the_turning_frame():
    assert [ping_pong_index(i, 4) for i in range(13)] == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0]
    assert [ping_pong_index(i, 1) for i in range(3)] == [0, 0, 0]


@pytest.mark.parametrize("native,native_fps,seconds,fps", [(9, 16, 1.0, 16), (9, 16, 1.0, 24), (81, 16, 12.0, 24),
                                                            (81, 16, 7.3, 30)])
def test_loop_plays_forward_and_back_at_native_speed(native, native_fps, seconds, fps):
    out = frame_count(seconds, fps)
    plan = plan_frames(native, native_fps, out, fps, "loop")
    assert plan.fit == "looped" and len(plan.sources) == out
    assert [s.lo for s in plan.sources] == [ping_pong_index(i * native_fps // fps, native) for i in range(out)]
    assert all(s.weight == 0.0 for s in plan.sources)
    turn = -(-native * fps // native_fps)  # the first output frame on the way back
    assert plan.sources[turn].lo < native - 1


def test_exact_native_length_is_trimmed_and_one_frame_more_is_extended():
    assert plan_frames(9, 16, 9, 16, "loop").fit == "trimmed"
    assert plan_frames(9, 16, 10, 16, "loop").fit == "looped"
    assert plan_frames(81, 16, 121, 24, "interpolate").fit == "trimmed"  # 5.0625 s vs 5.0417 s
    assert plan_frames(81, 16, 122, 24, "interpolate").fit == "interpolated"  # 5.0833 s


def test_render_blends_the_two_neighbours():
    native = np.stack([np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 200, np.uint8)])
    plan = interpolate_plan(2, 16, 4, 16)  # positions 0, 0.5, 1 (held), 1
    frames = list(render_plan(native, plan))
    assert [int(f[0, 0, 0]) for f in frames] == [0, 100, 200, 200]


def test_unknown_extend_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="interpolate, loop"):
        plan_frames(9, 16, 30, 24, "freeze")


# ---- settings ----

def test_num_frames_must_be_4k_plus_1(tmp_path):
    with pytest.raises(ConfigError, match=r"num_frames=10.*4k\+1.*use 9 or 13"):
        LocalVideoSettings(model_dir=tmp_path, num_frames=10)


@pytest.mark.parametrize("field,value,message", [("gen_width", 100, "multiple of 16"), ("extend", "freeze", "loop"),
                                                 ("pipeline", "cogvideox", "wan_i2v, wan22_ti2v, wan22_i2v")])
def test_bad_settings_are_config_errors(tmp_path, field, value, message):
    with pytest.raises(ConfigError, match=message):
        LocalVideoSettings(model_dir=tmp_path, **{field: value})


# ---- the model directory ----

def test_missing_model_dir_says_what_to_download(tmp_path, keyframe):
    where = tmp_path / "models" / "Wan2.1-I2V-14B-480P-Diffusers"
    with pytest.raises(ProviderError) as caught:
        generate_local_clip(_settings(where), keyframe, PROMPT, 0, 1.0, ENC, tmp_path / "clip.mp4")
    message = str(caught.value)
    assert f"hf download Wan-AI/Wan2.1-I2V-14B-480P-Diffusers --local-dir {where}" in message
    assert "\n" not in message
    assert not (tmp_path / "clip.mp4").exists()


def test_incomplete_model_dir_lists_the_missing_parts(tmp_path, model_dir):
    partial = tmp_path / "partial"
    shutil.copytree(model_dir, partial)
    shutil.rmtree(partial / "image_encoder")
    for weights in (partial / "transformer").glob("*.safetensors"):
        weights.unlink()
    expected = r"missing image_encoder, transformer \(no weights\): download it with `hf download"
    with pytest.raises(ProviderError, match=expected):
        check_model_dir(partial, "wan_i2v")
    assert check_model_dir(model_dir, "wan_i2v") == model_dir


# ---- clips from the tiny model ----

@pytest.mark.parametrize("extend,seconds,fit", [("interpolate", LONGER, "interpolated"), ("loop", LONGER, "looped"),
                                                ("interpolate", SHORTER, "trimmed")])
def test_clip_has_exact_frames_size_and_fit(tmp_path, model_dir, keyframe, extend, seconds, fit):
    out = tmp_path / "clip.mp4"
    report = generate_local_clip(_settings(model_dir, extend=extend), keyframe, PROMPT, 7, seconds, ENC, out,
                                 device="cpu")
    frames = frame_count(seconds, ENC.fps)
    info = probe(out)
    video = info.first("video")
    assert (video.codec, video.width, video.height, video.fps) == ("h264", ENC.width, ENC.height, ENC.fps)
    assert info.first("audio") is None
    assert len(_decoded(out)) == frames
    assert info.duration == pytest.approx(frames / ENC.fps, abs=1e-3)
    assert (report.fit, report.frames, report.fps, report.native_frames) == (fit, frames, ENC.fps, NATIVE)
    assert report.native_seconds == pytest.approx(NATIVE / 16) and report.device == "cpu"
    if fit == "interpolated":
        assert report.slowdown == pytest.approx(1.0 / (NATIVE / 16), rel=1e-3)
        assert "interpolated, slowed x1.78" in report.summary()


def test_same_seed_same_clip_and_another_seed_another(tmp_path, model_dir, keyframe):
    clips = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_local_clip(_settings(model_dir), keyframe, PROMPT, seed, SHORTER, ENC, tmp_path / f"{name}.mp4")
        clips[name] = np.stack(_decoded(tmp_path / f"{name}.mp4")).astype(float)
    assert np.array_equal(clips["a"], clips["b"])
    assert np.abs(clips["a"] - clips["c"]).mean() > 0.5


def test_clip_concatenates_with_an_animatic_by_stream_copy(tmp_path, model_dir, keyframe):
    local, animatic, joined = tmp_path / "local.mp4", tmp_path / "animatic.mp4", tmp_path / "joined.mp4"
    generate_local_clip(_settings(model_dir, extend="loop"), keyframe, PROMPT, 0, LONGER, ENC, local)
    AnimaticVideo().generate(ClipRequest(keyframe, "static", 0.5, ENC), animatic)
    listing = tmp_path / "list.txt"
    listing.write_text(f"file '{local}'\nfile '{animatic}'\n", encoding="utf-8")
    run_ffmpeg(["-f", "concat", "-safe", "0", "-i", listing, "-c", "copy", joined])
    assert len(_decoded(joined)) == frame_count(LONGER, ENC.fps) + frame_count(0.5, ENC.fps)


@pytest.mark.parametrize("pipeline,gen_size", [("wan22_ti2v", (32, 64)), ("wan22_i2v", (32, 48))])
def test_wan22_layouts_make_clips_too(tmp_path, keyframe, pipeline, gen_size):
    model = build_tiny_wan_i2v_model(tmp_path / pipeline, seed=0, pipeline=pipeline)
    settings = _settings(model, pipeline=pipeline, gen_width=gen_size[0], gen_height=gen_size[1])
    report = generate_local_clip(settings, keyframe, PROMPT, 0, LONGER, ENC, tmp_path / "clip.mp4")
    assert report.fit == "interpolated" and len(_decoded(tmp_path / "clip.mp4")) == frame_count(LONGER, ENC.fps)


def test_wan22_ti2v_needs_sizes_in_multiples_of_32(tmp_path, keyframe):
    model = build_tiny_wan_i2v_model(tmp_path / "ti2v", seed=0, pipeline="wan22_ti2v")
    with pytest.raises(ConfigError, match="multiples of 32"):
        generate_local_clip(_settings(model, pipeline="wan22_ti2v", gen_width=48, gen_height=64), keyframe, PROMPT,
                            0, LONGER, ENC, tmp_path / "clip.mp4")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_runs_the_transformer_in_bf16_and_the_vae_in_fp32(tmp_path, model_dir, keyframe):
    pipe = load_wan_pipeline(model_dir, "wan_i2v", "cuda")
    assert pipe.transformer.dtype == pipe.text_encoder.dtype == torch.bfloat16
    assert pipe.vae.dtype == pipe.image_encoder.dtype == torch.float32
    assert pipe.transformer.device.type == "cuda"
    out = tmp_path / "clip.mp4"
    report = generate_local_clip(_settings(model_dir), keyframe, PROMPT, 0, LONGER, ENC, out)
    assert report.device == "cuda" and report.frames == frame_count(LONGER, ENC.fps) and out.stat().st_size > 0
