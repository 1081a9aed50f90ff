"""Local Wan image-to-video models: which folders a diffusers-format model directory must hold, and loading it.

Nothing is ever downloaded. A missing or half-downloaded directory is a ProviderError that names the
download command and the missing parts, before minutes are spent loading 14B parameters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, ProviderError


@dataclass(frozen=True)
class WanLayout:
    label: str
    repo: str  # the diffusers-format repository to download
    subfolders: tuple[str, ...]


# Every layout loads with diffusers.WanImageToVideoPipeline; its model_index.json decides the rest
# (Wan 2.2 TI2V: expand_timesteps, no image encoder; Wan 2.2 A14B: a second transformer and boundary_ratio).
PIPELINES: dict[str, WanLayout] = {
    "wan_i2v": WanLayout(
        "Wan 2.1 I2V 14B", "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
        ("tokenizer", "text_encoder", "image_encoder", "image_processor", "transformer", "vae", "scheduler")),
    "wan22_ti2v": WanLayout(
        "Wan 2.2 TI2V 5B", "Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        ("tokenizer", "text_encoder", "transformer", "vae", "scheduler")),
    "wan22_i2v": WanLayout(
        "Wan 2.2 I2V A14B", "Wan-AI/Wan2.2-I2V-A14B-Diffusers",
        ("tokenizer", "text_encoder", "transformer", "transformer_2", "vae", "scheduler")),
}

_WEIGHTED = frozenset({"text_encoder", "image_encoder", "transformer", "transformer_2", "vae"})
_WEIGHT_SUFFIXES = (".safetensors", ".bin")


def layout_for(pipeline: str) -> WanLayout:
    if pipeline not in PIPELINES:
        raise ConfigError(f"video.pipeline={pipeline!r} is not a supported local video pipeline; "
                          f"choose one of {', '.join(PIPELINES)}")
    return PIPELINES[pipeline]


def download_hint(pipeline: str, model_dir: Path) -> str:
    return f"download it with `hf download {layout_for(pipeline).repo} --local-dir {model_dir}`"


def _missing_part(folder: Path, weighted: bool) -> str | None:
    """Why `folder` is not a usable component, or None when it is."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return folder.name
    if not weighted:
        return None
    shard_lists = list(folder.glob("*.index.json"))
    if shard_lists:
        shards: set[str] = set()
        for shard_list in shard_lists:
            shards.update(json.loads(shard_list.read_text(encoding="utf-8")).get("weight_map", {}).values())
        absent = sorted(s for s in shards if not (folder / s).is_file())
        return f"{folder.name} ({len(absent)} of {len(shards)} weight shards)" if absent else None
    if not any(p.suffix in _WEIGHT_SUFFIXES for p in folder.iterdir()):
        return f"{folder.name} (no weights)"
    return None


def check_model_dir(model_dir: Path, pipeline: str) -> Path:
    """`model_dir`, or a ProviderError naming the download and every missing part."""
    model_dir = Path(model_dir)
    layout = layout_for(pipeline)
    if not model_dir.is_dir():
        raise ProviderError(f"{layout.label} model not found at {model_dir}: {download_hint(pipeline, model_dir)} "
                            f"(nothing is downloaded at run time)")
    missing = [] if (model_dir / "model_index.json").is_file() else ["model_index.json"]
    for name in layout.subfolders:
        part = _missing_part(model_dir / name, name in _WEIGHTED)
        if part:
            missing.append(part)
    if missing:
        raise ProviderError(f"{layout.label} model at {model_dir} is incomplete, missing {', '.join(missing)}: "
                            f"{download_hint(pipeline, model_dir)}")
    return model_dir


def pick_device(device: str | None) -> str:
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_wan_pipeline(model_dir: Path, pipeline: str, device: str, cpu_offload: bool = False):
    """WanImageToVideoPipeline from local files only: bf16 on CUDA, fp32 elsewhere (CPUs lack fast bf16)."""
    model_dir = check_model_dir(model_dir, pipeline)  # before importing diffusers, which takes seconds

    import torch
    from diffusers import WanImageToVideoPipeline

    on_cuda = device.startswith("cuda")
    # The diffusers Wan examples keep the VAE and the CLIP image encoder in fp32 next to a bf16 transformer.
    dtype = {"default": torch.bfloat16, "vae": torch.float32, "image_encoder": torch.float32} if on_cuda \
        else torch.float32
    try:
        pipe = WanImageToVideoPipeline.from_pretrained(str(model_dir), dtype=dtype, local_files_only=True)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        raise ProviderError(f"cannot load the {layout_for(pipeline).label} model from {model_dir}: {exc}; "
                            f"{download_hint(pipeline, model_dir)}") from exc
    if "image_encoder" in layout_for(pipeline).subfolders and pipe.image_encoder is None:
        raise ProviderError(f"{model_dir} loaded without an image encoder, which {pipeline} needs: "
                            f"{download_hint(pipeline, model_dir)}")
    if cpu_offload and on_cuda:
        pipe.enable_model_cpu_offload(device=device)  # one component on the GPU at a time: fits 24 GB cards
    else:
        pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def size_multiple(pipe) -> int:
    """Generation width and height must be multiples of this (VAE stride x patch size: 16 for Wan 2.1, 32 for
    Wan 2.2 TI2V); the pipeline would otherwise shrink them silently."""
    transformer = pipe.transformer if pipe.transformer is not None else pipe.transformer_2
    return pipe.vae_scale_factor_spatial * transformer.config.patch_size[1]
