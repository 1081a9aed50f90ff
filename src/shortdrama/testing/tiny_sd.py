"""Tiny randomly-initialised SD 1.x, SDXL and SD3 pipelines built in code, the way diffusers' tests build their
dummy components.

For tests and offline demos of the LoRA code path only: they draw noise, not pictures. Nothing is downloaded; the
byte-level CLIP and unigram T5 tokenizers come from shortdrama.testing.tiny_tokenizers.
"""

from __future__ import annotations

from pathlib import Path

import torch

from shortdrama.testing.tiny_tokenizers import tiny_clip_tokenizer, tiny_t5_tokenizer

# Wider than the two tiny CLIPs side by side (64), as T5's 4096 is wider than CLIP-L + CLIP-G (2048) in SD3.
_T5_WIDTH = 96


def build_tiny_sd_model(out_dir: Path, seed: int = 0) -> Path:
    """Write a tiny random StableDiffusionPipeline to `out_dir` (a real local diffusers model directory)."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    tokenizer = tiny_clip_tokenizer()

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )
    scheduler = PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        skip_prk_steps=True,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    torch.manual_seed(seed)
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
    )
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(_tiny_clip_config(tokenizer))
    for module in (unet, vae, text_encoder):
        module.eval()
    pipe = StableDiffusionPipeline(
        unet=unet,
        scheduler=scheduler,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    return _save(pipe, out_dir)


def _tiny_clip_config(tokenizer, **overrides):
    """The CLIP text config of diffusers' dummy components, sized to the tiny tokenizer."""
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        hidden_size=32,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=5,
        vocab_size=1000,
        max_position_embeddings=tokenizer.model_max_length,
        **overrides,
    )


# The SDXL/SD3 test encoders: gelu, and a 32-wide projection for the pooled text embedding.
_WITH_PROJECTION = {"hidden_act": "gelu", "projection_dim": 32}


def _save(pipe, out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(out_dir, safe_serialization=True)
    return out_dir


def build_tiny_sdxl_model(out_dir: Path, seed: int = 0) -> Path:
    """Write a tiny random StableDiffusionXLPipeline (two CLIP encoders, text_time UNet) to `out_dir`.

    Sizes follow diffusers' test_stable_diffusion_xl.py dummy components: the UNet's added embedding takes the
    6 size/crop ids (8 channels each) plus text_encoder_2's 32-wide pooled projection, hence 6 * 8 + 32 = 80.
    """
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tokenizer, tokenizer_2 = tiny_clip_tokenizer(), tiny_clip_tokenizer()
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=6 * 8 + 32,
        cross_attention_dim=64,  # both encoders' hidden states side by side: 32 + 32
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, steps_offset=1, beta_schedule="scaled_linear", timestep_spacing="leading"
    )
    torch.manual_seed(seed)
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        sample_size=32,
    )
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(_tiny_clip_config(tokenizer, **_WITH_PROJECTION))
    torch.manual_seed(seed + 1)
    text_encoder_2 = CLIPTextModelWithProjection(_tiny_clip_config(tokenizer_2, **_WITH_PROJECTION))
    for module in (unet, vae, text_encoder, text_encoder_2):
        module.eval()
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=scheduler,
        add_watermarker=False,
    )
    return _save(pipe, out_dir)


def build_tiny_sd3_model(out_dir: Path, seed: int = 0, with_t5: bool = True) -> Path:
    """Write a tiny random StableDiffusion3Pipeline (MMDiT, CLIP-L/G stand-ins, optional T5) to `out_dir`.

    Sizes follow diffusers' test_pipeline_stable_diffusion_3.py, except that the T5 (and so joint_attention_dim) is
    wider than the two CLIPs side by side, so the CLIP embeddings are zero-padded as in the real model.
    Without T5 the model directory has no text_encoder_3/tokenizer_3 and the pipeline feeds zeros in its place.
    """
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextModelWithProjection, T5Config, T5EncoderModel

    tokenizer, tokenizer_2 = tiny_clip_tokenizer(), tiny_clip_tokenizer()
    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(
        sample_size=32,
        patch_size=1,
        in_channels=4,
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=4,
        caption_projection_dim=32,
        joint_attention_dim=_T5_WIDTH,
        pooled_projection_dim=64,  # the two CLIPs' pooled projections side by side: 32 + 32
        out_channels=4,
    )
    torch.manual_seed(seed)
    text_encoder = CLIPTextModelWithProjection(_tiny_clip_config(tokenizer, **_WITH_PROJECTION))
    torch.manual_seed(seed + 1)
    text_encoder_2 = CLIPTextModelWithProjection(_tiny_clip_config(tokenizer_2, **_WITH_PROJECTION))
    text_encoder_3 = tokenizer_3 = None
    if with_t5:
        tokenizer_3 = tiny_t5_tokenizer()
        torch.manual_seed(seed)
        text_encoder_3 = T5EncoderModel(
            T5Config(
                vocab_size=len(tokenizer_3),
                d_model=_T5_WIDTH,
                d_kv=8,
                d_ff=37,
                num_layers=2,
                num_heads=4,
                relative_attention_num_buckets=8,
                pad_token_id=tokenizer_3.pad_token_id,
                eos_token_id=tokenizer_3.eos_token_id,
                decoder_start_token_id=tokenizer_3.pad_token_id,
            )
        )
    torch.manual_seed(seed)
    vae = AutoencoderKL(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        block_out_channels=(4,),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    modules = [m for m in (transformer, vae, text_encoder, text_encoder_2, text_encoder_3) if m is not None]
    for module in modules:
        module.eval()
    pipe = StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        text_encoder_3=text_encoder_3,
        tokenizer_3=tokenizer_3,
    )
    return _save(pipe, out_dir)
