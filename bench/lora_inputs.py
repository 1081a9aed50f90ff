"""Character LoRA input pipeline: training steps per second with each reference image's VAE posterior and
each caption's text embedding computed once per run (the default), against encoding them every step, on
the same model, data and settings in the same run. Both train the same weights (at batch size 1; see
tests/unit/test_lora_families.py), so the ratio is pure input cost.

On CPU (no weights needed) it uses the tiny random SD 1.5 of shortdrama.testing, or with --full the
full-size random SD 1.5 architecture of bench/random_models.py; on a GPU, pass --device cuda --full.

    .venv/bin/python bench/lora_inputs.py [--images 20] [--steps 40] [--resolution 64] [--full] [--device cpu]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchlib import write_figure


def references(folder: Path, count: int, size: int) -> tuple[list[Path], list[str]]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images, captions = [], []
    for i in range(count):
        pixels = (rng.random((size, size, 3)) * 255).astype(np.uint8)
        images.append(folder / f"ref_{i:02d}.png")
        Image.fromarray(pixels).save(images[-1])
        captions.append(f"photo of sks_lin, look {i % 4}")
    return images, captions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--steps", type=int, default=40, help="at least 3 (the first step is not timed)")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full", action="store_true", help="the full-size SD 1.5 architecture (random weights)")
    args = parser.parse_args()

    import torch

    from shortdrama.lora.settings import LoraSettings
    from shortdrama.lora.train import train_lora

    with tempfile.TemporaryDirectory(prefix="shortdrama-bench-lora-") as tmp:
        root = Path(tmp)
        if args.full:
            from random_models import build_random_sd15

            model = build_random_sd15(root / "model", device=args.device,
                                      dtype=torch.float16 if args.device == "cuda" else torch.float32)
        else:
            from shortdrama.testing.tiny_sd import build_tiny_sd_model

            model = build_tiny_sd_model(root / "model")
        images, captions = references(root / "refs", args.images, max(args.resolution, 64))
        settings = LoraSettings(rank=4, alpha=4, steps=args.steps, resolution=args.resolution, learning_rate=1e-4,
                                checkpoint_every=args.steps * 10, batch_size=args.batch_size, seed=0)
        rows = {}
        for cached in (False, True, False, True):  # interleaved, each measured twice: the faster of the two
            out = root / f"out-{cached}-{len(rows)}-{time.monotonic_ns()}"
            steps_at: list[float] = []  # when each step's log line came: the loop alone, not the model's loading

            def log(line: str) -> None:
                if line.startswith("step "):
                    steps_at.append(time.perf_counter())

            result = train_lora(model, images, captions, out, settings, log=log, device=args.device,
                                cache_encodings=cached)
            seconds = (steps_at[-1] - steps_at[0]) / (len(steps_at) - 1)  # per step, from step 1's end on
            name = "cached" if cached else "every step"
            rows[name] = min(rows.get(name, float("inf")), seconds)
            print(f"{name:11} {seconds:7.3f} s per step ({result.steps_done} steps)", flush=True)
    per_second = {name: round(1 / seconds, 3) for name, seconds in rows.items()}
    ratio = round(per_second["cached"] / per_second["every step"], 3)
    print(f"steps/s: encoding every step {per_second['every step']}, cached {per_second['cached']}: {ratio}x")
    write_figure(f"lora_inputs_{'full' if args.full else 'tiny'}_{args.device}", {
        "benchmark": "lora_inputs", "model": "random SD 1.5 (full size)" if args.full else "tiny random SD 1.5",
        "device": args.device, "images": args.images, "steps": args.steps, "resolution": args.resolution,
        "batch_size": args.batch_size, "torch": torch.__version__, "seconds_per_step": rows, "steps_per_second": per_second,
        "speedup": ratio})


if __name__ == "__main__":
    main()
