"""What FFmpeg measures in a voice line or an episode's audio: silent runs (silencedetect), EBU R128
loudness and true peak (ebur128) and clipping (astats), in ONE pass. Measurements only: qc.episode
judges them against the configured limits."""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import MediaError
from .passes import NUMBER, Run, frame_metadata, longest, open_container, run_analysis, runs

# The audio gates: quieter than -50 dBFS for 0.2 s is a silent run (a breath is shorter, a dropout longer).
SILENCE_NOISE_DB = -50.0
SILENCE_MIN_S = 0.2
# ebur128 prints its absolute gate (-70 LUFS) as the integrated loudness when no block passes it.
LOUDNESS_FLOOR_LUFS = -70.0
# A 16-bit sample at +32767 or -32768 is 0.0003 dB below or above full scale; nothing else is this close.
FULL_SCALE_DB = -0.001


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
        return longest(self.silent_runs)


def analyse_audio(path: str | os.PathLike, loudness: bool = True) -> AudioAnalysis:
    """Measure silent runs, EBU R128 loudness and peaks, and clipping of a WAV or a video's first audio track.

    One FFmpeg pass through silencedetect, ebur128 (sample and true peak) and astats. astats reads
    the audio after a conversion to 16 bits, which clips anything over full scale the way a 16-bit
    delivery would: its peak count is then the number of clipped samples. `loudness=False` (a voice
    line, judged for silence and clipping only) leaves ebur128 out, its 4x oversampled true peak being
    most of the pass: loudness and peaks are then None/-inf.
    """
    source = Path(path)
    sample_rate = _audio_sample_rate(source)
    r128 = "ebur128=peak=sample+true:framelog=verbose," if loudness else ""
    graph = (f"[0:a:0]silencedetect=n={SILENCE_NOISE_DB}dB:d={SILENCE_MIN_S},ametadata=mode=print:file=audio.txt,"
             f"{r128}aformat=sample_fmts=s16,asplit[whole][framed];"
             "[whole]astats=measure_perchannel=none:measure_overall=Peak_level+Peak_count+Number_of_samples[measured];"
             # The same statistics per audio frame (reset each frame): where the first clipped sample is.
             "[framed]astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=Peak_level,"
             "ametadata=mode=print:key=lavfi.astats.Overall.Peak_level:file=peaks.txt,anullsink")
    with tempfile.TemporaryDirectory(prefix="shortdrama-qc-") as workdir:
        log = run_analysis(source, ["-loglevel", "info", "-nostats", "-i", str(source.resolve()),
                                     "-filter_complex", graph, "-map", "[measured]", "-vn", "-sn", "-dn",
                                     "-f", "null", "-"], Path(workdir))
        frames = frame_metadata(Path(workdir) / "audio.txt")
        peaks = frame_metadata(Path(workdir) / "peaks.txt")
    stats = _astats_overall(log)
    summary = _ebur128_summary(log) if loudness else {"I": -math.inf}
    if "Number of samples" not in stats or "I" not in summary:
        raise MediaError(f"cannot analyse the audio of {source}: FFmpeg printed no loudness summary")
    duration = stats["Number of samples"] / sample_rate
    integrated = summary["I"]
    at_full_scale = stats.get("Peak level dB", -math.inf) >= FULL_SCALE_DB
    return AudioAnalysis(
        duration_s=duration,
        silent_runs=runs(frames, "lavfi.silence_start", "lavfi.silence_end", duration),
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


def _audio_sample_rate(source: Path) -> int:
    with open_container(source) as container:
        if not container.streams.audio or not container.streams.audio[0].codec_context.sample_rate:
            raise MediaError(f"cannot analyse the audio of {source}: it has no audio stream")
        return container.streams.audio[0].codec_context.sample_rate


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
        elif match := re.match(r"(I|LRA|Peak):\s+" + NUMBER, text):
            key = section if match.group(1) == "Peak" else match.group(1)
            values.setdefault(key, float(match.group(2)))
    return values


def _astats_overall(log: str) -> dict[str, float]:
    """The `Overall` block astats prints when it closes: {"Peak level dB": ..., "Peak count": ..., ...}."""
    by_instance: dict[str, dict[str, float]] = {}
    for line in log.splitlines():
        if (name := re.search(r"Parsed_astats_\d+", line)) and (match := re.search(r"\] ([A-Za-z ]+): " + NUMBER, line)):
            by_instance.setdefault(name.group(0), {})[match.group(1).strip()] = float(match.group(2))
    # The whole-file instance counts every sample; a per-frame one (reset=1) closes on its last frame.
    return max(by_instance.values(), key=lambda values: values.get("Number of samples", 0.0), default={})
