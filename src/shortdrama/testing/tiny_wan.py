"""Tiny randomly-initialised Wan image-to-video pipelines built in code, the way diffusers' Wan tests build their
dummy components (tests/pipelines/wan/test_wan_image_to_video.py, test_wan_22_image_to_video.py).

For tests and offline demos of the local video code path only: they draw noise, not motion. Nothing is
downloaded; the UMT5 tokenizer comes from shortdrama.testing.tiny_tokenizers. Each is saved in the same layout
as its real counterpart in shortdrama.video.wan_model.PIPELINES, so the real loading and completeness checks run
on it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from shortdrama.errors import ConfigError
from shortdrama.testing.tiny_tokenizers import tiny_t5_tokenizer

# Wan's attention splits image tokens from text tokens by assuming exactly 512 text tokens.
TEXT_TOKENS = 512


def _text_encoder(seed: int):
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    return UMT5EncoderModel(UMT5Config(vocab_size=256, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                       relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1,
                                       decoder_start_token_id=0))


def _transformer(seed: int, in_channels: int, out_channels: int, image_dim: int | None = None):
    from diffusers import WanTransformer3DModel

    heads, head_dim = 2, 12
    torch.manual_seed(seed)
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=heads, attention_head_dim=head_dim, in_channels=in_channels,
        out_channels=out_channels, text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", image_dim=image_dim,
        rope_max_seq_len=1024,  # as released: room for real sizes (832 px = 52 patches), so demos run full size
        # Wan 2.1 I2V projects CLIP tokens into every cross-attention (added_kv_proj_dim = the inner width).
        added_kv_proj_dim=heads * head_dim if image_dim else None,
    )


def _scheduler():
    from diffusers import UniPCMultistepScheduler

    # The scheduler the released Wan diffusers checkpoints ship (flow matching through UniPC).
    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)


def _wan21_vae(seed: int):
    from diffusers import AutoencoderKLWan

    torch.manual_seed(seed)
    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True])


def _wan22_vae(seed: int):
    """The Wan 2.2 TI2V VAE shape: 48 latent channels, 2x2 pixel patches, 16x spatial compression."""
    from diffusers import AutoencoderKLWan

    torch.manual_seed(seed)
    return AutoencoderKLWan(base_dim=3, z_dim=48, in_channels=12, out_channels=12, is_residual=True, patch_size=2,
                            latents_mean=[0.0] * 48, latents_std=[1.0] * 48, dim_mult=[1, 1, 1, 1],
                            num_res_blocks=1, scale_factor_spatial=16, scale_factor_temporal=4,
                            temperal_downsample=[False, True, True])


def _clip_image_encoder(seed: int):
    """A 32 px CLIP vision tower with 4-wide hidden states (the transformer's image_dim); 4 px patches keep the
    image context at 65 tokens."""
    from transformers import CLIPVisionConfig, CLIPVisionModel

    try:  # transformers 5 names the PIL-only processor; the plain name asks for torchvision first
        from transformers import CLIPImageProcessorPil as ImageProcessor
    except ImportError:
        from transformers import CLIPImageProcessor as ImageProcessor

    torch.manual_seed(seed)
    encoder = CLIPVisionModel(CLIPVisionConfig(hidden_size=4, projection_dim=4, num_hidden_layers=2,
                                               num_attention_heads=2, image_size=32, intermediate_size=16,
                                               patch_size=4))
    return encoder, ImageProcessor(crop_size=32, size=32)


def build_tiny_wan_i2v_model(out_dir: Path, seed: int = 0, pipeline: str = "wan_i2v") -> Path:
    """Write a tiny random Wan pipeline of the `pipeline` layout (wan_i2v, wan22_ti2v, wan22_i2v) to `out_dir`."""
    from diffusers import WanImageToVideoPipeline, WanPipeline

    out_dir = Path(out_dir)
    tokenizer = tiny_t5_tokenizer(model_max_length=TEXT_TOKENS)
    common = {"tokenizer": tokenizer, "text_encoder": _text_encoder(seed), "scheduler": _scheduler()}
    if pipeline == "wan_i2v":
        image_encoder, image_processor = _clip_image_encoder(seed)
        pipe = WanImageToVideoPipeline(**common, vae=_wan21_vae(seed), image_encoder=image_encoder,
                                       image_processor=image_processor,
                                       transformer=_transformer(seed, 36, 16, image_dim=4))
    elif pipeline == "wan22_ti2v":
        # The released TI2V 5B directory is a text-to-video WanPipeline whose config turns on expand_timesteps
        # (the keyframe replaces the first latent frame); WanImageToVideoPipeline loads it as image-to-video.
        pipe = WanPipeline(**common, vae=_wan22_vae(seed), transformer=_transformer(seed, 48, 48),
                           transformer_2=None, boundary_ratio=None, expand_timesteps=True)
    elif pipeline == "wan22_i2v":
        # Two experts: `transformer` above the boundary timestep (high noise), `transformer_2` below it.
        pipe = WanImageToVideoPipeline(**common, vae=_wan21_vae(seed), transformer=_transformer(seed, 36, 16),
                                       transformer_2=_transformer(seed + 1, 36, 16), boundary_ratio=0.875)
    else:
        raise ConfigError(f"no tiny Wan model for pipeline {pipeline!r}; choose wan_i2v, wan22_ti2v or wan22_i2v")
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(out_dir, safe_serialization=True)
    return out_dir
