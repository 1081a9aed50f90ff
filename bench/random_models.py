"""Full-size SD 1.5 and SDXL architectures with random weights, for timing where no weights can be fetched.

The layer shapes are those of the published models' config.json files (stable-diffusion-v1-5 and
stable-diffusion-xl-base-1.0), so a training step or a denoising step costs what it costs with the real
weights; the pictures are noise. The CLIP tokenizers are the small ones built in code (ids stay far below
the real 49408-token vocabulary, which is kept as the embedding size).
"""

from __future__ import annotations

from pathlib import Path

import torch

CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
              hidden_act="quick_gelu", projection_dim=768)
CLIP_BIG_G = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
                  hidden_act="gelu", projection_dim=1280)


def _text_config(tokenizer, **shape):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, bos_token_id=tokenizer.bos_token_id,
                          eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **shape)


def _vae(scaling_factor: float, force_upcast: bool):
    from diffusers import AutoencoderKL

    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
                         block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                         up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512, scaling_factor=scaling_factor,
                         force_upcast=force_upcast)


def build_random_sd15(out_dir: Path, device: str = "cpu", dtype: torch.dtype = torch.float16) -> Path:
    from diffusers import PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    from shortdrama.testing.tiny_tokenizers import tiny_clip_tokenizer

    tokenizer = tiny_clip_tokenizer()
    with torch.device(device):  # initialise on the GPU where there is one: seconds instead of a minute
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, cross_attention_dim=768, attention_head_dim=8)
        vae = _vae(0.18215, force_upcast=False)
        text_encoder = CLIPTextModel(_text_config(tokenizer, **CLIP_L))
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True,
                              set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(unet=unet.eval(), vae=vae.eval(), text_encoder=text_encoder.eval(),
                                   tokenizer=tokenizer, scheduler=scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.to(dtype=dtype).save_pretrained(out_dir, safe_serialization=True)
    return Path(out_dir)


def build_random_sdxl(out_dir: Path, device: str = "cpu", dtype: torch.dtype = torch.float16) -> Path:
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from shortdrama.testing.tiny_tokenizers import tiny_clip_tokenizer

    tokenizer = tiny_clip_tokenizer()
    with torch.device(device):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), cross_attention_dim=2048,
            use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816)
        vae = _vae(0.13025, force_upcast=True)
        text_encoder = CLIPTextModel(_text_config(tokenizer, **CLIP_L))
        text_encoder_2 = CLIPTextModelWithProjection(_text_config(tokenizer, **CLIP_BIG_G))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    pipe = StableDiffusionXLPipeline(unet=unet.eval(), vae=vae.eval(), text_encoder=text_encoder.eval(),
                                     text_encoder_2=text_encoder_2.eval(), tokenizer=tokenizer, tokenizer_2=tokenizer,
                                     scheduler=scheduler)
    pipe.to(dtype=dtype).save_pretrained(out_dir, safe_serialization=True)
    return Path(out_dir)


BUILDERS = {"sd15": build_random_sd15, "sdxl": build_random_sdxl}
