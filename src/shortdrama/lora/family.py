"""What a model family (SD 1.x, SDXL, SD3) must say for LoRA training and generation, behind one small interface.

A family knows its model directory layout, how to load its frozen parts from local files, the training loss of one
micro-batch, which module carries the adapter (the UNet or the MMDiT transformer) and how to save that adapter in
the standard diffusers format its pipeline's `load_lora_weights` reads. The families live in sd15/sdxl/sd3.py and
are looked up by name in `families`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from shortdrama.errors import ProviderError


@dataclass
class Components:
    """The frozen parts of one base model, and the denoiser that gets the adapter."""

    denoiser: Any  # UNet2DConditionModel or SD3Transformer2DModel
    vae: Any
    noise_scheduler: Any  # the training scheduler: DDPM for the UNet families, flow matching for SD3
    tokenizers: tuple = ()
    text_encoders: tuple = ()  # None where an optional encoder is absent (SD3 without T5)

    # The SD 1.x names, for callers written before there were other families.
    @property
    def unet(self):
        return self.denoiser

    @property
    def tokenizer(self):
        return self.tokenizers[0]

    @property
    def text_encoder(self):
        return self.text_encoders[0]

    def frozen_modules(self) -> list[torch.nn.Module]:
        return [m for m in (self.vae, *self.text_encoders) if m is not None]


class Family:
    """One model family. Subclasses set the class attributes and implement `load` and `micro_batch_loss`."""

    name: str  # the config value: "sd15" | "sdxl" | "sd3"
    title: str  # for messages: "SD 1.x"
    pipeline_class: str  # the diffusers pipeline class that generates with this family
    subfolders: tuple[str, ...]  # required subfolders of a diffusers model directory
    optional_pair: tuple[str, ...] = ()  # subfolders that may be absent, but only all together (SD3's T5)
    denoiser_name: str = "unet"  # "unet" | "transformer": the module that gets the adapter
    vae_in_fp32: bool = False  # the SDXL/SD3 VAEs overflow in fp16

    def check_model_dir(self, model_dir: Path) -> Path:
        """The model directory, or a ProviderError that says what is missing and where it should go."""
        model_dir = Path(model_dir)
        needed = ", ".join(self.subfolders)
        optional = f" (optional, together: {', '.join(self.optional_pair)})" if self.optional_pair else ""
        if not model_dir.is_dir():
            raise ProviderError(
                f"LoRA base model not found: {model_dir} does not exist. Put a local diffusers-format "
                f"{self.title} model there (a folder with model_index.json and the subfolders {needed}{optional}); "
                "nothing is downloaded."
            )
        missing = [name for name in self.subfolders if not (model_dir / name).is_dir()]
        if missing:
            raise ProviderError(
                f"{self.title} model at {model_dir} is incomplete: missing subfolder(s) {', '.join(missing)}. "
                f"A diffusers-format {self.title} model directory needs {needed}{optional} "
                "(e.g. from pipeline.save_pretrained)."
            )
        present = [name for name in self.optional_pair if (model_dir / name).is_dir()]
        if present and len(present) != len(self.optional_pair):
            absent = [name for name in self.optional_pair if name not in present]
            raise ProviderError(
                f"{self.title} model at {model_dir} has {', '.join(present)} but not {', '.join(absent)}: "
                f"provide all of {', '.join(self.optional_pair)} or none"
            )
        return model_dir

    def has_optional(self, model_dir: Path) -> bool:
        return bool(self.optional_pair) and all((Path(model_dir) / name).is_dir() for name in self.optional_pair)

    def load_parts(self, model_dir: Path, classes: dict[str, Any]) -> dict[str, Any]:
        """Each subfolder loaded with its class from local files only; absent optional parts are None."""
        model_dir = self.check_model_dir(model_dir)
        with_optional = self.has_optional(model_dir)
        parts: dict[str, Any] = {}
        try:
            for subfolder, cls in classes.items():
                if subfolder in self.optional_pair and not with_optional:
                    parts[subfolder] = None
                    continue
                parts[subfolder] = cls.from_pretrained(model_dir, subfolder=subfolder, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ProviderError(f"cannot load the {self.title} base model from {model_dir}: {exc}") from exc
        return parts

    def pipeline_kwargs(self, model_dir: Path) -> dict[str, Any]:
        """Extra from_pretrained arguments of the family pipeline: absent optional parts passed as None, which is
        how StableDiffusion3Pipeline is told to do without T5 (from model_index.json alone it refuses)."""
        if not self.optional_pair or self.has_optional(model_dir):
            return {}
        return {name: None for name in self.optional_pair}

    def load(self, model_dir: Path) -> Components:
        raise NotImplementedError

    def micro_batch_loss(
        self, parts: Components, batch: list[dict], device: torch.device, weight_dtype: torch.dtype,
        gen: torch.Generator, encodings: "Encodings | None" = None,
    ) -> torch.Tensor:
        """The training loss of one micro-batch; every random draw comes from `gen` (resume stays exact).
        `encodings` holds the images' and captions' encodings across steps (None: encode every step)."""
        raise NotImplementedError

    def place(self, parts: Components, device: torch.device, weight_dtype: torch.dtype) -> None:
        """Frozen weights and the denoiser on the device in the training dtype (the VAE in fp32 where it must)."""
        for module in (*parts.frozen_modules(), parts.denoiser):
            # Always cast: a model saved in fp16 (a common download) must train in fp32 where fp16 is unsupported.
            fp32 = weight_dtype == torch.float32 or (module is parts.vae and self.vae_in_fp32)
            module.to(device, dtype=torch.float32 if fp32 else weight_dtype)
        for module in parts.frozen_modules():
            module.eval()

    def pipeline_type(self):
        import diffusers

        return getattr(diffusers, self.pipeline_class)

    def save_lora_layers(self, directory: Path, layers: dict[str, torch.Tensor]) -> None:
        """`layers` (diffusers-format LoRA state of the denoiser) into directory/pytorch_lora_weights.safetensors."""
        self.pipeline_type().save_lora_weights(
            str(directory), **{f"{self.denoiser_name}_lora_layers": layers}, safe_serialization=True
        )


class Encodings:
    """What a training run encodes once instead of every step: each reference image's VAE posterior (its
    mean and log-variance) and each caption's text conditioning. The base model is frozen, so these never
    change during a run; only the latent drawn from the posterior differs per step, and it is drawn
    from the cached posterior with the step's generator exactly as `encode_latents` draws it: at batch
    size 1 a run trains the same weights with or without the cache (tested), at larger batches up to the
    VAE's batched-versus-single rounding. Held in memory for the run (a few MB for a reference set)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._posteriors: dict[int, torch.Tensor] = {}
        self._texts: dict[str, tuple[torch.Tensor, ...]] = {}

    def latents(self, vae, batch: list[dict], device: torch.device, gen: torch.Generator) -> torch.Tensor:
        """Latent samples (unscaled) for the batch's images, as `encode_latents` draws them."""
        if not self.enabled:
            return encode_latents(vae, torch.stack([item["pixel_values"] for item in batch]).to(device), gen)
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

        posteriors = []
        for item in batch:
            if item["index"] not in self._posteriors:
                pixels = item["pixel_values"][None].to(device, dtype=vae.dtype)
                self._posteriors[item["index"]] = vae.encode(pixels).latent_dist.parameters
            posteriors.append(self._posteriors[item["index"]])
        return DiagonalGaussianDistribution(torch.cat(posteriors)).sample(generator=gen)

    def texts(self, captions: list[str], encode: Callable[[list[str]], tuple[torch.Tensor, ...]]) -> tuple[torch.Tensor, ...]:
        """`encode(captions)` (tensors with the batch first), one caption at a time, each once."""
        if not self.enabled:
            return encode(captions)
        for caption in captions:
            if caption not in self._texts:
                self._texts[caption] = encode([caption])
        return tuple(torch.cat(parts) for parts in zip(*(self._texts[c] for c in captions)))


def encode_latents(vae, pixel_values: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """VAE latent samples (unscaled) in the VAE's dtype, drawn with `gen`."""
    return vae.encode(pixel_values.to(vae.dtype)).latent_dist.sample(generator=gen)


def tokenize(tokenizer, captions: list[str], device: torch.device, max_length: int | None = None) -> torch.Tensor:
    max_length = max_length or tokenizer.model_max_length
    ids = tokenizer(captions, padding="max_length", max_length=max_length, truncation=True, return_tensors="pt")
    return ids.input_ids.to(device)


def noise_prediction_loss(
    parts: Components,
    latents: torch.Tensor,
    device: torch.device,
    weight_dtype: torch.dtype,
    gen: torch.Generator,
    predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """The DDPM loss of the UNet families: noise at a random timestep, MSE against epsilon or v.

    `predict(noisy_latents, timesteps)` calls the UNet with the family's conditioning.
    """
    scheduler = parts.noise_scheduler
    noise = torch.randn(latents.shape, generator=gen, dtype=torch.float32).to(device, dtype=latents.dtype)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],), generator=gen).to(device)
    noisy_latents = scheduler.add_noise(latents, noise, timesteps)
    prediction_type = scheduler.config.prediction_type
    if prediction_type == "epsilon":
        target = noise
    elif prediction_type == "v_prediction":
        target = scheduler.get_velocity(latents, noise, timesteps)
    else:
        raise ProviderError(f"unsupported scheduler prediction_type {prediction_type!r} (epsilon or v_prediction)")
    with torch.autocast(device.type, dtype=weight_dtype, enabled=weight_dtype != torch.float32):
        model_pred = predict(noisy_latents, timesteps)
    return F.mse_loss(model_pred.float(), target.float(), reduction="mean")
