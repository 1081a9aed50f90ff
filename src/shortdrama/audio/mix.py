"""The episode soundtrack: dialogue over a ducked music bed, loudness-normalised by FFmpeg."""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import MediaError
from ..media import run_ffmpeg
from .music import synthesize_bed
from .wav import read_wav, resample, write_wav

_BLOCK_SECONDS = 0.01
# Keep the music down through the short pauses between words, so it does not pump.
_HOLD_SECONDS = 0.25
OUTPUT_SAMPLE_RATE = 48000
# Sample peaks understate true peaks; leave room so loudnorm's linear mode stays available.
_INTERSAMPLE_MARGIN_DB = 0.5
_LIMITER_BLOCK_SECONDS = 0.001
_LIMITER_ATTACK_SECONDS = 0.002
_LIMITER_RELEASE_SECONDS = 0.05
_MAX_LIMITING_DB = 12.0
_LIMITER_SEARCH_STEPS = 7


def duck(
    music: np.ndarray,
    dialogue: np.ndarray,
    sample_rate: int,
    depth_db: float = -14.0,
    attack: float = 0.04,
    release: float = 0.35,
    threshold: float = 0.01,
) -> np.ndarray:
    """`music` with its gain lowered by `depth_db` wherever `dialogue` is speaking.

    `attack` and `release` are the times to complete ~95% of a gain change. The duck starts
    `attack` early (look-ahead) so the first syllable is never masked.
    """
    music = np.asarray(music, dtype=np.float32)
    length = music.shape[0]
    if length == 0:
        return music.copy()
    speech = np.asarray(dialogue, dtype=np.float32)
    if speech.ndim == 2:
        speech = speech.mean(axis=1)
    speech = _fit_length(speech, length)

    block = max(1, int(round(_BLOCK_SECONDS * sample_rate)))
    block_count = -(-length // block)
    padded = np.zeros(block_count * block, dtype=np.float32)
    padded[:length] = speech
    block_rms = np.sqrt(np.mean(np.square(padded.reshape(block_count, block)), axis=1))
    speaking = _widen(block_rms > threshold, before=_blocks(attack, block, sample_rate),
                      after=_blocks(_HOLD_SECONDS, block, sample_rate))  # fmt: skip
    target_db = np.where(speaking, depth_db, 0.0)

    block_seconds = block / sample_rate
    # A one-pole smoother reaches 95% of a step after three time constants.
    fall = math.exp(-block_seconds * 3 / max(attack, 1e-6))
    rise = math.exp(-block_seconds * 3 / max(release, 1e-6))
    smoothed = np.empty(block_count)
    gain_db = 0.0
    for i, target in enumerate(target_db):
        coefficient = fall if target < gain_db else rise
        gain_db = target + (gain_db - target) * coefficient
        smoothed[i] = gain_db

    block_centres = (np.arange(block_count) + 0.5) * block
    gain = 10 ** (np.interp(np.arange(length), block_centres, smoothed) / 20)
    gain = gain.astype(np.float32)
    return music * (gain[:, None] if music.ndim == 2 else gain)


def _blocks(seconds: float, block: int, sample_rate: int) -> int:
    return int(math.ceil(seconds * sample_rate / block))


def _widen(active: np.ndarray, before: int, after: int) -> np.ndarray:
    """Mark blocks within `before` blocks ahead of, or `after` blocks behind, an active one."""
    index = np.arange(active.size)
    last_active = np.maximum.accumulate(np.where(active, index, -(10**9)))
    next_active = np.minimum.accumulate(np.where(active, index, 10**9)[::-1])[::-1]
    return (index - last_active <= after) | (next_active - index <= before)


def _fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    if samples.shape[0] >= length:
        return samples[:length]
    padding = [(0, length - samples.shape[0])] + [(0, 0)] * (samples.ndim - 1)
    return np.pad(samples, padding)


def mix_episode(
    dialogue_wavs: Sequence[Path],
    scene_durations: Sequence[float],
    mood: str,
    out_path: Path,
    *,
    music_volume_db: float = -18.0,
    duck_db: float = -14.0,
    target_lufs: float = -16.0,
    true_peak_db: float = -1.5,
    sample_rate: int = 48000,
    seed: int = 0,
    music_enabled: bool = True,
    music_out: Path | None = None,
) -> None:
    """Write the episode soundtrack: 48 kHz stereo 16-bit WAV, exactly as long as the scenes.

    `music_volume_db` is the gain on the music bed (which peaks at -6 dBFS) relative to the
    dialogue, before ducking and before the whole mix is normalised to `target_lufs`. `music_out`:
    the ducked bed alone, at the gain the normalisation gave the mix (a stem for an editor: the
    dialogue stems plus it make the mix, but for the mix's peak limiting); silence without music.
    """
    if len(dialogue_wavs) != len(scene_durations):
        raise MediaError(f"{len(dialogue_wavs)} dialogue tracks for {len(scene_durations)} scenes")
    if any(d < 0 or not math.isfinite(d) for d in scene_durations):
        raise MediaError(f"scene durations must be non-negative seconds, got {list(scene_durations)}")
    total_seconds = float(sum(scene_durations))
    # Boundaries from cumulative time, so per-scene rounding never drifts from the video.
    boundaries = np.round(np.concatenate([[0.0], np.cumsum(scene_durations)]) * sample_rate).astype(np.int64)
    total = int(boundaries[-1])
    if total == 0:
        raise MediaError("cannot mix an episode of zero duration")

    dialogue = np.zeros(total, dtype=np.float32)
    for wav_path, start, end in zip(dialogue_wavs, boundaries[:-1], boundaries[1:]):
        samples, rate = read_wav(wav_path)
        if samples.ndim == 2:
            samples = samples.mean(axis=1)
        if rate != sample_rate:
            samples = resample(samples, rate, sample_rate)
        dialogue[start:end] = _fit_length(samples, int(end - start))

    mix = dialogue.astype(np.float64)
    music = np.zeros(total, dtype=np.float64)
    if music_enabled:
        bed = synthesize_bed(mood, total_seconds, sample_rate, seed=seed)
        bed = _fit_length(bed, total) * 10 ** (music_volume_db / 20)
        music = duck(bed, dialogue, sample_rate, depth_db=duck_db)
        mix += music
    output_length = int(round(total_seconds * OUTPUT_SAMPLE_RATE))
    gain_db = _loudness_normalise(mix.astype(np.float32), sample_rate, output_length, out_path, target_lufs, true_peak_db)
    if music_out is not None:
        stem = _fit_length(resample((music * 10 ** (gain_db / 20)).astype(np.float32), sample_rate, OUTPUT_SAMPLE_RATE),
                           output_length)
        write_wav(music_out, np.stack([stem, stem], axis=1), OUTPUT_SAMPLE_RATE)


def _loudness_normalise(
    mix: np.ndarray, sample_rate: int, output_length: int, out_path: Path, target_lufs: float, true_peak_db: float
) -> float:
    """Write the normalised mix; return the gain it was given (dB, 0 for silence)."""
    with tempfile.TemporaryDirectory(prefix="shortdrama-mix-") as scratch:
        raw_mix = Path(scratch) / "mix.f32"
        # Raw float keeps the un-normalised sum's headroom; 16-bit WAV would clip it.
        mix.astype("<f4").tofile(raw_mix)
        raw_input = ["-f", "f32le", "-ar", str(sample_rate), "-ac", "1", "-i", str(raw_mix)]
        measured = measure_loudness(raw_input, target_lufs, true_peak_db)
        input_lufs = float(measured["input_i"])
        if not math.isfinite(input_lufs) or input_lufs < -69.0:
            # Silence (or near enough) has no loudness to normalise; write it as it is.
            mono = _fit_length(resample(mix, sample_rate, OUTPUT_SAMPLE_RATE), output_length)
            write_wav(out_path, np.stack([mono, mono], axis=1), OUTPUT_SAMPLE_RATE)
            return 0.0
        limited = _limit_for_linear_gain(mix, sample_rate, input_lufs, true_peak_db - target_lufs)
        if limited is not None:
            limited.astype("<f4").tofile(raw_mix)
            measured = measure_loudness(raw_input, target_lufs, true_peak_db)
        # Linear mode only engages when the target range covers the measured one.
        loudness_range = min(max(float(measured["input_lra"]) + 1.0, 7.0), 50.0)
        normalise = (
            f"loudnorm=I={target_lufs}:TP={true_peak_db}:LRA={loudness_range:.1f}"
            f":measured_I={measured['input_i']}:measured_TP={measured['input_tp']}"
            f":measured_LRA={measured['input_lra']}:measured_thresh={measured['input_thresh']}"
            f":offset={measured['target_offset']}:linear=true:print_format=summary"
        )
        raw_output = Path(scratch) / "normalised.f32"
        # loudnorm works at 192 kHz internally, so the output rate must be forced back.
        run_ffmpeg([*raw_input, "-af", normalise, "-ar", str(OUTPUT_SAMPLE_RATE), "-ac", "2",
                    "-f", "f32le", str(raw_output)])  # fmt: skip
        stereo = np.fromfile(raw_output, dtype="<f4").reshape(-1, 2)
        source = _fit_length(resample(limited if limited is not None else mix, sample_rate, OUTPUT_SAMPLE_RATE),
                             len(stereo)).astype(np.float64)
    write_wav(out_path, _fit_length(stereo, output_length), OUTPUT_SAMPLE_RATE)
    # The one gain linear mode applied, read off the result (least squares) rather than from loudnorm's
    # own figures (its offset and internal resampling make those approximate).
    energy = float(np.dot(source, source))
    gain = float(np.dot(stereo[:, 0].astype(np.float64), source)) / energy if energy > 0 else 1.0
    return 20 * math.log10(max(gain, 1e-9))


def _limit_for_linear_gain(
    mix: np.ndarray, sample_rate: int, input_lufs: float, peak_to_loudness_db: float
) -> np.ndarray | None:
    """The mix with its peaks limited so one gain can reach the loudness target; None if no need.

    loudnorm applies a single clean gain only if that gain cannot push the true peak over
    its target; otherwise it falls back to a dynamic mode that audibly pumps. Formant
    speech peaks sit far above its loudness, so they are limited first.
    """
    allowed_db = peak_to_loudness_db - _INTERSAMPLE_MARGIN_DB
    peak_db = 20 * math.log10(max(float(np.max(np.abs(mix))), 1e-12))
    if peak_db <= input_lufs + allowed_db:
        return None
    energy = float(np.sum(np.square(mix, dtype=np.float64)))

    def limited_at(ceiling_db: float) -> tuple[np.ndarray, bool]:
        limited = limit_peaks(mix, 10 ** (ceiling_db / 20), sample_rate)
        # Limiting lowers the loudness too; the energy ratio estimates by how much.
        loss_db = 10 * math.log10(max(float(np.sum(np.square(limited, dtype=np.float64))), 1e-30) / energy)
        return limited, ceiling_db <= input_lufs + loss_db + allowed_db

    # Bisect for the gentlest ceiling that is enough; past the deepest allowed limiting,
    # loudnorm's dynamic mode is the lesser evil and takes over on its own.
    low, high = peak_db - _MAX_LIMITING_DB, peak_db
    best, enough = limited_at(low)
    if not enough:
        return best
    for _ in range(_LIMITER_SEARCH_STEPS):
        middle = (low + high) / 2
        candidate, enough = limited_at(middle)
        if enough:
            best, low = candidate, middle
        else:
            high = middle
    return best


def measure_loudness(raw_input: list[str], target_lufs: float, true_peak_db: float) -> dict[str, str]:
    """loudnorm's first pass over `raw_input` (FFmpeg input arguments): the values its second pass needs."""
    measure = f"loudnorm=I={target_lufs}:TP={true_peak_db}:print_format=json"
    return _loudnorm_json(run_ffmpeg([*raw_input, "-af", measure, "-f", "null", "-"]))


def limit_peaks(samples: np.ndarray, ceiling: float, sample_rate: int) -> np.ndarray:
    """Look-ahead peak limiter: |output| <= ceiling, with gain ramps of a few ms, no clipping."""
    block = max(1, int(round(_LIMITER_BLOCK_SECONDS * sample_rate)))
    length = samples.shape[0]
    block_count = -(-length // block)
    padded = np.zeros(block_count * block, dtype=np.float64)
    padded[:length] = np.abs(samples)
    block_peak = padded.reshape(block_count, block).max(axis=1)
    needed = np.minimum(1.0, ceiling / np.maximum(block_peak, 1e-12))
    # Hold each block's reduction over its neighbours, then ramp into it: the moving average
    # of a min-filter twice its width never exceeds the gain a peak needs.
    ramp = max(1, int(round(_LIMITER_ATTACK_SECONDS * sample_rate / block)))
    held = np.pad(needed, ramp, mode="edge")
    held = np.min(np.lib.stride_tricks.sliding_window_view(held, 2 * ramp + 1), axis=1)
    gain = np.convolve(np.pad(held, ramp, mode="edge"), np.ones(2 * ramp + 1) / (2 * ramp + 1), mode="valid")
    gain = np.minimum(gain, held)
    # Release: the reduction decays exponentially unless a later block needs more, i.e.
    # reduction[i] = max_j raw[j] * r**(i - j), a running maximum in the log domain.
    log_recover = -3 * block / (_LIMITER_RELEASE_SECONDS * sample_rate)
    steps = np.arange(block_count) * log_recover
    with np.errstate(divide="ignore"):
        log_reduction = np.log(np.maximum(1.0 - gain, 0.0))
    gain = 1.0 - np.exp(np.maximum.accumulate(log_reduction - steps) + steps)
    centres = (np.arange(block_count) + 0.5) * block
    per_sample = np.interp(np.arange(length), centres, gain)
    # Interpolating between blocks can slightly overshoot; the final clamp is inaudible.
    limited = samples * per_sample
    return np.clip(limited, -ceiling, ceiling).astype(np.float32)


def _loudnorm_json(stderr: str) -> dict[str, str]:
    match = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", stderr)
    if match is None:
        raise MediaError("ffmpeg loudnorm printed no measurement")
    try:
        return json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise MediaError(f"cannot parse ffmpeg loudnorm measurement: {exc}") from exc
