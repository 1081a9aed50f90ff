"""Where a diffusion model's files are: a folder (relative to the checkout) or a Hugging Face model id, resolved
from the local Hugging Face cache only. Nothing is ever downloaded; a model that is in neither place is a
ProviderError naming both places and the command that would put it there."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import ProviderError

CHECKOUT = Path(__file__).resolve().parents[2]
_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")


def checkout_path(path: str | Path) -> Path:
    """Model folders in the config are relative to the checkout, wherever the build's results go."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else CHECKOUT / candidate


def resolve_model(value: str | None, group: str = "image") -> Path:
    """The model folder for `{group}.model_dir`: a folder if one exists there, else a cached Hugging Face snapshot.

    A value that is neither an existing folder nor a model id is returned as a path, so the model loader can say
    which subfolders it expected there.
    """
    if not value:
        raise ProviderError(f"{group}.model_dir is not set: point it at a local diffusers model folder "
                            "or a Hugging Face model id in the local cache")
    folder = checkout_path(value)
    # "models/sd15" is a folder path when models/ exists; "stabilityai/sdxl" is a model id.
    if folder.is_dir() or folder.parent.is_dir() or not _MODEL_ID.fullmatch(str(value)):
        return folder
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(str(value), local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError) as exc:
        raise ProviderError(
            f"{group}.model_dir={value}: no folder {folder} and no cached snapshot of the Hugging Face model "
            f"{value} in {constants.HF_HUB_CACHE} ({type(exc).__name__}); nothing is downloaded by the build: run "
            f"`hf download {value}` (into the cache) or `hf download {value} --local-dir {folder}`") from None
