"""SD3: an MMDiT transformer trained by flow matching, CLIP-L + CLIP-G and an optional T5 (train_dreambooth_lora_sd3).

Latents are shifted and scaled by the VAE config; sigmas are drawn logit-normal, the noisy input is
(1 - sigma) * x0 + sigma * noise, the target is noise - x0, and the squared error is weighted per sigma. Without T5
(a model directory without text_encoder_3/tokenizer_3, which StableDiffusion3Pipeline supports) its embedding is
zeros, as the pipeline feeds it.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from shortdrama.lora.family import Components, Encodings, Family, tokenize

WEIGHTING_SCHEME = "logit_normal"  # the SD3 paper's rf/lognorm(0.00, 1.00)
LOGIT_MEAN, LOGIT_STD, MODE_SCALE = 0.0, 1.0, 1.29
T5_TOKENS = 77  # the training script's max_sequence_length


class SD3(Family):
    name = "sd3"
    title = "SD3"
    pipeline_class = "StableDiffusion3Pipeline"
    subfolders = ("tokenizer", "tokenizer_2", "text_encoder", "text_encoder_2", "vae", "transformer", "scheduler")
    optional_pair = ("tokenizer_3", "text_encoder_3")
    denoiser_name = "transformer"
    vae_in_fp32 = True

    def load(self, model_dir: Path) -> Components:
        from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel
        from transformers import CLIPTextModelWithProjection, CLIPTokenizer, T5EncoderModel, T5TokenizerFast

        parts = self.load_parts(
            model_dir,
            {
                "tokenizer": CLIPTokenizer,
                "tokenizer_2": CLIPTokenizer,
                "tokenizer_3": T5TokenizerFast,
                "text_encoder": CLIPTextModelWithProjection,
                "text_encoder_2": CLIPTextModelWithProjection,
                "text_encoder_3": T5EncoderModel,
                "vae": AutoencoderKL,
                "transformer": SD3Transformer2DModel,
                "scheduler": FlowMatchEulerDiscreteScheduler,
            },
        )
        return Components(
            denoiser=parts["transformer"],
            vae=parts["vae"],
            noise_scheduler=parts["scheduler"],
            tokenizers=(parts["tokenizer"], parts["tokenizer_2"], parts["tokenizer_3"]),
            text_encoders=(parts["text_encoder"], parts["text_encoder_2"], parts["text_encoder_3"]),
        )

    @staticmethod
    def encode_prompts(parts: Components, captions: list[str], device: torch.device):
        """(prompt_embeds, pooled_prompt_embeds) as StableDiffusion3Pipeline.encode_prompt makes them."""
        clip_outputs = [
            encoder(tokenize(tokenizer, captions, device), output_hidden_states=True)
            for tokenizer, encoder in zip(parts.tokenizers[:2], parts.text_encoders[:2])
        ]
        clip_embeds = torch.cat([out.hidden_states[-2] for out in clip_outputs], dim=-1)
        pooled = torch.cat([out.text_embeds for out in clip_outputs], dim=-1)
        t5_tokenizer, t5 = parts.tokenizers[2], parts.text_encoders[2]
        if t5 is None:
            width = parts.denoiser.config.joint_attention_dim
            t5_embeds = torch.zeros(len(captions), T5_TOKENS, width, device=device, dtype=clip_embeds.dtype)
        else:
            t5_embeds = t5(tokenize(t5_tokenizer, captions, device, T5_TOKENS))[0]
        # CLIP-L + CLIP-G are narrower than T5: zero-pad them to its width, then stack the token sequences.
        clip_embeds = F.pad(clip_embeds, (0, t5_embeds.shape[-1] - clip_embeds.shape[-1]))
        return torch.cat([clip_embeds, t5_embeds.to(clip_embeds.dtype)], dim=-2), pooled

    def micro_batch_loss(self, parts, batch, device, weight_dtype, gen, encodings: Encodings | None = None) -> torch.Tensor:
        from diffusers.training_utils import compute_density_for_timestep_sampling, compute_loss_weighting_for_sd3

        encodings = encodings or Encodings(enabled=False)
        vae_config = parts.vae.config
        with torch.no_grad():
            latents = encodings.latents(parts.vae, batch, device, gen)
            latents = ((latents - (vae_config.shift_factor or 0.0)) * vae_config.scaling_factor).to(weight_dtype)
            prompt_embeds, pooled = encodings.texts([item["caption"] for item in batch],
                                                    lambda captions: self.encode_prompts(parts, captions, device))
        noise = torch.randn(latents.shape, generator=gen, dtype=torch.float32).to(device, dtype=latents.dtype)
        bsz = latents.shape[0]
        u = compute_density_for_timestep_sampling(
            weighting_scheme=WEIGHTING_SCHEME, batch_size=bsz, logit_mean=LOGIT_MEAN, logit_std=LOGIT_STD,
            mode_scale=MODE_SCALE, device="cpu", generator=gen,
        )
        scheduler = parts.noise_scheduler
        indices = (u * scheduler.config.num_train_timesteps).long().clamp(max=len(scheduler.timesteps) - 1)
        timesteps = scheduler.timesteps[indices].to(device)
        sigmas = scheduler.sigmas[indices].to(device, dtype=latents.dtype).view(bsz, *([1] * (latents.ndim - 1)))
        noisy = (1.0 - sigmas) * latents + sigmas * noise
        with torch.autocast(device.type, dtype=weight_dtype, enabled=weight_dtype != torch.float32):
            model_pred = parts.denoiser(
                hidden_states=noisy,
                timestep=timesteps,
                encoder_hidden_states=prompt_embeds.to(weight_dtype),
                pooled_projections=pooled.to(weight_dtype),
                return_dict=False,
            )[0]
        target = noise - latents
        weighting = compute_loss_weighting_for_sd3(weighting_scheme=WEIGHTING_SCHEME, sigmas=sigmas)
        squared = (weighting.float() * (model_pred.float() - target.float()) ** 2).reshape(bsz, -1)
        return squared.mean(dim=1).mean()
