"""QC of a delivered file against its platform's limits: length, size, format, loudness and true peak,
and where the burned captions really are (they must clear the platform's bottom and top bands).

The captions are found, not assumed: at a few cues' midpoints the delivered frame is compared with the
same instant of the picture the render read, scaled the same way; the rows that differ are the burn-in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..qc.flags import Flag, past, short_of

# A pixel belongs to the burn-in when it moved this much from the clean picture (8-bit luma, both at a
# quarter of the size: the scalers' and the encoder's edge differences fade, 60-line-tall text does not),
# and a row does when this share of its pixels did.
CAPTION_PIXEL_DELTA = 48
CAPTION_ROW_SHARE = 0.02
SHRINK = 4
CUES_SAMPLED = 3


def _frames(path: Path, times: Sequence[float], size: tuple[int, int]) -> list[np.ndarray]:
    """Luma of the frames shown at `times` (each the last frame starting at or before it), at `size` / SHRINK."""
    import av
    from PIL import Image

    small = (size[0] // SHRINK, size[1] // SHRINK)
    wanted, found = sorted(times), {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(max(0, int((wanted[0] - 1.0) / stream.time_base)), stream=stream)
        previous = None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            for at in wanted:
                if at not in found and frame.time > at + 1e-6 and previous is not None:
                    found[at] = previous
            if len(found) == len(wanted):
                break
            previous = frame
        for at in wanted:
            if at not in found and previous is not None:
                found[at] = previous
    return [np.asarray(found[at].to_image().convert("L").resize(small, Image.Resampling.BOX), dtype=np.int16)
            for at in times if at in found]


def caption_rows(delivered: Path, sources: Sequence[tuple[Path, float, float]], cues: Sequence[tuple[float, float]],
                 size: tuple[int, int]) -> list[tuple[float, int, int]]:
    """(time, top row, bottom row) of the burned captions at up to CUES_SAMPLED cues' midpoints.
    `sources`: each scene's video with its start and end on the episode clock. The clean picture is the
    closest of the source's frames around that instant (the delivery's frame rate differs)."""
    found = []
    picks = [cues[i] for i in sorted({0, len(cues) // 2, len(cues) - 1})][:CUES_SAMPLED] if cues else []
    for start, end in picks:
        at = (start + end) / 2
        scene = next(((path, s) for path, s, e in sources if s <= at < e), None)
        if scene is None:
            continue
        shown = _frames(delivered, [at], size)
        local = at - scene[1]
        clean = _frames(scene[0], [max(0.0, local - 0.05), local, local + 0.05], size)
        if not shown or not clean or any(c.shape != shown[0].shape for c in clean):
            continue
        delta = np.min([np.abs(shown[0] - c) for c in clean], axis=0)
        rows = np.flatnonzero((delta > CAPTION_PIXEL_DELTA).mean(axis=1) > CAPTION_ROW_SHARE)
        if rows.size:
            found.append((at, int(rows.min()) * SHRINK, int(rows.max() + 1) * SHRINK - 1))
    return found


def check_delivery(path: Path, limits: Mapping[str, Any], expected_duration: float,
                   captions: Sequence[tuple[float, int, int]] | None) -> dict[str, Any]:
    """The report: what was measured, what it may be, and a flag for every limit passed."""
    from ..media import probe
    from ..qc.audio_analysis import analyse_audio

    info = probe(path)
    video, audio = info.first("video"), info.first("audio")
    size = path.stat().st_size
    sound = analyse_audio(path)
    flags: list[Flag] = []
    where = limits["platform"]
    if limits.get("max_duration_s") is not None and info.duration > limits["max_duration_s"]:
        flags.append(Flag("duration", round(info.duration, 3), limits["max_duration_s"],
                          f"{info.duration:.1f} s is longer than {where} takes ({limits['max_duration_s']:g} s)",
                          severity=past(info.duration, limits["max_duration_s"])))
    if info.duration < limits.get("min_duration_s", 0.0):
        flags.append(Flag("duration", round(info.duration, 3), limits["min_duration_s"],
                          f"{info.duration:.1f} s is shorter than {where} takes ({limits['min_duration_s']:g} s)",
                          severity=short_of(info.duration, limits["min_duration_s"])))
    if abs(info.duration - expected_duration) > 1.5 / limits["fps"]:
        flags.append(Flag("duration", round(info.duration, 3), round(expected_duration, 3),
                          f"the delivery lasts {info.duration:.3f} s, the episode {expected_duration:.3f} s"))
    cap = None if limits.get("max_mb") is None else int(limits["max_mb"] * 1_000_000)
    if cap is not None and size > cap:
        flags.append(Flag("size", size, cap, f"{size / 1e6:.1f} MB is over {where}'s {limits['max_mb']:g} MB",
                          severity=past(size, cap)))
    shape = (video.codec, video.width, video.height, round(video.fps)) if video else None
    wanted = ("h264", limits["width"], limits["height"], limits["fps"])
    if shape != wanted or audio is None or audio.codec != "aac":
        flags.append(Flag("format", str(shape), str(wanted), f"the delivery is {shape} with "
                          f"{audio.codec if audio else 'no'} audio, {where} wants {wanted} with AAC"))
    target, tolerance = limits["loudness_lufs"], limits["loudness_tolerance_lu"]
    if sound.integrated_lufs is None or abs(sound.integrated_lufs - target) > tolerance:
        measured = "silence" if sound.integrated_lufs is None else f"{sound.integrated_lufs:.1f} LUFS"
        flags.append(Flag("loudness", measured if sound.integrated_lufs is None else round(sound.integrated_lufs, 2),
                          target, f"integrated loudness {measured}, {where} normalises to {target:g} ±{tolerance:g}"))
    if sound.true_peak_dbtp > limits["true_peak_dbtp"]:
        flags.append(Flag("true_peak", round(sound.true_peak_dbtp, 2), limits["true_peak_dbtp"],
                          f"true peak {sound.true_peak_dbtp:.1f} dBTP is over {limits['true_peak_dbtp']:g}"))
    height = limits["height"]
    floor, ceiling = height * (1 - limits["bottom_ui"]), height * limits["top_ui"]
    for at, top, bottom in captions or ():
        if bottom > floor:
            flags.append(Flag("safe_area", bottom, int(floor), f"a burned caption reaches row {bottom}, under "
                              f"{where}'s bottom interface (from row {int(floor)})", at=round(at, 3)))
        if top < ceiling:
            flags.append(Flag("safe_area", top, int(ceiling), f"a burned caption starts at row {top}, under "
                              f"{where}'s top interface (to row {int(ceiling)})", at=round(at, 3)))
    return {
        "platform": where, "file": path.name, "passed": not flags, "flags": [f.to_dict() for f in flags],
        "measured": {"duration_s": round(info.duration, 3), "bytes": size,
                     "integrated_lufs": None if sound.integrated_lufs is None else round(sound.integrated_lufs, 2),
                     "true_peak_dbtp": round(sound.true_peak_dbtp, 2), "format": list(shape) if shape else None,
                     "captions": [{"at": round(a, 3), "top": t, "bottom": b} for a, t, b in captions or ()]},
        "limits": dict(limits),
    }
