"""Offline speech through libespeak-ng, called with ctypes.

The library and its data come from the `espeakng-loader` wheel, so no apt step is needed.

Every utterance is reproducible: the same text and `VoiceSpec` give the same samples in any
process, in any order, whatever was spoken before. Two things in libespeak-ng stood in the way:

* Its noise generator (the breath noise of the breathy variants f2, f3, f5, ... and Klatt
  frication) is a private LCG that `espeak_Initialize` seeds with `time(NULL)`, so a fresh
  process gave different samples from one second to the next. Each utterance now reseeds it
  with `espeak_ng_SetRandSeed`, from a hash of the text, the voice spec and the voice's seed.
* The wave generator keeps state across utterances that no API call resets, not even
  `espeak_Terminate` + `espeak_Initialize` + a reseed (in wavegen.c, function-level statics
  such as the pitch-flutter index and the automatic gain): after other lines, the same line came
  out different, even in length. So each utterance runs in a freshly loaded copy of the library:
  dlopen, initialise, seed, speak, terminate, dlclose, about 10 ms more a line. The copy is
  private to this module (an in-memory file on Linux), so nothing else in the process can hold
  the library open and keep that state alive; after each dlclose the module checks that the
  library really went away.

libespeak-ng is not thread safe: one process-wide engine serialises every synthesis with a lock.
"""

from __future__ import annotations

import _ctypes
import atexit
import contextlib
import ctypes
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator

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
_PHONEMES_IPA = 0x02

# Anything quieter than this at the ends of an utterance is breath-free silence to trim.
_SILENCE_THRESHOLD = 10 ** (-50 / 20)
_EDGE_MARGIN_SECONDS = 0.01

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def utterance_seed(text: str, spec: VoiceSpec, seed: int = 0) -> int:
    """The noise seed of one utterance: stable across processes, platforms and Python versions."""
    key = json.dumps([seed, text, spec.language, spec.variant, spec.pitch, spec.rate], ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big") & 0x7FFFFFFF


def _private_copy(library_path: str) -> tuple[str, object]:
    """A path to a copy of the library that only this module loads, and what keeps it alive."""
    data = Path(library_path).read_bytes()
    if hasattr(os, "memfd_create") and Path("/proc/self/fd").is_dir():
        fd = os.memfd_create("libespeak-ng-private")  # lives as long as the process, nothing to clean up
        os.write(fd, data)
        return f"/proc/self/fd/{fd}", fd
    folder = tempfile.mkdtemp(prefix="shortdrama-espeak-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / Path(library_path).name
    path.write_bytes(data)
    return str(path), folder


def _dlopen(path: str) -> int:
    if sys.platform == "win32":
        return _ctypes.LoadLibrary(path)
    return _ctypes.dlopen(path, os.RTLD_NOW | os.RTLD_LOCAL)


def _dlclose(handle: int) -> None:
    if sys.platform == "win32":
        _ctypes.FreeLibrary(handle)
    else:
        _ctypes.dlclose(handle)


def _still_loaded(path: str) -> bool:
    noload = getattr(os, "RTLD_NOLOAD", None)
    if noload is None or sys.platform == "win32":
        return False  # cannot tell; the reproducibility tests catch it
    try:
        handle = _ctypes.dlopen(path, noload | os.RTLD_LAZY)
    except OSError:
        return False
    _ctypes.dlclose(handle)
    return True


def _declare_signatures(lib: ctypes.CDLL) -> None:
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Terminate.argtypes = []
    lib.espeak_Terminate.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_ng_SetRandSeed.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
        ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synchronize.argtypes = []
    lib.espeak_Synchronize.restype = ctypes.c_int
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    lib.espeak_TextToPhonemes.restype = ctypes.c_void_p


class _EspeakEngine:
    """This process's access to libespeak-ng: one freshly loaded, initialised library per utterance."""

    def __init__(self) -> None:
        try:
            import espeakng_loader

            library_path = espeakng_loader.get_library_path()
            self.data_dir = Path(espeakng_loader.get_data_path())
            self._path, self._keepalive = _private_copy(library_path)
        except (ImportError, OSError, RuntimeError) as exc:
            raise ProviderError(f"cannot load libespeak-ng from espeakng-loader: {exc}") from exc
        self._chunks: list[np.ndarray] = []
        # Keep a reference: ctypes frees the trampoline when the Python object dies.
        self._callback = _SynthCallback(self._collect)
        self.lock = threading.Lock()
        with self.lock, self._initialised() as (_lib, sample_rate):
            self.sample_rate = sample_rate

    @contextlib.contextmanager
    def _initialised(self) -> Iterator[tuple[ctypes.CDLL, int]]:
        """A just-loaded libespeak-ng, initialised; terminated and unloaded afterwards. Hold `lock`."""
        try:
            handle = _dlopen(self._path)
        except OSError as exc:
            raise ProviderError(f"cannot load libespeak-ng from espeakng-loader: {exc}") from exc
        try:
            lib = ctypes.CDLL(self._path, handle=handle)
            _declare_signatures(lib)
            # espeak_Initialize wants the directory that *contains* espeak-ng-data.
            sample_rate = lib.espeak_Initialize(
                _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data_dir.parent).encode(), _INITIALIZE_DONT_EXIT
            )
            if sample_rate <= 0:
                raise ProviderError(f"espeak-ng failed to initialise with data at {self.data_dir}")
            try:
                lib.espeak_SetSynthCallback(self._callback)
                yield lib, int(sample_rate)
            finally:
                lib.espeak_Terminate()
        finally:
            _dlclose(handle)
        if _still_loaded(self._path):
            raise ProviderError(
                "libespeak-ng stayed loaded after dlclose, so its wave generator state would carry into "
                "the next line and the same line would not give the same audio"
            )

    def _collect(self, wav, sample_count, _events) -> int:
        # The final call of an utterance passes NULL with zero samples.
        if wav and sample_count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(sample_count,)).copy())
        return 0  # 0 = keep synthesising

    def has_variant(self, variant: str) -> bool:
        return (self.data_dir / "voices" / "!v" / variant).is_file()

    def speak(self, text: str, spec: VoiceSpec, seed: int = 0) -> np.ndarray:
        """int16 samples of `text`, the same for the same arguments every time; caller holds `lock`."""
        # SetVoiceByName silently ignores an unknown "+variant", so check it ourselves.
        if not self.has_variant(spec.variant):
            raise ProviderError(f"espeak-ng has no voice variant {spec.variant!r}")
        voice_name = f"{spec.language}+{spec.variant}"
        encoded = text.encode("utf-8") + b"\0"
        with self._initialised() as (lib, _sample_rate):
            if lib.espeak_SetVoiceByName(voice_name.encode()) != _EE_OK:
                raise ProviderError(f"espeak-ng has no voice {spec.language!r}")
            # Parameters after the voice: loading a voice may reset them.
            self._check(lib.espeak_SetParameter(_PARAM_RATE, spec.rate, 0), "set the rate")
            self._check(lib.espeak_SetParameter(_PARAM_PITCH, spec.pitch, 0), "set the pitch")
            self._check(lib.espeak_ng_SetRandSeed(utterance_seed(text, spec, seed)), "seed its noise")
            self._chunks = []
            try:
                status = lib.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
                self._check(status, "synthesise")
                self._check(lib.espeak_Synchronize(), "finish synthesis")
                chunks = self._chunks
            finally:
                self._chunks = []
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def phonemes(self, text: str, language: str) -> str:
        """The IPA of `text` as eSpeak NG reads it (what Piper voices are trained on): clause by clause,
        each followed by the punctuation that ended it in the text; caller holds `lock`."""
        buffer = ctypes.create_string_buffer(text.encode("utf-8") + b"\0")
        cursor = ctypes.c_void_p(ctypes.addressof(buffer))
        start, clauses = ctypes.addressof(buffer), []
        with self._initialised() as (lib, _sample_rate):
            if lib.espeak_SetVoiceByName(language.encode()) != _EE_OK:
                raise ProviderError(f"espeak-ng has no voice {language!r}")
            for _ in range(4096):  # one clause per call; bounded in case the library stops advancing
                before = cursor.value
                if not before or ctypes.string_at(before, 1) == b"\0":
                    break
                result = lib.espeak_TextToPhonemes(ctypes.byref(cursor), _CHARS_UTF8, _PHONEMES_IPA)
                consumed = buffer.raw[before - start:(cursor.value or start + len(buffer.raw) - 1) - start]
                ending = consumed.decode("utf-8", "ignore").rstrip("\x00 \n\t")[-1:]
                clause = ctypes.string_at(result).decode("utf-8", "ignore").strip() if result else ""
                if clause:
                    clauses.append(clause + (ending if ending in ",.!?;:" else ""))
                if cursor.value == before:
                    break
        return " ".join(clauses)

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
    """A `Voice` backed by the bundled libespeak-ng (formant synthesis, fully offline).

    `seed` only moves the breath noise; the same text, spec and seed always give the same samples.
    """

    def __init__(self, seed: int = 0) -> None:
        self._engine = _shared_engine()
        self.sample_rate = self._engine.sample_rate
        self.seed = seed

    def synthesize(self, text: str, spec: VoiceSpec) -> np.ndarray:
        if not text.strip():
            return np.zeros(0, dtype=np.float32)
        with self._engine.lock:
            pcm = self._engine.speak(text, spec, self.seed)
        samples = pcm.astype(np.float32) / 32768.0
        return trim_silence(samples, self.sample_rate)


def phonemize(text: str, language: str) -> str:
    """eSpeak NG's IPA for `text` in an espeak-ng voice (`en-us`, `cmn`, `vi`)."""
    engine = _shared_engine()
    with engine.lock:
        return engine.phonemes(text, language)
