"""SDXL: two CLIP text encoders, size/crop micro-conditioning, a UNet (train_text_to_image_lora_sdxl).

The prompt embedding is both encoders' penultimate hidden states side by side; the pooled embedding is the second
encoder's projected text embedding. The VAE stays in fp32 because the SDXL VAE overflows in fp16.
"""

from __future__ import annotations

from pathlib import Path

import torch

from shortdrama.lora.family import Components, Encodings, Family, noise_prediction_loss, tokenize


class SDXL(Family):
    name = "sdxl"
    title = "SDXL"
    pipeline_class = "StableDiffusionXLPipeline"
    subfolders = ("tokenizer", "tokenizer_2", "text_encoder", "text_encoder_2", "vae", "unet", "scheduler")
    denoiser_name = "unet"
    vae_in_fp32 = True

    def load(self, model_dir: Path) -> Components:
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

        parts = self.load_parts(
            model_dir,
            {
                "tokenizer": CLIPTokenizer,
                "tokenizer_2": CLIPTokenizer,
                "text_encoder": CLIPTextModel,
                "text_encoder_2": CLIPTextModelWithProjection,
                "vae": AutoencoderKL,
                "unet": UNet2DConditionModel,
                "scheduler": DDPMScheduler,  # the model's noise schedule, read as DDPM for training
            },
        )
        return Components(
            denoiser=parts["unet"],
            vae=parts["vae"],
            noise_scheduler=parts["scheduler"],
            tokenizers=(parts["tokenizer"], parts["tokenizer_2"]),
            text_encoders=(parts["text_encoder"], parts["text_encoder_2"]),
        )

    @staticmethod
    def encode_prompts(parts: Components, captions: list[str], device: torch.device):
        """(prompt_embeds, pooled_prompt_embeds) as StableDiffusionXLPipeline.encode_prompt makes them."""
        outputs = [
            encoder(tokenize(tokenizer, captions, device), output_hidden_states=True)
            for tokenizer, encoder in zip(parts.tokenizers, parts.text_encoders)
        ]
        prompt_embeds = torch.cat([out.hidden_states[-2] for out in outputs], dim=-1)
        return prompt_embeds, outputs[-1].text_embeds

    def micro_batch_loss(self, parts, batch, device, weight_dtype, gen, encodings: Encodings | None = None) -> torch.Tensor:
        encodings = encodings or Encodings(enabled=False)
        with torch.no_grad():
            latents = encodings.latents(parts.vae, batch, device, gen) * parts.vae.config.scaling_factor
            latents = latents.to(weight_dtype)
            prompt_embeds, pooled = encodings.texts([item["caption"] for item in batch],
                                                    lambda captions: self.encode_prompts(parts, captions, device))
        # Micro-conditioning: (original h, w, crop top, left, target h, w). Training images are already cropped to
        # the training square, which is also what the pipeline passes by default at that size.
        height, width = batch[0]["pixel_values"].shape[-2:]
        time_ids = torch.tensor([[height, width, 0, 0, height, width]] * len(batch), device=device, dtype=weight_dtype)
        conditioning = {"text_embeds": pooled.to(weight_dtype), "time_ids": time_ids}

        def predict(noisy_latents, timesteps):
            return parts.unet(
                noisy_latents, timesteps, prompt_embeds, added_cond_kwargs=conditioning, return_dict=False
            )[0]

        return noise_prediction_loss(parts, latents, device, weight_dtype, gen, predict)
