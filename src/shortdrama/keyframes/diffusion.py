"""Keyframes from a local Stable Diffusion model (SD 1.x, SDXL or SD3) with the LoRAs of the characters on screen.

The pipeline is loaded from a local diffusers directory only (never from a hub); each character's adapter is loaded
under its own name and weighted, the sampler can be swapped by name, and every scene has its own seed.
`load_text_to_image` once, then `draw` per scene; `generate_keyframe` does both for one keyframe file.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PIL import Image

from ..errors import ConfigError, ProviderError
from ..media import atomic_output

_UNET_FAMILIES = ("sd15", "sdxl")


@dataclass(frozen=True)
class CharacterAdapter:
    name: str  # adapter name: the character id
    path: Path  # the .safetensors file
    trigger: str  # the token its captions were trained with


@dataclass(frozen=True)
class SchedulerChoice:
    """A diffusers scheduler class and options, built with from_config from the model's own scheduler config."""

    class_name: str | None  # None: keep the model's scheduler
    families: tuple[str, ...]
    options: tuple[tuple[str, object], ...] = ()


# The names image.scheduler accepts. SD3 is a flow-matching model: the DDPM-family samplers do not apply to it.
SCHEDULERS: dict[str, SchedulerChoice] = {
    "default": SchedulerChoice(None, ("sd15", "sdxl", "sd3")),
    "ddim": SchedulerChoice("DDIMScheduler", _UNET_FAMILIES),
    "euler": SchedulerChoice("EulerDiscreteScheduler", _UNET_FAMILIES),
    "euler_a": SchedulerChoice("EulerAncestralDiscreteScheduler", _UNET_FAMILIES),
    "dpmpp_2m": SchedulerChoice(
        "DPMSolverMultistepScheduler", _UNET_FAMILIES, (("algorithm_type", "dpmsolver++"), ("solver_order", 2))
    ),
    "dpmpp_2m_karras": SchedulerChoice(
        "DPMSolverMultistepScheduler",
        _UNET_FAMILIES,
        (("algorithm_type", "dpmsolver++"), ("solver_order", 2), ("use_karras_sigmas", True)),
    ),
    "unipc": SchedulerChoice("UniPCMultistepScheduler", _UNET_FAMILIES),
    "flow_match_euler": SchedulerChoice("FlowMatchEulerDiscreteScheduler", ("sd3",)),
}


def scene_seed(seed: int, prompt: str) -> int:
    """Stable per scene and independent of process hash randomisation."""
    return (seed * 1_000_003 + zlib.crc32(prompt.encode("utf-8"))) % (2**31)


def schedulers_for(family: str) -> tuple[str, ...]:
    return tuple(name for name, choice in SCHEDULERS.items() if family in choice.families)


def scheduler_choice(family: str, scheduler: str) -> SchedulerChoice:
    """The scheduler called `scheduler` if `family` can use it, else a ConfigError listing the valid names."""
    choice = SCHEDULERS.get(scheduler)
    if choice is None or family not in choice.families:
        valid = ", ".join(schedulers_for(family))
        why = "unknown" if choice is None else f"not usable with {family}"
        raise ConfigError(f"image.scheduler: {scheduler!r} is {why}; for family={family} choose one of {valid}")
    return choice


def with_triggers(prompt: str, triggers: Sequence[str]) -> str:
    """The prompt with the characters' trigger tokens in front: ``sks_lin, sks_zhao, <prompt>``."""
    prefix = ", ".join(triggers)
    return f"{prefix}, {prompt}" if prefix else prompt


def load_text_to_image(model_dir: Path, family: str = "sd15", scheduler: str = "default",
                       adapters: Sequence[CharacterAdapter] = (), weight: float = 0.8, device: str | None = None):
    """The family's text-to-image pipeline from a local model directory, with the scheduler and adapters set.

    Nothing is downloaded: a missing or incomplete directory is a ProviderError, an unknown family or a scheduler
    the family cannot use a ConfigError. fp16 on CUDA (the SDXL VAE upcasts itself: force_upcast), fp32 on CPU.
    Each adapter is loaded under its character id at `weight`; their trigger tokens are kept on the pipeline so
    that `draw` puts the ones a prompt lacks in front of it.
    """
    import torch

    from ..lora.families import get_family

    kind = get_family(family)
    choice = scheduler_choice(kind.name, scheduler)  # a config mistake fails before minutes of loading
    model_dir = kind.check_model_dir(model_dir)
    on = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        pipe = kind.pipeline_type().from_pretrained(
            str(model_dir), local_files_only=True, dtype=torch.float16 if on.type == "cuda" else torch.float32,
            **kind.pipeline_kwargs(model_dir),
        )
    except (OSError, ValueError) as exc:
        raise ProviderError(f"cannot load the {kind.title} pipeline from {model_dir}: {exc}") from exc
    if choice.class_name is not None:
        import diffusers

        scheduler_class = getattr(diffusers, choice.class_name)
        pipe.scheduler = scheduler_class.from_config(pipe.scheduler.config, **dict(choice.options))
    for adapter in adapters:
        try:
            pipe.load_lora_weights(str(adapter.path.parent), weight_name=adapter.path.name, adapter_name=adapter.name)
        except (OSError, ValueError, KeyError) as exc:
            raise ProviderError(f"cannot load the LoRA of {adapter.name} from {adapter.path}: {exc}") from exc
    if adapters:
        pipe.set_adapters([a.name for a in adapters], adapter_weights=[weight] * len(adapters))
    pipe.character_triggers = tuple(a.trigger for a in adapters)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(on)


def draw(pipe, prompt: str, negative: str, seed: int, steps: int, guidance: float,
         gen_size: tuple[int, int]) -> Image.Image:
    """One image for one scene, the generator on CPU seeded by scene_seed(seed, full prompt).

    The triggers of the adapters loaded by load_text_to_image that the prompt lacks are put in front of it; a
    prompt that already names them (``photo of sks_lin, ...``) is drawn as it is.
    """
    import torch

    triggers = getattr(pipe, "character_triggers", ())
    lacking = [t for t in triggers if not re.search(rf"(?<!\w){re.escape(t)}(?!\w)", prompt)]
    full_prompt = with_triggers(prompt, lacking)
    generator = torch.Generator("cpu").manual_seed(scene_seed(seed, full_prompt))
    result = pipe(full_prompt, negative_prompt=negative, num_inference_steps=steps, guidance_scale=guidance,
                  width=gen_size[0], height=gen_size[1], generator=generator)
    return result.images[0]


def generate_keyframe(model_dir: Path, prompt: str, negative: str, adapters: Sequence[CharacterAdapter], weight: float,
                      steps: int, guidance: float, gen_size: tuple[int, int], out_size: tuple[int, int], seed: int,
                      out_path: Path, *, family: str = "sd15", scheduler: str = "default") -> None:
    pipe = load_text_to_image(model_dir, family, scheduler, adapters, weight)
    image = draw(pipe, with_triggers(prompt, [a.trigger for a in adapters]), negative, seed, steps, guidance, gen_size)
    frame = image.convert("RGB").resize(out_size, Image.Resampling.LANCZOS)
    with atomic_output(out_path) as tmp:
        frame.save(tmp, format="PNG")
