"""Reference images of a character, checked before anyone pays for a LoRA training run.

The seed's `prepare_training_data`, done properly: enough images, each readable, large enough, not
mostly transparent, and no exact or near duplicates (a 64-bit difference hash within a few bits),
with every problem named in one message.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import SchemaError

if TYPE_CHECKING:
    from ..config import AppConfig

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}


class ReferenceError(SchemaError):
    """A character's reference set cannot be trained on."""


@dataclass(frozen=True)
class ReferenceRules:
    min_count: int = 10
    min_short_side: int = 512
    max_transparent_fraction: float = 0.5
    near_duplicate_bits: int = 4  # difference-hash bits that may differ between two distinct photos
    # Larger images are refused before they are decoded: a small file may claim 30000x30000 pixels
    # (a decompression bomb). PIL's own warning threshold, about 89 megapixels.
    max_pixels: int = 89_478_485


@dataclass(frozen=True)
class Reference:
    path: Path
    width: int
    height: int
    dhash: int


def expand_references(entries: Sequence[str | Path], base: Path | None = None) -> list[Path]:
    """Files as given, and the images inside any folder given, in a stable order."""
    paths: list[Path] = []
    for entry in entries:
        path = Path(entry) if base is None or Path(entry).is_absolute() else base / entry
        if path.is_dir():
            paths += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            paths.append(path)
    return paths


def difference_hash(image: Image.Image) -> int:
    """64-bit dHash: brightness gradients of a 9x8 thumbnail; robust to resizing and recompression."""
    small = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def _too_large(pixels: int | None) -> str:
    return f"too large to open safely ({pixels} pixels)" if pixels else "too large to open safely"


def _inspect(path: Path, rules: ReferenceRules) -> tuple[Reference | None, str | None]:
    try:
        with warnings.catch_warnings():
            # The size is checked below, from the header, before any pixel is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            width, height = image.size
            if width * height > rules.max_pixels:
                return None, _too_large(width * height)
            image.load()
            if min(width, height) < rules.min_short_side:
                return None, f"{width}x{height} is under {rules.min_short_side} px on the short side"
            if image.mode in ("RGBA", "LA") or "transparency" in image.info:
                alpha = np.asarray(image.convert("RGBA"))[:, :, 3]
                transparent = float((alpha < 128).mean())
                if transparent > rules.max_transparent_fraction:
                    return None, f"{transparent:.0%} transparent"
            return Reference(path, width, height, difference_hash(image)), None
    except FileNotFoundError:
        return None, "missing"
    except Image.DecompressionBombError as error:  # over twice PIL's limit: refused while opening
        found = re.search(r"\((\d+) pixels\)", str(error))
        return None, _too_large(int(found.group(1)) if found else None)
    except MemoryError:
        return None, _too_large(None)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return None, "not a readable image"  # PIL's decoders raise all of these for a damaged file


def validate_references(character: str, paths: Sequence[Path], rules: ReferenceRules = ReferenceRules()) -> list[Reference]:
    """The usable references, or ReferenceError naming every unusable file and why."""
    usable: list[Reference] = []
    problems: list[str] = []
    for path in paths:
        reference, problem = _inspect(Path(path), rules)
        if problem:
            problems.append(f"{Path(path).name} ({problem})")
            continue
        twin = next((u for u in usable if bin(u.dhash ^ reference.dhash).count("1") <= rules.near_duplicate_bits), None)
        if twin is not None:
            problems.append(f"{Path(path).name} (duplicate of {twin.path.name})")
            continue
        usable.append(reference)
    if problems or len(usable) < rules.min_count:
        shortfall = (f"{len(usable)} usable of the {rules.min_count} needed" if len(usable) < rules.min_count
                     else f"{len(usable)} usable")
        detail = "; ".join(problems) if problems else "no problems found in the files given"
        raise ReferenceError(f"character {character}: reference images: {shortfall}: {detail}")
    return usable


def check_cast_references(cfg: "AppConfig", checkout: Path, min_count: int | None = None,
                          min_short_side: int | None = None) -> int:
    """`shortdrama check-references`: each character on its own line; one failing set does not stop the
    others being checked. The rules are the ones training will apply (lora.min_references,
    lora.min_short_side) unless the flags say otherwise. Returns how many sets failed."""
    import sys

    from ..errors import ShortDramaError

    count = cfg.lora.min_references if min_count is None else min_count
    side = cfg.lora.min_short_side if min_short_side is None else min_short_side
    flags = (("--min-count", min_count), ("--min-short-side", min_short_side))
    source = ", ".join(name for name, flag in flags if flag is not None) or "lora.min_references, lora.min_short_side"
    print(f"each character needs {count} usable reference images, short side at least {side} px ({source})")
    rules = ReferenceRules(min_count=count, min_short_side=side)
    failed = 0
    for cid, character in cfg.series.cast.items():
        if not character.references:
            print(f"{cid}: no references given")
            continue
        try:  # relative paths are read from the checkout, as the build reads them
            usable = validate_references(cid, expand_references(character.references, checkout), rules)
            print(f"{cid}: ok, {len(usable)} usable reference images")
        except ShortDramaError as error:
            failed += 1
            print(f"shortdrama: error: {error}", file=sys.stderr)
    return failed
