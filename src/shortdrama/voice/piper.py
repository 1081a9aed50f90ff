"""Local neural speech from a Piper-style ONNX voice: `<voice>.onnx` and its `<voice>.onnx.json` beside
it, from a folder (`voice.model_path`), run with onnxruntime on the CPU; nothing is downloaded.

The text is read into IPA phonemes by the eSpeak NG the project already ships (espeakng-loader, in the
voice's `espeak.voice` language), the phonemes become ids through the voice's `phoneme_id_map` the way
Piper does it (`^`, then each phoneme followed by the pad `_`, then `$`; characters the voice does not
know are dropped), and the model is run with Piper's inputs: `input` (int64 [1, n]), `input_lengths`
(int64 [1]), `scales` (float32 [noise_scale, length_scale, noise_w]) and, for a voice of several
speakers, `sid` (int64 [1]): each character speaks as one speaker. Its output is float audio at the
config's `audio.sample_rate`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ProviderError
from .base import VoiceSpec

BOS, EOS, PAD = "^", "$", "_"
BASE_RATE = 165  # the wpm a length_scale of the voice's own default stands for


def voice_files(model_path: str | Path) -> tuple[Path, Path]:
    """The .onnx and its .onnx.json: a file, or a folder holding exactly one voice."""
    if not str(model_path or ""):
        raise ConfigError("voice=piper needs voice.model_path: the .onnx voice (with its .onnx.json) or its folder")
    path = Path(model_path)
    if path.is_dir():
        models = sorted(path.glob("*.onnx"))
        if len(models) != 1:
            raise ConfigError(f"voice.model_path={path}: expected one Piper voice (*.onnx) in the folder, "
                              f"found {len(models)}")
        path = models[0]
    config = path.with_name(path.name + ".json")
    if not path.is_file() or not config.is_file():
        raise ConfigError(f"voice.model_path={model_path}: a Piper voice is a .onnx file with its .onnx.json beside it")
    return path, config


@dataclass
class PiperVoice:
    """A `Voice` (voice.base): `synthesize(text, spec)`; `spec.variant` is the speaker, `sid<N>`."""

    model_path: str | Path
    sample_rate: int = field(init=False)

    def __post_init__(self) -> None:
        model, config_path = voice_files(self.model_path)
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            self.sample_rate = int(config["audio"]["sample_rate"])
            self.id_map: dict[str, list[int]] = config["phoneme_id_map"]
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"{config_path}: not a Piper voice config ({error})") from None
        self.language = config.get("espeak", {}).get("voice", "en-us")
        inference = config.get("inference", {})
        self.scales = (float(inference.get("noise_scale", 0.667)), float(inference.get("length_scale", 1.0)),
                       float(inference.get("noise_w", 0.8)))
        self.speakers = int(config.get("num_speakers", 1) or 1)
        self.session = _session(str(model))

    def phoneme_ids(self, phonemes: str) -> list[int]:
        ids = list(self.id_map.get(BOS, [])) + list(self.id_map.get(PAD, []))
        for symbol in phonemes:
            if symbol in self.id_map:
                ids += self.id_map[symbol] + self.id_map.get(PAD, [])
        return ids + list(self.id_map.get(EOS, []))

    def synthesize(self, text: str, spec: VoiceSpec) -> np.ndarray:
        from .espeak import phonemize

        if not text.strip():
            return np.zeros(0, dtype=np.float32)
        ids = self.phoneme_ids(phonemize(text, self.language))
        noise, length, noise_w = self.scales
        length *= BASE_RATE / max(spec.rate, 1)  # faster speech is a shorter length scale
        feeds: dict[str, Any] = {"input": np.array([ids], dtype=np.int64),
                                 "input_lengths": np.array([len(ids)], dtype=np.int64),
                                 "scales": np.array([noise, length, noise_w], dtype=np.float32)}
        names = {i.name for i in self.session.get_inputs()}
        if "sid" in names:
            feeds["sid"] = np.array([speaker_of(spec.variant) % self.speakers], dtype=np.int64)
        try:
            audio = self.session.run(None, {k: v for k, v in feeds.items() if k in names})[0]
        except Exception as error:  # onnxruntime raises its own exception types
            raise ProviderError(f"the Piper voice failed on {text[:40]!r}: {error}") from None
        samples = np.asarray(audio, dtype=np.float32).reshape(-1)
        if not np.all(np.isfinite(samples)):
            raise ProviderError("the Piper voice returned NaN or infinite samples")
        return np.clip(samples, -1.0, 1.0)


def speaker_of(variant: str) -> int:
    return int(variant.removeprefix("sid")) if variant.startswith("sid") and variant[3:].isdigit() else 0


@lru_cache(maxsize=4)
def _session(model: str) -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("voice=piper needs onnxruntime: pip install -e '.[piper]'") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # one scene job per core
    try:
        return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own exception types
        raise ConfigError(f"{model}: onnxruntime cannot load it ({str(error).splitlines()[0]})") from None
