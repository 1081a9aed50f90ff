"""Offline speech through libespeak-ng, called with ctypes.

The library and its data come from the `espeakng-loader` wheel, so no apt step is needed.
libespeak-ng keeps global state and is not thread safe: one process-wide engine is
initialised lazily and every synthesis holds its lock.

Part of that state (most likely the glottal phase and pitch flutter) runs on across
utterances, and neither espeak_ng_SetRandSeed nor espeak_Terminate/espeak_Initialize resets
it: repeating a line in one process gives the same timing but not identical samples. A fresh
process speaking the same lines in the same order reproduces its output exactly.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import numpy as np

from ..errors import ProviderError
from .base import VoiceSpec

# Values from espeak-ng's speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # otherwise a data problem makes the library call exit()
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3
_EE_OK = 0

# Anything quieter than this at the ends of an utterance is breath-free silence to trim.
_SILENCE_THRESHOLD = 10 ** (-50 / 20)
_EDGE_MARGIN_SECONDS = 0.01

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _EspeakEngine:
    """The one initialised libespeak-ng of this process."""

    def __init__(self) -> None:
        try:
            import espeakng_loader

            library_path = espeakng_loader.get_library_path()
            self.data_dir = Path(espeakng_loader.get_data_path())
            self._lib = ctypes.CDLL(library_path)
        except (ImportError, OSError, RuntimeError) as exc:
            raise ProviderError(f"cannot load libespeak-ng from espeakng-loader: {exc}") from exc
        self._declare_signatures()
        # espeak_Initialize wants the directory that *contains* espeak-ng-data.
        sample_rate = self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data_dir.parent).encode(), _INITIALIZE_DONT_EXIT
        )
        if sample_rate <= 0:
            raise ProviderError(f"espeak-ng failed to initialise with data at {self.data_dir}")
        self.sample_rate = int(sample_rate)
        self._chunks: list[np.ndarray] = []
        # Keep a reference: ctypes frees the trampoline when the Python object dies.
        self._callback = _SynthCallback(self._collect)
        self._lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _declare_signatures(self) -> None:
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int

    def _collect(self, wav, sample_count, _events) -> int:
        # The final call of an utterance passes NULL with zero samples.
        if wav and sample_count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(sample_count,)).copy())
        return 0  # 0 = keep synthesising

    def has_variant(self, variant: str) -> bool:
        return (self.data_dir / "voices" / "!v" / variant).is_file()

    def speak(self, text: str, spec: VoiceSpec) -> np.ndarray:
        """int16 samples of `text`; caller holds `lock`."""
        # SetVoiceByName silently ignores an unknown "+variant", so check it ourselves.
        if not self.has_variant(spec.variant):
            raise ProviderError(f"espeak-ng has no voice variant {spec.variant!r}")
        voice_name = f"{spec.language}+{spec.variant}"
        if self._lib.espeak_SetVoiceByName(voice_name.encode()) != _EE_OK:
            raise ProviderError(f"espeak-ng has no voice {spec.language!r}")
        # Parameters after the voice: loading a voice may reset them.
        self._check(self._lib.espeak_SetParameter(_PARAM_RATE, spec.rate, 0), "set the rate")
        self._check(self._lib.espeak_SetParameter(_PARAM_PITCH, spec.pitch, 0), "set the pitch")
        encoded = text.encode("utf-8") + b"\0"
        self._chunks = []
        try:
            status = self._lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            self._check(status, "synthesise")
            self._check(self._lib.espeak_Synchronize(), "finish synthesis")
            chunks = self._chunks
        finally:
            self._chunks = []
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    @staticmethod
    def _check(status: int, action: str) -> None:
        if status != _EE_OK:
            raise ProviderError(f"espeak-ng failed to {action} (error {status})")


_engine: _EspeakEngine | None = None
_engine_lock = threading.Lock()


def _shared_engine() -> _EspeakEngine:
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _EspeakEngine()
        return _engine


def trim_silence(samples: np.ndarray, sample_rate: int, threshold: float = _SILENCE_THRESHOLD) -> np.ndarray:
    """Drop the quiet head and tail, keeping a few ms so consonant onsets survive."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return samples[:0]
    margin = int(_EDGE_MARGIN_SECONDS * sample_rate)
    return samples[max(loud[0] - margin, 0) : loud[-1] + margin + 1]


class EspeakVoice:
    """A `Voice` backed by the bundled libespeak-ng (formant synthesis, fully offline)."""

    def __init__(self) -> None:
        self._engine = _shared_engine()
        self.sample_rate = self._engine.sample_rate

    def synthesize(self, text: str, spec: VoiceSpec) -> np.ndarray:
        if not text.strip():
            return np.zeros(0, dtype=np.float32)
        with self._engine.lock:
            pcm = self._engine.speak(text, spec)
        samples = pcm.astype(np.float32) / 32768.0
        return trim_silence(samples, self.sample_rate)
