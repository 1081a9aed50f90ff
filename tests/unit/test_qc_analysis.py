"""QC measurements on tiny media made here with the real FFmpeg: each defect is injected into otherwise
good media and must be measured at the right time (within two frames at 24 fps)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from shortdrama.errors import MediaError
from shortdrama.media import run_ffmpeg
from shortdrama.qc.analysis import analyse_video, stream_durations, subtitle_track_cues
from shortdrama.qc.audio_analysis import analyse_audio
from shortdrama.subtitles import Cue, format_srt

SIZE, FPS = "144x256", 24
TWO_FRAMES = 2 / FPS
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", "-r", str(FPS)]


def moving(seconds: float, offset: float = 0.0) -> str:
    """A moving test pattern; `offset` starts it later in its animation, so two pieces differ."""
    return f"testsrc2=s={SIZE}:r={FPS}:d={seconds + offset},trim=start={offset},setpts=PTS-STARTPTS"


def video(path: Path, graph: str) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", graph, *X264, str(path)])
    return path


def joined(path: Path, *pieces: str) -> Path:
    """The pieces (lavfi graphs) one after another in one H.264 clip."""
    args = [arg for piece in pieces for arg in ("-f", "lavfi", "-i", piece)]
    links = "".join(f"[{i}:v]" for i in range(len(pieces)))
    run_ffmpeg([*args, "-filter_complex", f"{links}concat=n={len(pieces)}:v=1:a=0[v]", "-map", "[v]", *X264, str(path)])
    return path


def wav(path: Path, graph: str, codec: str = "pcm_s16le") -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", graph, "-c:a", codec, str(path)])
    return path


def tone(seconds: float, gain_db: float = 0.0) -> str:
    """A 440 Hz tone; lavfi's sine peaks at -18 dBFS before `gain_db`."""
    return f"sine=f=440:r=48000:d={seconds},volume={gain_db}dB"


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("qc")


@pytest.fixture(scope="module")
def clean(media) -> Path:
    return video(media / "clean.mp4", moving(5))


# --- every analysis filter exists in this FFmpeg and says what we parse -------------------------------

def _two_inputs(reference: str) -> list[str]:
    return ["-f", "lavfi", "-i", moving(1), "-f", "lavfi", "-i", reference]


FILTERS = {
    "blackdetect": (["-f", "lavfi", "-i", f"color=black:s={SIZE}:r={FPS}:d=1", "-vf", "blackdetect=d=0"],
                    r"black_duration:" + r"([\d.]+)", lambda v: abs(v - 1.0) < 0.05),
    "freezedetect": (["-f", "lavfi", "-i", f"color=gray:s={SIZE}:r={FPS}:d=1", "-vf", "freezedetect=d=0.5"],
                     r"freeze_start: ([\d.]+)", lambda v: v == 0.0),
    "scdet": (["-f", "lavfi", "-i", moving(1), "-f", "lavfi", "-i", f"color=red:s={SIZE}:r={FPS}:d=1",
               "-filter_complex", "[0][1]concat,scdet"], r"lavfi\.scd\.time: ([\d.]+)", lambda v: abs(v - 1.0) < 0.05),
    "blurdetect": (["-f", "lavfi", "-i", moving(1), "-vf", "blurdetect"], r"blur mean: ([\d.]+)", lambda v: 0 < v < 50),
    "ssim": (_two_inputs(moving(1)) + ["-lavfi", "[0][1]ssim"], r"All:([\d.]+)", lambda v: v > 0.999),
    "psnr": (_two_inputs(moving(1)) + ["-lavfi", "[0][1]psnr"], r"average:(inf|[\d.]+)", lambda v: v > 60),
    "libvmaf": (_two_inputs(moving(1)) + ["-lavfi", "[0][1]libvmaf"], r"VMAF score: ([\d.]+)", lambda v: v > 90),
    "silencedetect": (["-f", "lavfi", "-i", "anullsrc=r=48000:d=1", "-af", "silencedetect=d=0.2"],
                      r"silence_start: ([\d.]+)", lambda v: v == 0.0),
    "ebur128": (["-f", "lavfi", "-i", tone(3), "-af", "ebur128"], r"I:\s+(-[\d.]+) LUFS\s+Threshold",
                lambda v: -24 < v < -19),
    "astats": (["-f", "lavfi", "-i", tone(1), "-af", "astats"], r"Overall[\s\S]*?Peak level dB: (-[\d.]+)",
               lambda v: abs(v + 18.06) < 0.1),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_each_analysis_filter_works_in_this_ffmpeg(name):
    args, pattern, expected = FILTERS[name]
    log = run_ffmpeg(["-loglevel", "info", "-nostats", *args, "-f", "null", "-"])
    found = re.findall(pattern, log)
    assert found, f"{name} printed nothing matching {pattern!r}"
    assert expected(float(found[-1])), f"{name}: {found[-1]}"


# --- video defects -----------------------------------------------------------------------------------

def test_a_clean_clip_has_no_black_no_freeze_no_cut(clean):
    result = analyse_video(clean)
    assert (result.black_runs, result.freeze_runs, result.cuts) == ((), (), ())
    assert (result.codec, result.width, result.height, result.fps, result.pix_fmt) == ("h264", 144, 256, 24.0, "yuv420p")
    assert (result.frames, result.duration_s) == (120, pytest.approx(5.0))
    assert result.black_share == 0.0 and result.longest_black is None and result.longest_freeze is None
    assert result.scene_score_max < result.settings.scene_change_threshold / 2
    assert result.first_frame_ssim is None


def test_a_black_second_is_found_where_it_starts(media):
    clip = joined(media / "black.mp4", moving(2), f"color=black:s={SIZE}:r={FPS}:d=1", moving(2, offset=3))
    result = analyse_video(clip)
    (start, end), = result.black_runs
    assert start == pytest.approx(2.0, abs=TWO_FRAMES) and end == pytest.approx(3.0, abs=TWO_FRAMES)
    assert result.black_share == pytest.approx(0.2, abs=0.02)
    assert result.longest_black == (start, end)


def test_a_single_black_frame_is_a_run(media):
    clip = joined(media / "one_black_frame.mp4", moving(1), f"color=black:s={SIZE}:r={FPS}:d={1 / FPS}", moving(1, offset=2))
    (start, end), = analyse_video(clip).black_runs
    assert start == pytest.approx(1.0, abs=TWO_FRAMES) and end - start == pytest.approx(1 / FPS, abs=1e-3)


def test_a_two_second_freeze_is_found_where_it_starts(media):
    frozen = (f"{moving(5)},split[source][held];"
              f"[source][held]freezeframes=first={FPS}:last={3 * FPS - 1}:replace={FPS}")
    result = analyse_video(video(media / "freeze.mp4", frozen))
    (start, end), = result.freeze_runs
    assert start == pytest.approx(1.0, abs=TWO_FRAMES) and end == pytest.approx(3.0, abs=TWO_FRAMES)
    assert result.black_runs == () and result.cuts == ()


def test_a_freeze_to_the_end_closes_at_the_end(media):
    result = analyse_video(joined(media / "held_end.mp4", moving(2), f"color=gray:s={SIZE}:r={FPS}:d=2"))
    (start, end), = result.freeze_runs
    assert start == pytest.approx(2.0, abs=TWO_FRAMES) and end == pytest.approx(4.0, abs=1e-3)


def test_a_hard_cut_is_found_and_timed(media):
    other = f"mandelbrot=s={SIZE}:r={FPS},trim=duration=2.5,format=yuv420p"
    result = analyse_video(joined(media / "cut.mp4", moving(2.5), other))
    (time, score), = result.cuts
    assert time == pytest.approx(2.5, abs=TWO_FRAMES)
    assert score >= result.settings.scene_change_threshold
    assert (result.scene_score_max, result.scene_score_max_at) == (score, time)


def test_a_short_clip_shows_its_real_duration(media):
    result = analyse_video(video(media / "short.mp4", moving(4.5)))
    assert result.duration_s == pytest.approx(4.5, abs=1 / FPS)
    assert result.frames == round(4.5 * FPS)


def test_the_first_frame_is_compared_with_the_keyframe(media, clean):
    keyframe = media / "keyframe.png"
    run_ffmpeg(["-i", str(clean), "-frames:v", "1", str(keyframe)])
    wrong_keyframe = media / "wrong_keyframe.png"
    run_ffmpeg(["-f", "lavfi", "-i", f"mandelbrot=s={SIZE}", "-frames:v", "1", str(wrong_keyframe)])
    assert analyse_video(clean, keyframe=keyframe).first_frame_ssim > 0.95
    assert analyse_video(clean, keyframe=wrong_keyframe).first_frame_ssim < 0.5


def test_a_keyframe_of_another_size_is_scaled_before_the_comparison(media, clean):
    keyframe = media / "keyframe_large.png"
    run_ffmpeg(["-i", str(clean), "-frames:v", "1", "-vf", "scale=288:512", str(keyframe)])
    assert analyse_video(clean, keyframe=keyframe).first_frame_ssim > 0.9


def test_a_blurred_clip_measures_blurrier(media, clean):
    blurred = video(media / "blurred.mp4", f"{moving(5)},gblur=sigma=3")
    sharp, soft = analyse_video(clean), analyse_video(blurred)
    assert soft.blur_mean > sharp.blur_mean * 1.3
    assert soft.blur_max >= soft.blur_mean and 0 <= soft.blur_max_at < 5


def test_an_all_black_clip_has_no_blur_score(media):
    result = analyse_video(video(media / "all_black.mp4", f"color=black:s={SIZE}:r={FPS}:d=1"))
    assert result.black_runs == ((0.0, pytest.approx(1.0, abs=1e-3)),)
    assert result.black_share == pytest.approx(1.0, abs=0.01)
    assert result.blur_mean is None and result.blur_max is None


def test_smooth_camera_moves_over_a_still_are_not_cuts(media):
    """The offline animatic's Ken-Burns moves must not read as cuts (nor as black)."""
    from PIL import Image, ImageDraw

    from shortdrama.video.animatic import MOVES, AnimaticVideo
    from shortdrama.video.base import ClipRequest, Encoding

    keyframe = media / "still.png"
    image = Image.new("RGB", (144, 256), (40, 50, 70))
    draw = ImageDraw.Draw(image)
    for x in range(0, 144, 18):
        draw.rectangle([x, 30, x + 8, 220], fill=(220, 190, 90))
    draw.ellipse([40, 60, 104, 124], fill=(230, 200, 180))
    image.save(keyframe)
    encoding = Encoding(width=144, height=256, fps=FPS, crf=21, preset="ultrafast")
    for camera in ("zoom-in", "pan", "close-up", "static"):
        clip = media / f"animatic_{camera}.mp4"
        AnimaticVideo().generate(ClipRequest(keyframe, camera, 2.0, encoding), clip)
        result = analyse_video(clip, keyframe=keyframe)
        assert result.cuts == () and result.black_runs == (), camera
        assert result.scene_score_max < 1.0, camera
        starts_on_the_keyframe = MOVES[camera][0] == 0.0  # no zoom at the start: the whole keyframe
        assert (result.first_frame_ssim > 0.9) == starts_on_the_keyframe, camera
    # A static camera holds the picture still: the whole take is one freeze, which the judge must expect.
    assert result.freeze_runs == ((0.0, pytest.approx(2.0, abs=1e-3)),)


# --- audio ---------------------------------------------------------------------------------------------

def test_a_silent_second_inside_a_tone(media):
    gap = wav(media / "gap.wav", f"{tone(2)}[a];anullsrc=r=48000:cl=mono:d=1[b];{tone(2)}[c];[a][b][c]concat=n=3:v=0:a=1")
    result = analyse_audio(gap)
    (start, end), = result.silent_runs
    assert start == pytest.approx(2.0, abs=0.02) and end == pytest.approx(3.0, abs=0.02)
    assert result.duration_s == pytest.approx(5.0, abs=1e-3)
    assert result.longest_silence == (start, end)


def test_silence_to_the_end_closes_at_the_end_and_has_no_loudness(media):
    result = analyse_audio(wav(media / "silence.wav", "anullsrc=r=48000:cl=stereo:d=2"))
    assert result.silent_runs == ((0.0, pytest.approx(2.0, abs=1e-3)),)
    assert result.integrated_lufs is None
    assert result.true_peak_dbtp == -math.inf and result.sample_peak_dbfs == -math.inf and result.clipped_samples == 0


def test_six_db_quieter_measures_six_lu_lower(media):
    loud = analyse_audio(wav(media / "loud.wav", tone(4)))
    quiet = analyse_audio(wav(media / "quiet.wav", tone(4, gain_db=-6)))
    assert loud.integrated_lufs - quiet.integrated_lufs == pytest.approx(6.0, abs=0.2)
    assert loud.sample_peak_dbfs == pytest.approx(-18.1, abs=0.1)
    assert loud.true_peak_dbtp >= loud.sample_peak_dbfs - 0.05
    assert loud.silent_runs == ()


def test_clipping_is_counted_and_a_clean_tone_has_none(media):
    clipped = analyse_audio(wav(media / "clipped.wav", tone(2, gain_db=24)))  # +6 dBFS, clipped by the 16-bit WAV
    clean_tone = analyse_audio(wav(media / "minus6.wav", tone(2, gain_db=12)))  # -6 dBFS
    assert clipped.clipped_samples > 0.5 * 2 * 48000  # two thirds of a sine at twice full scale are over
    assert clipped.sample_peak_dbfs == pytest.approx(0.0, abs=0.1)
    assert clean_tone.clipped_samples == 0 and clean_tone.sample_peak_dbfs == pytest.approx(-6.0, abs=0.15)


def test_float_audio_over_full_scale_counts_as_clipped(media):
    over = analyse_audio(wav(media / "over.wav", tone(1, gain_db=24), codec="pcm_f32le"))
    assert over.sample_peak_dbfs > 5.5 and over.clipped_samples > 0


def test_the_audio_of_an_mp4_is_measured(media, clean):
    final = media / "with_audio.mp4"
    run_ffmpeg(["-i", str(clean), "-f", "lavfi", "-i", tone(4), "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                "-c:a", "aac", str(final)])
    result = analyse_audio(final)
    assert result.duration_s == pytest.approx(4.0, abs=0.05)
    assert result.integrated_lufs == pytest.approx(analyse_audio(media / "loud.wav").integrated_lufs, abs=0.5)
    video_s, audio_s = stream_durations(final)
    assert video_s == pytest.approx(5.0, abs=1e-3) and audio_s == pytest.approx(4.0, abs=0.05)


# --- streams, subtitles, errors ------------------------------------------------------------------------

def test_stream_durations_of_a_wav_and_a_silent_video(media, clean):
    assert stream_durations(clean) == (pytest.approx(5.0), None)
    video_s, audio_s = stream_durations(wav(media / "two.wav", tone(2)))
    assert video_s is None and audio_s == pytest.approx(2.0, abs=1e-3)


def test_subtitle_track_cues_read_the_soft_track(media, clean):
    cues = [Cue(0.5, 1.5, "I know what you did."), Cue(2.0, 3.25, "你到底是谁？ <i>{not markup}</i>")]
    srt = media / "cues.srt"
    srt.write_text(format_srt(cues), encoding="utf-8")
    final = media / "soft.mp4"
    run_ffmpeg(["-i", str(clean), "-i", str(srt), "-map", "0:v", "-map", "1:s", "-c:v", "copy", "-c:s", "mov_text", str(final)])
    read = subtitle_track_cues(final)
    assert [c.text for c in read] == [c.text for c in cues]
    assert [(c.start, c.end) for c in read] == [(pytest.approx(c.start, abs=1e-3), pytest.approx(c.end, abs=1e-3)) for c in cues]
    assert subtitle_track_cues(clean) == []


@pytest.mark.parametrize("measure", [analyse_video, analyse_audio, stream_durations, subtitle_track_cues])
def test_a_file_ffmpeg_cannot_read_is_a_one_line_media_error(media, measure):
    broken = media / "broken take.mp4"
    broken.write_bytes(b"this is not a video\n" * 10)
    with pytest.raises(MediaError) as caught:
        measure(broken)
    assert "broken take.mp4" in str(caught.value) and "\n" not in str(caught.value)


def test_a_missing_stream_or_keyframe_is_a_media_error(media, clean):
    with pytest.raises(MediaError, match="no audio stream"):
        analyse_audio(clean)
    with pytest.raises(MediaError, match="no video stream"):
        analyse_video(wav(media / "audio_only.wav", tone(1)))
    with pytest.raises(MediaError, match="missing.png"):
        analyse_video(clean, keyframe=media / "missing.png")
