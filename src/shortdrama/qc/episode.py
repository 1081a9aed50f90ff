"""Checks of one episode's final and of its scenes' voices, written beside the final as
`episode_NN.qc.json`, with the scenes' take choices (selection JSONs) gathered in.

The final is checked as delivered: loudness and true peak with ebur128 on its AAC track, the audio
and video streams' lengths, and the subtitle cues read back from its soft track (the SRT the burn-in
used where there is no soft track). Widths are measured with the burn-in font (qc.text_fit).
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any, Protocol, Sequence

from ..config.qc import AudioLimits, EpisodeLimits, QCConfig
from ..media import write_text_atomic
from ..subtitles import WORD_JOINER, Cue, parse_srt
from .flags import Flag, Skipped, past


class EpisodeQCSpec(Protocol):
    """What the episode checks read of their spec (stages.qc.EpisodeQCSpec)."""

    durations: list
    dialogue: list
    loudness_lufs: float
    subtitles: dict
    encoding: dict
    language: str
    qc: dict

    @property
    def limits(self) -> QCConfig: ...


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def plain(text: str) -> str:
    return " ".join(text.replace(WORD_JOINER, "").split())


def speakable(text: str) -> bool:
    """A line with something to say aloud (a "..." gets no voice and no cue)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


def is_cjk(text: str) -> bool:
    letters = [ch for ch in text if unicodedata.category(ch)[0] in "LN"]
    return bool(letters) and sum(1 for ch in letters if _CJK.match(ch)) * 2 >= len(letters)


def reading_length(text: str) -> int:
    """Characters a viewer reads: every character of Latin text (spaces and punctuation take reading
    time too, as subtitling guides count them); the letters of CJK text."""
    if is_cjk(text):
        return sum(1 for ch in text if unicodedata.category(ch)[0] in "LN")
    return len(plain(text))


def offsets(durations: Sequence[float]) -> list[float]:
    starts, at = [], 0.0
    for d in durations:
        starts.append(at)
        at += d
    return starts


def cue_flags(cues: Sequence[Cue], spec: EpisodeQCSpec, scene_cues: Sequence[Sequence[dict[str, Any]]],
              limits: EpisodeLimits, delivered: Sequence[Sequence[Cue]] = ()) -> list[Flag]:
    """`cues`: the episode's SRT (what the burn-in draws and the soft track is made from): timing,
    overlap, reading speed, width. `delivered`: the cue lists each dialogue line must also be found in
    (the final's soft track; an MP4's mov_text track cannot hold overlapping cues, so overlaps are
    judged on the SRT)."""
    from ..fonts import font_file
    from .text_fit import DEFAULT_MARGIN, fits

    flags: list[Flag] = []
    durations, frame = spec.durations, 1.0 / spec.encoding["fps"]
    starts = offsets(durations)
    track = sorted(cues, key=lambda c: (c.start, c.end))
    for index, (lines, spoken) in enumerate(zip(spec.dialogue, scene_cues)):
        scene, offset = index + 1, starts[index]
        heard = [c for c in spoken if not c.get("dropped")]
        for cue in spoken:
            if cue.get("dropped"):
                flags.append(Flag("speech_fit", plain(cue["text"])[:60], f"{durations[index]:g} s",
                                  f"the line \"{plain(cue['text'])[:40]}\" did not fit the scene: it is not heard",
                                  at=offset + durations[index], severity=3.0, scene=scene))
        listed = {plain(c["text"]) for c in spoken}
        for text in lines:
            if speakable(text) and plain(text) not in listed:
                flags.append(Flag("missing_cue", plain(text)[:60], "a cue",
                                  f"the line \"{plain(text)[:40]}\" has no voice cue", at=offset, severity=3.0,
                                  scene=scene))
        for cue in heard:
            want_start, want_end = offset + float(cue["start"]), offset + min(float(cue["end"]), durations[index])
            for where, listing in (("subtitles", track), *(("final's subtitle track", d) for d in delivered)):
                if not any(plain(c.text) == plain(cue["text"]) and c.start < want_end and c.end > want_start
                           for c in listing):
                    flags.append(Flag("missing_cue", plain(cue["text"])[:60], "a cue",
                                      f"the line \"{plain(cue['text'])[:40]}\" has no cue in the {where}",
                                      at=want_start, severity=3.0, scene=scene))
                    break
    ends = [s + d for s, d in zip(starts, durations)]
    for i, cue in enumerate(track):
        scene = next((n for n, (s, e) in enumerate(zip(starts, ends), 1) if s - frame <= cue.start < e), None)
        if scene is None or cue.end > ends[scene - 1] + frame:
            flags.append(Flag("cue_outside_scene", round(cue.end, 3), round(ends[scene - 1], 3) if scene else "-",
                              f"the cue \"{plain(cue.text)[:40]}\" runs past the end of its scene", at=cue.start,
                              severity=2.0, scene=scene))
        if i + 1 < len(track) and cue.end > track[i + 1].start + 0.001:
            overlap = cue.end - track[i + 1].start
            flags.append(Flag("overlapping_cues", round(overlap, 3), 0.0,
                              f"the cue \"{plain(cue.text)[:30]}\" overlaps the next one by {overlap:.3f} s",
                              at=track[i + 1].start, severity=1.0 + overlap, scene=scene))
        seconds = max(cue.end - cue.start, 1e-3)
        cps, limit = reading_length(cue.text) / seconds, limits.max_cps_cjk if is_cjk(cue.text) else limits.max_cps_latin
        if cps > limit:
            flags.append(Flag("reading_speed", round(cps, 2), limit,
                              f"{cps:.1f} characters/s to read \"{plain(cue.text)[:40]}\" (limit {limit:g} for "
                              f"{'CJK' if is_cjk(cue.text) else 'Latin'} text)", at=cue.start,
                              severity=past(cps, limit), scene=scene))
        style = spec.subtitles
        if style.get("burn", True):
            ok, width, room = fits(plain(cue.text), font_size=style["font_size"], frame_width=spec.encoding["width"],
                                   frame_height=spec.encoding["height"], margin_l=style.get("margin_l", DEFAULT_MARGIN),
                                   margin_r=style.get("margin_r", DEFAULT_MARGIN),
                                   font=font_file(style.get("font"), spec.language))
            if not ok:
                flags.append(Flag("subtitle_width", round(width, 1), round(room, 1),
                                  f"the line \"{plain(cue.text)[:40]}\" is {width:.0f} px wide; the frame has "
                                  f"{room:.0f} px", at=cue.start, severity=past(width, room), scene=scene))
    return flags


def voice_flags(measured: dict[str, Any], spoken: Sequence[dict[str, Any]], offset: float, scene: int,
                limits: AudioLimits) -> list[Flag]:
    flags = []
    silences = [(float(a), float(b)) for a, b in measured["silent_runs"]]
    for cue in spoken:
        if cue.get("dropped"):
            continue
        start, end = float(cue["start"]), float(cue["end"])
        silent = sum(max(0.0, min(b, end) - max(a, start)) for a, b in silences)
        share = silent / max(end - start, 1e-3)
        if share > limits.max_silent_share_of_line:
            flags.append(Flag("silent_line", round(share, 3), limits.max_silent_share_of_line,
                              f"the line \"{plain(cue['text'])[:40]}\" is silent ({share:.0%} of its cue)",
                              at=offset + start, severity=past(share, max(limits.max_silent_share_of_line, 0.01)),
                              scene=scene))
    clipped = int(measured.get("clipped_samples") or 0)
    if clipped > limits.max_clipped_samples:
        at = measured.get("first_clipped_at")
        flags.append(Flag("clipped", clipped, limits.max_clipped_samples,
                          f"the voice clips: {clipped} samples at full scale", at=offset + (at or 0.0),
                          severity=1.0 + min(clipped, 1000) / 100, scene=scene))
    return flags


def final_flags(final: Path, measured: dict[str, Any], spec: EpisodeQCSpec, limits: EpisodeLimits) -> list[Flag]:
    from .analysis import stream_durations

    flags = []
    target, lufs = spec.loudness_lufs, measured.get("integrated_lufs")
    if lufs is None or abs(lufs - target) > limits.loudness_tolerance_lu:
        shown = "silence" if lufs is None else f"{lufs:.1f} LUFS"
        off = 99.0 if lufs is None else abs(lufs - target)
        flags.append(Flag("loudness", round(lufs, 2) if lufs is not None else "-inf", target,
                          f"integrated loudness {shown}, the target {target:g} LUFS ±{limits.loudness_tolerance_lu:g} LU",
                          at=0.0, severity=past(off, limits.loudness_tolerance_lu)))
    peak = measured.get("true_peak_dbtp")
    if peak is not None and peak > limits.max_true_peak_dbtp:
        flags.append(Flag("true_peak", round(peak, 2), limits.max_true_peak_dbtp,
                          f"true peak {peak:.1f} dBTP above {limits.max_true_peak_dbtp:g} dBTP",
                          at=measured.get("true_peak_at"), severity=1.0 + peak - limits.max_true_peak_dbtp))
    video_s, audio_s = stream_durations(final)
    frame = 1.0 / spec.encoding["fps"]
    if video_s is None or audio_s is None or abs(video_s - audio_s) > limits.av_tolerance_frames * frame + 1e-6:
        flags.append(Flag("av_length", round(audio_s or 0.0, 3), round(video_s or 0.0, 3),
                          f"audio lasts {audio_s or 0:.3f} s, video {video_s or 0:.3f} s", at=min(video_s or 0, audio_s or 0),
                          severity=1.0 + abs((video_s or 0) - (audio_s or 0)) / frame))
    return flags


def soft_track(final: Path, soft: bool) -> list[list[Cue]]:
    """The final's soft subtitle track as delivered (none when the render writes none)."""
    if not soft:
        return []
    from .analysis import subtitle_track_cues

    return [[c if isinstance(c, Cue) else Cue(*c) for c in subtitle_track_cues(final)]]


def check_episode(spec: EpisodeQCSpec, final: Path, subtitles: Path, dialogue: Sequence[Path], cues: Sequence[Path],
                  selections: Sequence[Path], out: Path, episode: int, cache_dir: Path | None) -> dict[str, Any]:
    from .measurements import measure_audio

    limits = spec.limits
    scenes = [json.loads(Path(s).read_text(encoding="utf-8")) for s in selections]
    chosen = [{"scene": n, "take": s["chosen"], "retake": s.get("retake", False), "flagged": s["flagged"],
               "reason": s["reason"], "retakes_bought": s.get("retakes_bought", 0), "notes": s.get("notes", [])}
              for n, s in enumerate(scenes, 1)]
    if not limits.enabled:
        record = {"episode": episode, "passed": True, "flags": [], "skipped": [Skipped("all", "qc is off").to_dict()],
                  "scenes": chosen, "measurements": {}}
        write_text_atomic(out, json.dumps(record, ensure_ascii=False, indent=1) + "\n")
        return record
    starts = offsets(spec.durations)
    flags: list[Flag] = []
    for n, record in enumerate(scenes, 1):  # a scene none of whose takes passed: its take's flags, on the episode's clock
        flags += [Flag.from_dict({**f, "at": None if f.get("at") is None else starts[n - 1] + f["at"]})
                  for f in record.get("flags", [])]
    scene_cues = [json.loads(Path(c).read_text(encoding="utf-8")) for c in cues]
    voices = {}
    for n, (wav, spoken) in enumerate(zip(dialogue, scene_cues), 1):
        measured = measure_audio(Path(wav), cache_dir, loudness=False)
        voices[n] = {k: measured.get(k) for k in ("clipped_samples", "sample_peak_dbfs", "silent_runs")}
        flags += voice_flags(measured, spoken, starts[n - 1], n, limits.audio)
    final_audio = measure_audio(final, cache_dir)
    flags += final_flags(final, final_audio, spec, limits.episode)
    track = parse_srt(subtitles.read_text(encoding="utf-8"))
    flags += cue_flags(track, spec, scene_cues, limits.episode, soft_track(final, spec.subtitles.get("soft", True)))
    flags = [f.placed(episode=episode) for f in flags]
    flags.sort(key=lambda f: (-f.severity, f.at if f.at is not None else 0.0))
    skipped = [Skipped("identity", "no identity scorer configured (qc.identity.scorer)").to_dict()] \
        if not limits.identity.scorer else []
    record = {"episode": episode, "passed": not flags, "flags": [f.to_dict() for f in flags], "skipped": skipped,
              "scenes": chosen, "cues": len(track),
              "measurements": {"integrated_lufs": final_audio.get("integrated_lufs"),
                               "true_peak_dbtp": final_audio.get("true_peak_dbtp"), "voices": voices},
              "limits": spec.qc}
    write_text_atomic(out, json.dumps(record, ensure_ascii=False, indent=1) + "\n")
    return record


__all__ = ["check_episode", "cue_flags", "final_flags", "voice_flags"]
