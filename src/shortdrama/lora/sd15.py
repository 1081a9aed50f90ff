"""SD 1.x (and 2.x): one CLIP text encoder, a UNet, the DDPM epsilon / v-prediction loss (train_text_to_image_lora)."""

from __future__ import annotations

from pathlib import Path

import torch

from shortdrama.lora.family import Components, Encodings, Family, noise_prediction_loss, tokenize


class SD15(Family):
    name = "sd15"
    title = "SD 1.x"
    pipeline_class = "StableDiffusionPipeline"
    subfolders = ("tokenizer", "text_encoder", "vae", "unet", "scheduler")
    denoiser_name = "unet"

    def pipeline_kwargs(self, model_dir: Path) -> dict:
        return {"safety_checker": None, "requires_safety_checker": False}  # keyframes are not filtered here

    def load(self, model_dir: Path) -> Components:
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTokenizer

        parts = self.load_parts(
            model_dir,
            {
                "tokenizer": CLIPTokenizer,
                "text_encoder": CLIPTextModel,
                "vae": AutoencoderKL,
                "unet": UNet2DConditionModel,
                "scheduler": DDPMScheduler,
            },
        )
        return Components(
            denoiser=parts["unet"],
            vae=parts["vae"],
            noise_scheduler=parts["scheduler"],
            tokenizers=(parts["tokenizer"],),
            text_encoders=(parts["text_encoder"],),
        )

    def micro_batch_loss(self, parts, batch, device, weight_dtype, gen, encodings: Encodings | None = None) -> torch.Tensor:
        encodings = encodings or Encodings(enabled=False)
        with torch.no_grad():
            latents = encodings.latents(parts.vae, batch, device, gen) * parts.vae.config.scaling_factor
            (encoder_hidden_states,) = encodings.texts(
                [item["caption"] for item in batch],
                lambda captions: (parts.text_encoder(tokenize(parts.tokenizer, captions, device), return_dict=False)[0],))

        def predict(noisy_latents, timesteps):
            return parts.unet(noisy_latents, timesteps, encoder_hidden_states, return_dict=False)[0]

        return noise_prediction_loss(parts, latents, device, weight_dtype, gen, predict)
