"""What FFmpeg's analysis filters measure in a take, a voice line or an episode final.

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
from ..media import read_subtitles, run_ffmpeg
from ..subtitles import WORD_JOINER, Cue

Run = tuple[float, float]  # (start, end) in seconds

# Decoding is most of a pass once the picture is small; more threads than cores only add switching.
DECODER_THREADS = max(1, min(4, os.cpu_count() or 1))
# blurdetect costs as much as decoding the take (about 2 ms a frame at 240x426), and focus does not
# change from one frame to the next: it reads this many frames a second, the other detectors read all.
BLUR_SAMPLES_PER_S = 4.0
# The audio gates: quieter than -50 dBFS for 0.2 s is a silent run (a breath is shorter, a dropout longer).
SILENCE_NOISE_DB = -50.0
SILENCE_MIN_S = 0.2
# ebur128 prints its absolute gate (-70 LUFS) as the integrated loudness when no block passes it.
LOUDNESS_FLOOR_LUFS = -70.0
# A 16-bit sample at +32767 or -32768 is 0.0003 dB below or above full scale; nothing else is this close.
FULL_SCALE_DB = -0.001
_NUMBER = r"(-?(?:inf|nan|\d+(?:\.\d+)?(?:e[-+]?\d+)?))"  # a number as FFmpeg prints one


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
        return _longest(self.black_runs)

    @property
    def longest_freeze(self) -> Run | None:
        return _longest(self.freeze_runs)


@dataclass(frozen=True)
class AudioAnalysis:
    """One audio track, measured. Peaks are -inf for digital silence; loudness is None then.

    `clipped_samples` counts samples at 16-bit full scale once the audio is converted to 16 bits,
    which is exact for PCM (the mixed WAV): a mix that went over full scale is clipped to exactly
    those codes. Lossy audio (AAC) smears a flat top into ringing, so few of its samples land there:
    judge an AAC track by `sample_peak_dbfs` / `true_peak_dbtp` instead.
    """

    duration_s: float
    silent_runs: tuple[Run, ...]
    integrated_lufs: float | None
    loudness_range_lu: float
    true_peak_dbtp: float
    sample_peak_dbfs: float
    clipped_samples: int
    first_clipped_at: float | None = None  # seconds: the first audio frame (~20 ms) with a sample at full scale

    @property
    def longest_silence(self) -> Run | None:
        return _longest(self.silent_runs)


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
        _run_analysis(source, ["-loglevel", "error", "-nostats", *inputs, "-filter_complex", graph,
                               "-map", "[measured]", "-an", "-sn", "-dn", "-f", "null", "-"], work)
        frames = _frame_metadata(work / "frames.txt")
        sampled = _frame_metadata(work / "blur.txt")
        first_frame = _frame_metadata(work / "first_frame.txt") if keyframe is not None else []
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
        black_runs=_runs(frames, "lavfi.black_start", "lavfi.black_end", clip_end),
        freeze_runs=_runs(frames, "lavfi.freezedetect.freeze_start", "lavfi.freezedetect.freeze_end", clip_end),
        cuts=tuple((t, s) for t, s in scores if s >= scene_change_threshold),
        scene_score_max=top_score,
        scene_score_max_at=top_at,
        blur_mean=sum(b for _, b in blurs) / len(blurs) if blurs else None,
        blur_max=blur_max,
        blur_max_at=blur_max_at,
        first_frame_ssim=ssim,
        settings=settings,
    )


def analyse_audio(path: str | os.PathLike) -> AudioAnalysis:
    """Measure silent runs, EBU R128 loudness and peaks, and clipping of a WAV or a video's first audio track.

    One FFmpeg pass through silencedetect, ebur128 (sample and true peak) and astats. astats reads
    the audio after a conversion to 16 bits, which clips anything over full scale the way a 16-bit
    delivery would: its peak count is then the number of clipped samples.
    """
    source = Path(path)
    sample_rate = _audio_sample_rate(source)
    graph = (f"[0:a:0]silencedetect=n={SILENCE_NOISE_DB}dB:d={SILENCE_MIN_S},ametadata=mode=print:file=audio.txt,"
             "ebur128=peak=sample+true:framelog=verbose,aformat=sample_fmts=s16,asplit[whole][framed];"
             "[whole]astats=measure_perchannel=none:measure_overall=Peak_level+Peak_count+Number_of_samples[measured];"
             # The same statistics per audio frame (reset each frame): where the first clipped sample is.
             "[framed]astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=Peak_level,"
             "ametadata=mode=print:key=lavfi.astats.Overall.Peak_level:file=peaks.txt,anullsink")
    with tempfile.TemporaryDirectory(prefix="shortdrama-qc-") as workdir:
        log = _run_analysis(source, ["-loglevel", "info", "-nostats", "-i", str(source.resolve()),
                                     "-filter_complex", graph, "-map", "[measured]", "-vn", "-sn", "-dn",
                                     "-f", "null", "-"], Path(workdir))
        frames = _frame_metadata(Path(workdir) / "audio.txt")
        peaks = _frame_metadata(Path(workdir) / "peaks.txt")
    stats = _astats_overall(log)
    summary = _ebur128_summary(log)
    if "Number of samples" not in stats or "I" not in summary:
        raise MediaError(f"cannot analyse the audio of {source}: FFmpeg printed no loudness summary")
    duration = stats["Number of samples"] / sample_rate
    integrated = summary["I"]
    at_full_scale = stats.get("Peak level dB", -math.inf) >= FULL_SCALE_DB
    return AudioAnalysis(
        duration_s=duration,
        silent_runs=_runs(frames, "lavfi.silence_start", "lavfi.silence_end", duration),
        integrated_lufs=integrated if integrated > LOUDNESS_FLOOR_LUFS else None,
        loudness_range_lu=summary.get("LRA", 0.0),
        true_peak_dbtp=summary.get("True peak", -math.inf),
        sample_peak_dbfs=summary.get("Sample peak", -math.inf),
        clipped_samples=int(stats.get("Peak count", 0)) if at_full_scale else 0,
        first_clipped_at=next((t for t, meta in peaks if _level(meta.get("lavfi.astats.Overall.Peak_level")) >= FULL_SCALE_DB),
                              None) if at_full_scale else None,
    )


def _level(value: str | None) -> float:
    try:
        return float(value) if value is not None else -math.inf
    except ValueError:  # "-inf"
        return -math.inf


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
    with _open_container(source) as container:
        if not container.streams.subtitles:
            return []
        stream = container.streams.subtitles[0]
        if stream.codec_context.name == "mov_text":
            return [Cue(start, end, _without_markup_joiners(text)) for start, end, text in _mov_text_samples(container, stream)]
    try:
        raw = read_subtitles(source)
    except (OSError, ValueError) as error:  # PyAV's errors are OSErrors or ValueErrors
        raise MediaError(f"cannot read the subtitle track of {source}: {_one_line(error)}") from None
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


def _longest(runs: tuple[Run, ...]) -> Run | None:
    return max(runs, key=lambda run: run[1] - run[0]) if runs else None


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def _open_container(source: Path):  # noqa: ANN202 - a PyAV container
    import av

    try:
        return av.open(str(source))
    except (av.error.FFmpegError, OSError) as error:
        raise MediaError(f"cannot read {source}: {_one_line(error)}") from None


def _video_facts(source: Path) -> dict:
    """What the container says about the take's video stream (PyAV: the wheel's FFmpeg has no ffprobe)."""
    with _open_container(source) as container:
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


def _audio_sample_rate(source: Path) -> int:
    with _open_container(source) as container:
        if not container.streams.audio or not container.streams.audio[0].codec_context.sample_rate:
            raise MediaError(f"cannot analyse the audio of {source}: it has no audio stream")
        return container.streams.audio[0].codec_context.sample_rate


def _stream_duration(source: Path, kind: str) -> float | None:
    with _open_container(source) as container:
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


def _run_analysis(source: Path, args: list[str], work: Path) -> str:
    """Run one analysis pass in `work` (where the metadata files land); a failure names the file."""
    try:
        return run_ffmpeg(args, cwd=work)
    except MediaError as error:
        raise MediaError(f"cannot analyse {source}: {_one_line(error)}") from None
    except (OSError, ValueError) as error:  # e.g. an argument subprocess refuses
        raise MediaError(f"cannot run ffmpeg to analyse {source}: {_one_line(error)}") from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def _frame_metadata(path: Path) -> list[tuple[float, dict[str, str]]]:
    """The blocks of a `metadata=mode=print:file=` file: (pts_time, {key: value}) per frame."""
    frames: list[tuple[float, dict[str, str]]] = []
    if not path.exists():
        return frames
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("frame:"):
            match = re.search(r"pts_time:" + _NUMBER, line)  # a frame without one follows the one before
            time = float(match.group(1)) if match else (frames[-1][0] if frames else 0.0)
            frames.append((time, {}))
        elif frames and "=" in line:
            key, _, value = line.partition("=")
            frames[-1][1][key.strip()] = value.strip()
    return frames


def _runs(frames: list[tuple[float, dict[str, str]]], start_key: str, end_key: str, clip_end: float) -> tuple[Run, ...]:
    """Pair the start and end markers a detector leaves on frames; a run still open at the end closes
    there (black, freeze and silence detectors only log a run that lasts to the end of the file)."""
    runs: list[Run] = []
    open_start: float | None = None
    for _, meta in frames:
        # freezedetect can mark a start and its end on the same frame (a run found only as it ends).
        if start_key in meta and open_start is None:
            open_start = max(0.0, float(meta[start_key]))
        if end_key in meta and open_start is not None:
            runs.append((open_start, min(clip_end, float(meta[end_key]))))
            open_start = None
    if open_start is not None and clip_end > open_start:
        runs.append((open_start, clip_end))
    return tuple(runs)


def _ebur128_summary(log: str) -> dict[str, float]:
    """I, LRA, and the sample and true peaks from ebur128's closing Summary block."""
    _, found, summary = log.rpartition("Summary:")
    values: dict[str, float] = {}
    if not found:
        return values
    section = ""
    for line in summary.splitlines():
        text = line.strip()
        if text.endswith(":") and not re.search(r"\d", text):
            section = text[:-1]  # "Integrated loudness", "Loudness range", "Sample peak", "True peak"
        elif match := re.match(r"(I|LRA|Peak):\s+" + _NUMBER, text):
            key = section if match.group(1) == "Peak" else match.group(1)
            values.setdefault(key, float(match.group(2)))
    return values


def _astats_overall(log: str) -> dict[str, float]:
    """The `Overall` block astats prints when it closes: {"Peak level dB": ..., "Peak count": ..., ...}."""
    by_instance: dict[str, dict[str, float]] = {}
    for line in log.splitlines():
        if (name := re.search(r"Parsed_astats_\d+", line)) and (match := re.search(r"\] ([A-Za-z ]+): " + _NUMBER, line)):
            by_instance.setdefault(name.group(0), {})[match.group(1).strip()] = float(match.group(2))
    # The whole-file instance counts every sample; a per-frame one (reset=1) closes on its last frame.
    return max(by_instance.values(), key=lambda values: values.get("Number of samples", 0.0), default={})
