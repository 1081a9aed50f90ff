"""16-bit PCM WAV in and out, and resampling, with numpy and the stdlib only."""

from __future__ import annotations

import os
import wave
from math import gcd

import numpy as np

from ..errors import MediaError
from ..media import atomic_output

_INT16_SCALE = 32767.0
# Windowed-sinc half width in input samples; 16 keeps speech images far below audibility.
_SINC_HALF_WIDTH = 16
_RESAMPLE_BLOCK = 65536
_MAX_PHASES = 4096


def write_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """Write float samples (mono `(n,)` or `(n, channels)`) as 16-bit PCM, atomically."""
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] not in (1, 2):
        raise MediaError(f"cannot write {path}: samples must be mono (n,) or (n, 2), got shape {samples.shape}")
    if sample_rate <= 0:
        raise MediaError(f"cannot write {path}: sample rate must be positive, got {sample_rate}")
    if not np.all(np.isfinite(data)):
        raise MediaError(f"cannot write {path}: samples contain NaN or infinity")
    pcm = np.round(np.clip(data, -1.0, 1.0) * _INT16_SCALE).astype("<i2")
    with atomic_output(path) as tmp:
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(data.shape[1])
            out.setsampwidth(2)
            out.setframerate(int(sample_rate))
            out.writeframes(pcm.tobytes())


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Float32 samples in [-1, 1] (`(n,)` for mono, `(n, channels)` otherwise) and the sample rate."""
    try:
        with wave.open(str(path), "rb") as source:
            channels = source.getnchannels()
            width = source.getsampwidth()
            sample_rate = source.getframerate()
            raw = source.readframes(source.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise MediaError(f"cannot read WAV {path}: {exc}") from exc
    if width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 1:  # 8-bit WAV is unsigned
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 4:
        data = (np.frombuffer(raw, dtype="<i4").astype(np.float64) / 2**31).astype(np.float32)
    else:
        raise MediaError(f"cannot read WAV {path}: {8 * width}-bit samples are not supported")
    data = data.reshape(-1, channels)
    return (data[:, 0].copy() if channels == 1 else data), sample_rate


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling (Hann-windowed sinc); works along axis 0 and keeps the dtype float32.

    The output has round(len * to_rate / from_rate) samples, so durations are preserved.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise MediaError(f"cannot resample from {from_rate} Hz to {to_rate} Hz")
    data = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate or data.shape[0] == 0:
        return data.copy()
    common = gcd(from_rate, to_rate)
    step_num, step_den = from_rate // common, to_rate // common
    out_length = int(round(data.shape[0] * to_rate / from_rate))
    # Below the lower Nyquist frequency only, so downsampling does not alias.
    cutoff = min(1.0, to_rate / from_rate)
    half_width = _SINC_HALF_WIDTH / cutoff if cutoff < 1.0 else float(_SINC_HALF_WIDTH)
    reach = int(np.ceil(half_width))
    taps = np.arange(-reach + 1, reach + 1)
    padded = np.pad(data, [(reach, reach + 1)] + [(0, 0)] * (data.ndim - 1))

    def kernel_for(frac: np.ndarray) -> np.ndarray:
        distance = frac[:, None] - taps[None, :]  # (positions, taps), in input samples
        window = 0.5 + 0.5 * np.cos(np.pi * np.clip(distance / half_width, -1.0, 1.0))
        return (cutoff * np.sinc(cutoff * distance) * window).astype(np.float32)

    # Output positions cycle through step_den sub-sample phases; tabulate them when few.
    phase_table = kernel_for(np.arange(step_den) / step_den) if step_den <= _MAX_PHASES else None
    out = np.empty((out_length,) + data.shape[1:], dtype=np.float32)
    for start in range(0, out_length, _RESAMPLE_BLOCK):
        index = np.arange(start, min(start + _RESAMPLE_BLOCK, out_length), dtype=np.int64)
        # Exact rational positions: no drift over long files.
        whole = (index * step_num) // step_den
        phase = (index * step_num) % step_den
        kernel = phase_table[phase] if phase_table is not None else kernel_for(phase / step_den)
        gathered = padded[whole[:, None] + taps[None, :] + reach]
        if data.ndim == 1:
            out[index] = np.einsum("bt,bt->b", gathered, kernel)
        else:
            out[index] = np.einsum("btc,bt->bc", gathered, kernel)
    return out


def decode_audio(source: str | os.PathLike | bytes, container_format: str | None = None) -> tuple[np.ndarray, int]:
    """Float32 mono samples in [-1, 1] and the rate of any audio PyAV reads (a path, or a file's bytes):
    every channel layout and sample format converted by FFmpeg's own resampler, not guessed."""
    import io

    import av

    where = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        with av.open(where, format=container_format) as container:
            stream = container.streams.audio[0]
            rate = stream.rate
            to_mono = av.AudioResampler(format="fltp", layout="mono", rate=rate)
            chunks = [out.to_ndarray()[0] for frame in container.decode(stream) for out in to_mono.resample(frame)]
            chunks += [out.to_ndarray()[0] for out in to_mono.resample(None)]
    except (av.error.FFmpegError, OSError, IndexError, ValueError) as error:
        raise MediaError(f"not readable audio ({error})") from None
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    return samples, int(rate)
