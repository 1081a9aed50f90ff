"""Judging one take: its measurements (shortdrama.qc.measurements, FFmpeg's analysis filters) against
the qc group's take limits, into flags with timecodes and a score that ranks the takes of a scene.

Only thresholds live here: the measurements are made once per file and cached, so changing a limit
re-judges in milliseconds and buys nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..config.qc import TakeLimits
from .flags import Flag, Skipped, past, short_of


@dataclass(frozen=True)
class TakeExpectation:
    """What the render config and the provider say a take must be."""

    duration: float  # seconds, whole frames
    width: int
    height: int
    fps: float
    codec: str = "h264"
    pix_fmt: str = "yuv420p"
    still_by_design: bool = False  # a provider that holds the keyframe (video=still): never "frozen"
    starts_from_keyframe: bool = True  # a generative image-to-video model: its first frame should be the keyframe


@dataclass(frozen=True)
class TakeVerdict:
    flags: tuple[Flag, ...]
    skipped: tuple[Skipped, ...]
    score: float  # higher is better; a take with flags always ranks below one without
    checks: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.flags

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "score": round(self.score, 3), "flags": [f.to_dict() for f in self.flags],
                "skipped": [s.to_dict() for s in self.skipped], "checks": list(self.checks)}


def _longest(runs: Sequence[Sequence[float]]) -> tuple[float, float] | None:
    return max(((float(a), float(b)) for a, b in runs), key=lambda run: run[1] - run[0], default=None)


def judge_take(m: Mapping[str, Any], expected: TakeExpectation, limits: TakeLimits,
               identity: Sequence[Flag | Skipped] | None = None) -> TakeVerdict:
    """Flags for one take's measurements `m` (see measurements.VIDEO_FIELDS)."""
    flags: list[Flag] = []
    skipped: list[Skipped] = []
    frame = 1.0 / expected.fps
    checks = ["duration", "format", "black", "freeze", "cut", "blur", "keyframe_drift"]

    off_by = abs(m["duration_s"] - expected.duration)
    if off_by > limits.duration_tolerance_frames * frame + 1e-6:
        flags.append(Flag("duration", round(m["duration_s"], 3), round(expected.duration, 3),
                          f"lasts {m['duration_s']:.3f} s, the scene {expected.duration:.3f} s "
                          f"({off_by / frame:.1f} frames off)", at=min(m["duration_s"], expected.duration),
                          severity=1.0 + off_by / frame))
    wanted = {"codec": expected.codec, "pix_fmt": expected.pix_fmt, "size": f"{expected.width}x{expected.height}"}
    found = {"codec": m["codec"], "pix_fmt": m["pix_fmt"], "size": f"{m['width']}x{m['height']}"}
    for name, value in found.items():
        if value != wanted[name]:
            flags.append(Flag("format", value, wanted[name], f"{name} is {value}, the render config says {wanted[name]}",
                              severity=2.0))
    if abs(float(m["fps"]) - expected.fps) > 0.01:
        flags.append(Flag("format", round(float(m["fps"]), 3), expected.fps,
                          f"{float(m['fps']):g} fps, the render config says {expected.fps:g}", severity=2.0))

    duration = max(float(m["duration_s"]), frame)
    black = [(float(a), float(b)) for a, b in m["black_runs"]]
    black_total = sum(b - a for a, b in black)
    longest_black = _longest(black)
    if black_total / duration > limits.max_black_share + 1e-9:
        share = black_total / duration
        flags.append(Flag("black", round(share, 3), limits.max_black_share,
                          f"{share:.0%} of the take is black (limit {limits.max_black_share:.0%})",
                          at=black[0][0], severity=past(share, limits.max_black_share)))
    if longest_black and longest_black[1] - longest_black[0] > limits.max_black_run_s + 1e-9:
        run = longest_black[1] - longest_black[0]
        flags.append(Flag("black", round(run, 3), limits.max_black_run_s,
                          f"black for {run:.2f} s", at=longest_black[0],
                          severity=past(run, limits.max_black_run_s)))

    longest_freeze = _longest(m["freeze_runs"])
    if expected.still_by_design:
        skipped.append(Skipped("freeze", "the video provider holds the keyframe by design"))
    elif longest_freeze and longest_freeze[1] - longest_freeze[0] > limits.max_freeze_s + 1e-9:
        run = longest_freeze[1] - longest_freeze[0]
        flags.append(Flag("freeze", round(run, 3), limits.max_freeze_s,
                          f"frozen for {run:.2f} s", at=longest_freeze[0],
                          severity=past(run, limits.max_freeze_s)))

    cuts = [(float(t), float(s)) for t, s in m["cuts"] if float(s) >= limits.scene_change_threshold]
    if len(cuts) > limits.max_cuts:
        at, score = max(cuts, key=lambda cut: cut[1])
        flags.append(Flag("cut", len(cuts), limits.max_cuts,
                          f"{len(cuts)} hard cut(s) inside the take (strongest scene-change score {score:.1f} "
                          f">= {limits.scene_change_threshold:g}, {at:.2f} s into the take)",
                          at=cuts[0][0], severity=1.0 + len(cuts) - limits.max_cuts))

    blur = float(m["blur_mean"] or 0.0)  # None: blurdetect measured no frame
    if blur > limits.max_blur:
        flags.append(Flag("blur", round(blur, 3), limits.max_blur,
                          f"blurry: mean blur {blur:.2f} > {limits.max_blur:g}",
                          at=m.get("blur_max_at"), severity=past(blur, limits.max_blur)))

    ssim = m.get("first_frame_ssim")
    if not expected.starts_from_keyframe:
        skipped.append(Skipped("keyframe_drift", "the video provider is no image-to-video model (nothing can drift)"))
    elif ssim is None:
        skipped.append(Skipped("keyframe_drift", "no keyframe to compare with"))
    elif ssim < limits.min_keyframe_ssim:
        flags.append(Flag("keyframe_drift", round(ssim, 3), limits.min_keyframe_ssim,
                          f"the first frame is not its keyframe: SSIM {ssim:.2f} < {limits.min_keyframe_ssim:g}",
                          at=0.0, severity=short_of(ssim, limits.min_keyframe_ssim)))

    if identity is None:
        identity = [Skipped("identity", "no identity scorer configured (qc.identity.scorer)")]
    for finding in identity:
        (flags if isinstance(finding, Flag) else skipped).append(finding)
    checks.append("identity")

    score = _score(m, expected, black_total / duration, longest_freeze, len(cuts), blur, ssim, limits)
    return TakeVerdict(tuple(flags), tuple(skipped), score - 100.0 * len(flags), tuple(checks))


def _score(m: Mapping[str, Any], expected: TakeExpectation, black_share: float,
           longest_freeze: tuple[float, float] | None, cuts: int, blur: float, ssim: float | None,
           limits: TakeLimits) -> float:
    """0..100 for a take with no flag: what is left of each measured quality, so that among passing
    takes the least black, least frozen, sharpest and closest to its keyframe wins."""
    score = 100.0 - 40.0 * min(black_share / max(limits.max_black_share, 1e-6), 1.0)
    if longest_freeze and not expected.still_by_design:
        score -= 20.0 * min((longest_freeze[1] - longest_freeze[0]) / limits.max_freeze_s, 1.0)
    score -= 10.0 * min(cuts, 3)
    score -= 15.0 * min(blur / limits.max_blur, 1.0)
    if ssim is not None and expected.starts_from_keyframe:
        score -= 15.0 * (1.0 - max(min(ssim, 1.0), 0.0))
    return score
