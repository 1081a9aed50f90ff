"""What FFmpeg's analysis filters measure in a take (and an episode final's streams and subtitle track;
the audio measurements are in qc.audio_analysis).

This is the machine half of post-production: each function makes ONE FFmpeg pass over a file and
returns plain measurements with timecodes (seconds from the first frame or sample). Nothing here
decides pass or fail. The QC judge compares these numbers with the configured limits, so changing
a limit judges again without measuring again, and a measurement can be tested on its own.

The filters, not pixel loops, do the work: blackdetect, freezedetect, scdet and blurdetect on a
downscaled copy of the take (no check needs full resolution, and at 240 pixels wide decoding is
most of the cost), ssim against the keyframe, and silencedetect, ebur128 and astats on the audio.
Per-frame values come back through `metadata=mode=print` files, not the log; only ebur128's and
astats' closing summaries are read from the log.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import MediaError
from ..media import read_subtitles
from ..subtitles import WORD_JOINER, Cue
from .passes import Run, frame_metadata, longest, one_line, open_container, run_analysis, runs


# Decoding is most of a pass once the picture is small; more threads than cores only add switching.
DECODER_THREADS = max(1, min(4, os.cpu_count() or 1))
# blurdetect costs as much as decoding the take (about 2 ms a frame at 240x426), and focus does not
# change from one frame to the next: it reads this many frames a second, the other detectors read all.
BLUR_SAMPLES_PER_S = 4.0


@dataclass(frozen=True)
class VideoAnalysisSettings:
    """The knobs of one video pass, recorded with its results so a report says what was measured."""

    analysis_width: int
    analysis_height: int
    freeze_noise_db: float
    freeze_min_s: float
    black_pixel_threshold: float
    black_picture_ratio: float
    scene_change_threshold: float
    blur_frame_step: int  # blurdetect reads every n-th frame


@dataclass(frozen=True)
class VideoAnalysis:
    """One take's picture, measured. Times are seconds from its first frame.

    `blur_*` is blurdetect's score (the mean width of edges, in pixels of the downscaled picture:
    higher = blurrier) over the sampled frames; None when every sampled frame is flat, e.g. black.
    `cuts` are (time, scdet score) at or above the settings' scene change threshold;
    `scene_score_max` is the largest score anywhere, so a report can say how close a smooth camera
    move came to reading as a cut. A run lasting to the end of the take ends at its last frame's end.
    """

    duration_s: float
    frames: int
    width: int
    height: int
    fps: float
    pix_fmt: str
    codec: str
    black_runs: tuple[Run, ...]
    freeze_runs: tuple[Run, ...]
    cuts: tuple[tuple[float, float], ...]
    scene_score_max: float
    scene_score_max_at: float
    blur_mean: float | None
    blur_max: float | None
    blur_max_at: float | None
    first_frame_ssim: float | None
    settings: VideoAnalysisSettings

    @property
    def black_share(self) -> float:
        """The fraction of the take that is black."""
        return sum(end - start for start, end in self.black_runs) / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def longest_black(self) -> Run | None:
        return longest(self.black_runs)

    @property
    def longest_freeze(self) -> Run | None:
        return longest(self.freeze_runs)


def analyse_video(
    path: str | os.PathLike,
    *,
    keyframe: Path | None = None,
    analysis_width: int = 240,
    freeze_noise_db: float = -50.0,
    freeze_min_s: float = 0.5,
    black_pixel_threshold: float = 0.10,
    black_picture_ratio: float = 0.98,
    scene_change_threshold: float = 10.0,
) -> VideoAnalysis:
    """Measure a take's black runs, freezes, cuts and blur, and how well its first frame matches `keyframe`.

    One FFmpeg pass: the decoded take is scaled to `analysis_width` (never up) before any filter
    sees it. blackdetect runs with no minimum duration, so a single black frame is a run. Every
    frame goes through blackdetect, freezedetect and scdet; blurdetect samples BLUR_SAMPLES_PER_S.
    """
    source = Path(path)
    facts = _video_facts(source)
    width = _even(min(analysis_width, facts["width"]))
    height = _even(width * facts["height"] / facts["width"])
    blur_step = max(1, round(facts["fps"] / BLUR_SAMPLES_PER_S)) if facts["fps"] > 0 else 1
    settings = VideoAnalysisSettings(width, height, freeze_noise_db, freeze_min_s, black_pixel_threshold,
                                     black_picture_ratio, scene_change_threshold, blur_step)
    small = f"scale={width}:{height}:flags=area,format=yuv420p"
    measure = (f"{small},blackdetect=d=0:pix_th={black_pixel_threshold}:pic_th={black_picture_ratio},"
               f"freezedetect=n={freeze_noise_db}dB:d={freeze_min_s},scdet=t={scene_change_threshold},"
               "metadata=mode=print:file=frames.txt,split=2[measured][sampled];"
               f"[sampled]framestep={blur_step},blurdetect,metadata=mode=print:file=blur.txt,nullsink")
    inputs = ["-threads", str(DECODER_THREADS), "-i", str(source.resolve())]
    if keyframe is None:
        graph = f"[0:v]setpts=PTS-STARTPTS,{measure}"
    else:
        if not Path(keyframe).is_file():
            raise MediaError(f"cannot compare {source} with its keyframe: {keyframe} does not exist")
        inputs += ["-i", str(Path(keyframe).resolve())]
        # The first frame leaves the take before scaling, is scaled the same way as the keyframe, and
        # ssim compares the two; the branch ends after one frame while the take runs on.
        graph = (f"[0:v]setpts=PTS-STARTPTS,split=2[take][first];"
                 f"[first]trim=end_frame=1,{small}[first_small];"
                 f"[1:v]setpts=PTS-STARTPTS,{small}[key_small];"
                 f"[first_small][key_small]ssim,metadata=mode=print:file=first_frame.txt,nullsink;"
                 f"[take]{measure}")
    with tempfile.TemporaryDirectory(prefix="shortdrama-qc-") as workdir:
        work = Path(workdir)
        run_analysis(source, ["-loglevel", "error", "-nostats", *inputs, "-filter_complex", graph,
                               "-map", "[measured]", "-an", "-sn", "-dn", "-f", "null", "-"], work)
        frames = frame_metadata(work / "frames.txt")
        sampled = frame_metadata(work / "blur.txt")
        first_frame = frame_metadata(work / "first_frame.txt") if keyframe is not None else []
    if not frames:
        raise MediaError(f"cannot analyse {source}: no video frame could be decoded")

    frame_s = 1.0 / facts["fps"] if facts["fps"] > 0 else 0.0
    clip_end = round(frames[-1][0] + frame_s, 6)
    scores = [(t, float(meta.get("lavfi.scd.score", 0.0))) for t, meta in frames]
    top_at, top_score = max(scores, key=lambda pair: pair[1])
    blurs = [(t, float(meta["lavfi.blur"])) for t, meta in sampled if "lavfi.blur" in meta]
    blurs = [(t, b) for t, b in blurs if math.isfinite(b)]
    blur_max_at, blur_max = max(blurs, key=lambda pair: pair[1]) if blurs else (None, None)
    ssim = float(first_frame[0][1]["lavfi.ssim.All"]) if first_frame and "lavfi.ssim.All" in first_frame[0][1] else None
    return VideoAnalysis(
        duration_s=facts["duration"] or len(frames) * frame_s,
        frames=len(frames),
        width=facts["width"],
        height=facts["height"],
        fps=facts["fps"],
        pix_fmt=facts["pix_fmt"],
        codec=facts["codec"],
        black_runs=runs(frames, "lavfi.black_start", "lavfi.black_end", clip_end),
        freeze_runs=runs(frames, "lavfi.freezedetect.freeze_start", "lavfi.freezedetect.freeze_end", clip_end),
        cuts=tuple((t, s) for t, s in scores if s >= scene_change_threshold),
        scene_score_max=top_score,
        scene_score_max_at=top_at,
        blur_mean=sum(b for _, b in blurs) / len(blurs) if blurs else None,
        blur_max=blur_max,
        blur_max_at=blur_max_at,
        first_frame_ssim=ssim,
        settings=settings,
    )


def stream_durations(path: str | os.PathLike) -> tuple[float | None, float | None]:
    """(video seconds, audio seconds) of a file as its streams declare them; None for a missing stream.

    A stream that declares no duration is measured from its packets (end of the last minus the
    start of the first), so a muxer that leaves the header blank still gives an answer.
    """
    source = Path(path)
    return _stream_duration(source, "video"), _stream_duration(source, "audio")


def subtitle_track_cues(path: str | os.PathLike) -> list[Cue]:
    """The soft subtitle track of a final, as cues; empty when it has none.

    A mov_text track is read from its samples (a 16-bit length, then the text), not through the
    decoder: FFmpeg turns mov_text into ASS on decoding, and media.read_subtitles, which reads that
    ASS, loses any `{...}` in a line (the braces of an ASS override block). Other subtitle codecs go
    through read_subtitles. The WORD JOINERs that subtitles.cue_text puts after markup characters
    (so FFmpeg shows markup as text) are taken out, so the cues compare with the script's lines.
    """
    source = Path(path)
    with open_container(source) as container:
        if not container.streams.subtitles:
            return []
        stream = container.streams.subtitles[0]
        if stream.codec_context.name == "mov_text":
            return [Cue(start, end, _without_markup_joiners(text)) for start, end, text in _mov_text_samples(container, stream)]
    try:
        raw = read_subtitles(source)
    except (OSError, ValueError) as error:  # PyAV's errors are OSErrors or ValueErrors
        raise MediaError(f"cannot read the subtitle track of {source}: {one_line(error)}") from None
    return [Cue(start, end, _without_markup_joiners(text)) for start, end, text in raw]


def _mov_text_samples(container, stream) -> list[tuple[float, float, str]]:  # noqa: ANN001 - PyAV objects
    """(start, end, text) of each non-empty mov_text (3GPP timed text) sample; empty ones are the gaps."""
    cues = []
    for packet in container.demux(stream):
        data = bytes(packet)
        if packet.pts is None or len(data) < 2:
            continue
        length = int.from_bytes(data[:2], "big")
        raw = data[2:2 + length]
        text = raw.decode("utf-16") if raw[:2] in (b"\xfe\xff", b"\xff\xfe") else raw.decode("utf-8", "replace")
        if text.strip():
            start = float(packet.pts * stream.time_base)
            cues.append((start, start + float((packet.duration or 0) * stream.time_base), text.strip()))
    return cues


def _without_markup_joiners(text: str) -> str:
    return re.sub(r"([<{\\])" + WORD_JOINER, r"\1", text).replace("--" + WORD_JOINER + ">", "-->")


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def _video_facts(source: Path) -> dict:
    """What the container says about the take's video stream (PyAV: the wheel's FFmpeg has no ffprobe)."""
    with open_container(source) as container:
        if not container.streams.video:
            raise MediaError(f"cannot analyse {source}: it has no video stream")
        stream = container.streams.video[0]
        context = stream.codec_context
        if not context.width or not context.height:
            raise MediaError(f"cannot analyse {source}: its video stream has no picture size")
        rate = stream.average_rate or stream.guessed_rate
        duration = float(stream.duration * stream.time_base) if stream.duration else (container.duration or 0) / 1e6
        return {"codec": context.name or "", "width": context.width, "height": context.height,
                "fps": float(rate) if rate else 0.0, "pix_fmt": getattr(context, "pix_fmt", None) or "",
                "duration": duration}


def _stream_duration(source: Path, kind: str) -> float | None:
    with open_container(source) as container:
        streams = [s for s in container.streams if s.type == kind]
        if not streams:
            return None
        stream, first, end = streams[0], None, None
        if stream.duration:
            return float(stream.duration * stream.time_base)
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            first = packet.pts if first is None else min(first, packet.pts)
            end = max(end or packet.pts, packet.pts + (packet.duration or 0))
        return float((end - first) * stream.time_base) if first is not None else None
