"""A tiny Piper-style ONNX voice built in code (random but fixed weights, no download): the same inputs
and output as a real Piper voice (`input`, `input_lengths`, `scales`, optional `sid` -> float audio), so
the whole local-voice path runs in the tests. Each phoneme id becomes `hop` samples of a tone of its own
pitch; the speaker shifts the level."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

IPA = list("abcdefghijklmnopqrstuvwxyzæçðøħŋœɐɑɒɔɕɖɗɘəɚɛɜɞɟɠɡɢɣɤɥɦɧɨɪɫɬɭɮɯɰɱɲɳɴɵɶɸɹɺɻɽɾʀʁʂʃʄʈʉʊʋʌʍʎʏʐʑʒʔʕʘʙʛʜʝʟʡʢʲˈˌːˑ̃̈̊ ,.!?;:12345")


def build_tiny_piper(folder: Path, name: str = "tiny", sample_rate: int = 16000, hop: int = 160,
                     speakers: int = 1, language: str = "en-us") -> Path:
    """Write `<name>.onnx` and `<name>.onnx.json` into `folder`; returns the .onnx path."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    id_map = {"_": [0], "^": [1], "$": [2], **{symbol: [index + 3] for index, symbol in enumerate(IPA)}}
    vocab = len(IPA) + 3
    t = np.arange(hop) / sample_rate
    table = np.stack([0.3 * np.sin(2 * np.pi * (90 + 7 * v) * t) for v in range(vocab)]).astype(np.float32)
    table[0] *= 0.2  # the pad is quiet
    nodes = [helper.make_node("Gather", ["table", "input"], ["frames"]),  # [1, n, hop]
             helper.make_node("Reshape", ["frames", "shape"], ["flat"])]  # [1, 1, n * hop]
    inputs = [helper.make_tensor_value_info("input", TensorProto.INT64, [1, "n"]),
              helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
              helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3])]
    initializers = [numpy_helper.from_array(table, "table"),
                    numpy_helper.from_array(np.array([1, 1, -1], dtype=np.int64), "shape")]
    if speakers > 1:
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
        levels = np.linspace(0.6, 1.0, speakers).astype(np.float32)
        initializers.append(numpy_helper.from_array(levels, "levels"))
        nodes += [helper.make_node("Gather", ["levels", "sid"], ["level"]),
                  helper.make_node("Mul", ["flat", "level"], ["output"])]
    else:
        nodes.append(helper.make_node("Identity", ["flat"], ["output"]))
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "samples"])
    graph = helper.make_graph(nodes, "tiny_piper", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    onnx.save(model, str(path))
    config = {"audio": {"sample_rate": sample_rate}, "espeak": {"voice": language},
              "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8},
              "phoneme_type": "espeak", "phoneme_id_map": id_map, "num_speakers": speakers}
    path.with_name(path.name + ".json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path
