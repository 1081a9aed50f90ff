"""Image/caption pairs for one character: resized, center-cropped, normalised to [-1, 1] (the diffusers recipe)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from shortdrama.errors import ConfigError, MediaError


def trigger_token(character: str, trigger: str = "sks") -> str:
    """The rare token a character's LoRA is bound to, e.g. ``sks_linxiaoyu``."""
    slug = "".join(ch for ch in character.lower() if ch.isalnum())
    if not slug:
        raise ConfigError(f"character name {character!r} has no letters or digits to build a trigger token from")
    return f"{trigger}_{slug}"


def caption_for(token: str, look: str) -> str:
    """The training caption of one image: ``photo of sks_linxiaoyu, <look>``."""
    look = look.strip()
    return f"photo of {token}, {look}" if look else f"photo of {token}"


def load_image(path: Path, resolution: int) -> torch.Tensor:
    """A (3, resolution, resolution) float tensor in [-1, 1]: RGB, shorter side resized, then center-cropped."""
    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            w, h = img.size
            scale = resolution / min(w, h)
            size = (max(resolution, round(w * scale)), max(resolution, round(h * scale)))
            img = img.resize(size, Image.Resampling.BILINEAR)
            left = (size[0] - resolution) // 2
            top = (size[1] - resolution) // 2
            img = img.crop((left, top, left + resolution, top + resolution))
            array = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    except (OSError, ValueError) as exc:
        raise MediaError(f"cannot read training image {path}: {exc}") from exc
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


class CaptionedImages(Dataset):
    """(image, caption) pairs; every caption must contain the trigger token so the adapter binds to it."""

    def __init__(self, images: list[Path], captions: list[str], resolution: int, trigger: str | None = None):
        if len(images) != len(captions):
            raise ConfigError(f"{len(images)} training images but {len(captions)} captions; they must pair up")
        if not images:
            raise ConfigError("no training images given")
        missing = [str(p) for p in images if not Path(p).is_file()]
        if missing:
            raise MediaError(f"training images not found: {', '.join(missing)}")
        if trigger is not None:
            untagged = [c for c in captions if trigger not in c]
            if untagged:
                raise ConfigError(f"captions without the trigger token {trigger!r}: {untagged!r}")
        self.images = [Path(p) for p in images]
        self.captions = list(captions)
        self.resolution = resolution
        self._cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        if index not in self._cache:  # a character set is a few dozen images: decode each once
            self._cache[index] = load_image(self.images[index], self.resolution)
        return {"pixel_values": self._cache[index], "caption": self.captions[index], "index": index}
