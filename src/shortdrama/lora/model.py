"""Model setup: load the frozen SD components from a local diffusers directory and add a LoRA adapter to the UNet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from shortdrama.errors import ProviderError
from shortdrama.lora.settings import LoraSettings

SUBFOLDERS = ("tokenizer", "text_encoder", "vae", "unet", "scheduler")


@dataclass
class SDComponents:
    tokenizer: Any
    text_encoder: Any
    vae: Any
    unet: Any
    noise_scheduler: Any


def check_model_dir(model_dir: Path) -> Path:
    """The model directory, or a ProviderError that says what is missing and where it should go."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ProviderError(
            f"LoRA base model not found: {model_dir} does not exist. Put a local diffusers-format SD 1.x model "
            f"there (a folder with model_index.json and the subfolders {', '.join(SUBFOLDERS)}); nothing is downloaded."
        )
    missing = [name for name in SUBFOLDERS if not (model_dir / name).is_dir()]
    if missing:
        raise ProviderError(
            f"LoRA base model at {model_dir} is incomplete: missing subfolder(s) {', '.join(missing)}. "
            f"A diffusers-format model directory needs {', '.join(SUBFOLDERS)} (e.g. from pipeline.save_pretrained)."
        )
    return model_dir


def load_sd_components(model_dir: Path) -> SDComponents:
    """Tokenizer, text encoder, VAE, UNet and the DDPM training scheduler, from local files only."""
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    model_dir = check_model_dir(model_dir)
    try:
        tokenizer = CLIPTokenizer.from_pretrained(model_dir, subfolder="tokenizer", local_files_only=True)
        text_encoder = CLIPTextModel.from_pretrained(model_dir, subfolder="text_encoder", local_files_only=True)
        vae = AutoencoderKL.from_pretrained(model_dir, subfolder="vae", local_files_only=True)
        unet = UNet2DConditionModel.from_pretrained(model_dir, subfolder="unet", local_files_only=True)
        noise_scheduler = DDPMScheduler.from_pretrained(model_dir, subfolder="scheduler", local_files_only=True)
    except (OSError, ValueError, EnvironmentError) as exc:
        raise ProviderError(f"cannot load the LoRA base model from {model_dir}: {exc}") from exc
    return SDComponents(tokenizer, text_encoder, vae, unet, noise_scheduler)


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


def add_lora(unet, settings: LoraSettings, *, vae=None, text_encoder=None) -> list[torch.nn.Parameter]:
    """Freeze the base weights, add the adapter to the UNet, upcast the trainable (LoRA) params to fp32; return them."""
    from diffusers.training_utils import cast_training_params

    freeze(*(m for m in (unet, vae, text_encoder) if m is not None))
    try:
        unet.add_adapter(lora_config(settings))
    except ValueError as exc:  # peft: target modules not found in the base model
        targets = list(settings.target_modules)
        raise ProviderError(f"cannot add LoRA to the UNet (target_modules={targets}): {exc}") from exc
    cast_training_params(unet, dtype=torch.float32)
    params = [p for p in unet.parameters() if p.requires_grad]
    if not params:
        raise ProviderError(
            f"LoRA target modules {list(settings.target_modules)} matched nothing in the UNet; nothing would be trained"
        )
    return params
