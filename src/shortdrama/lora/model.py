"""Model setup: check and load a local diffusers model directory of one family, add a LoRA adapter to its denoiser.

The per-family parts (layout, loading, loss) live in lora/family.py and sd15/sdxl/sd3.py; this module keeps the
family-independent steps and the SD 1.x entry points older callers use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from shortdrama.errors import ProviderError
from shortdrama.lora.families import get_family
from shortdrama.lora.family import Components
from shortdrama.lora.settings import LoraSettings

SUBFOLDERS = get_family("sd15").subfolders
SDComponents = Components  # the SD 1.x name of the loaded parts (.unet, .tokenizer, .text_encoder still work)


def check_model_dir(model_dir: Path, family: str = "sd15") -> Path:
    """The model directory, or a ProviderError that says what is missing and where it should go."""
    return get_family(family).check_model_dir(model_dir)


def load_components(model_dir: Path, family: str = "sd15") -> Components:
    """The frozen parts of a `family` model and its training scheduler, from local files only."""
    return get_family(family).load(model_dir)


def load_sd_components(model_dir: Path) -> Components:
    """Tokenizer, text encoder, VAE, UNet and the DDPM training scheduler of an SD 1.x model, from local files only."""
    return load_components(model_dir, "sd15")


def lora_config(settings: LoraSettings):
    from peft import LoraConfig

    return LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        init_lora_weights="gaussian",
        target_modules=list(settings.target_modules),
    )


def freeze(*modules: torch.nn.Module) -> None:
    for module in modules:
        module.requires_grad_(False)


def add_lora(
    denoiser, settings: LoraSettings, *, vae=None, text_encoder=None, frozen: Sequence[torch.nn.Module] = ()
) -> list[torch.nn.Parameter]:
    """Freeze the base weights, add the adapter to the denoiser (UNet or transformer), upcast the trainable (LoRA)
    params to fp32; return them."""
    from diffusers.training_utils import cast_training_params

    kind = type(denoiser).__name__
    freeze(denoiser, *(m for m in (vae, text_encoder, *frozen) if m is not None))
    try:
        denoiser.add_adapter(lora_config(settings))
    except ValueError as exc:  # peft: target modules not found in the base model
        targets = list(settings.target_modules)
        raise ProviderError(f"cannot add LoRA to the {kind} (target_modules={targets}): {exc}") from exc
    cast_training_params(denoiser, dtype=torch.float32)
    params = [p for p in denoiser.parameters() if p.requires_grad]
    if not params:
        raise ProviderError(
            f"LoRA target modules {list(settings.target_modules)} matched nothing in the {kind}; nothing would be trained"
        )
    return params
