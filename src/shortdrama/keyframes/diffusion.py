"""Keyframes from a local Stable Diffusion model with the LoRAs of the characters on screen.

The pipeline is loaded from a local diffusers directory only (never from a hub); each character's
adapter is loaded under its own name and weighted, and every scene has its own seed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PIL import Image

from ..media import atomic_output


@dataclass(frozen=True)
class CharacterAdapter:
    name: str  # adapter name: the character id
    path: Path  # the .safetensors file
    trigger: str  # the token its captions were trained with


def scene_seed(seed: int, prompt: str) -> int:
    """Stable per scene and independent of process hash randomisation."""
    return (seed * 1_000_003 + zlib.crc32(prompt.encode("utf-8"))) % (2**31)


def generate_keyframe(model_dir: Path, prompt: str, negative: str, adapters: Sequence[CharacterAdapter], weight: float,
                      steps: int, guidance: float, gen_size: tuple[int, int], out_size: tuple[int, int], seed: int,
                      out_path: Path) -> None:
    import torch
    from diffusers import StableDiffusionPipeline

    from ..lora.model import check_model_dir

    pipe = StableDiffusionPipeline.from_pretrained(str(check_model_dir(model_dir)), local_files_only=True,
                                                   safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    if adapters:
        for adapter in adapters:
            pipe.load_lora_weights(str(adapter.path.parent), weight_name=adapter.path.name, adapter_name=adapter.name)
        pipe.set_adapters([a.name for a in adapters], adapter_weights=[weight] * len(adapters))
    triggers = ", ".join(a.trigger for a in adapters)
    full_prompt = f"{triggers}, {prompt}" if triggers else prompt
    generator = torch.Generator("cpu").manual_seed(scene_seed(seed, full_prompt))
    image = pipe(full_prompt, negative_prompt=negative, num_inference_steps=steps, guidance_scale=guidance,
                 width=gen_size[0], height=gen_size[1], generator=generator).images[0]
    frame = image.convert("RGB").resize(out_size, Image.Resampling.LANCZOS)
    with atomic_output(out_path) as tmp:
        frame.save(tmp, format="PNG")
