"""A reference set drawn by the image model for a character who has no photos, and the contact sheet of a trained LoRA.

Generated references keep one seed for the whole set and vary only the prompt (angle, expression, framing): the
same starting noise pulls the faces together, which is what a LoRA needs to learn one identity. A draw that comes
out a near duplicate of an earlier one (same perceptual hash within a few bits) is redrawn with the next seed, so
the set passes the same validation as photos. Each image gets a caption sidecar (``ref_03.txt``) naming its
variation; training appends it to the trigger caption.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from PIL import Image, ImageDraw

from ..errors import ProviderError
from ..media import atomic_output, write_text_atomic
from .references import ReferenceRules, difference_hash

ANGLES = ("front view", "three-quarter view from the left", "three-quarter view from the right", "profile view")
EXPRESSIONS = ("neutral expression", "gentle smile", "serious expression", "surprised expression", "laughing")
FRAMINGS = ("head and shoulders portrait", "upper body portrait", "full body shot")
REFERENCE_NEGATIVE = "blurry, low quality, watermark, text, several people, cropped head, deformed face"
# What the contact sheet shows: the LoRA's character in situations it was not trained on.
SHEET_SHOTS = ("head and shoulders portrait, front view, neutral expression",
               "upper body, three-quarter view, smiling, city street at night",
               "full body shot, walking, office corridor, daylight",
               "close-up, profile view, crying, rain")
SHEET_NEGATIVE = "blurry, low quality, watermark, text"
REDRAWS = 4  # attempts per image before a set that keeps repeating itself is reported


@dataclass(frozen=True)
class Variation:
    framing: str
    angle: str
    expression: str

    def text(self) -> str:
        return f"{self.framing}, {self.angle}, {self.expression}"


def variations(count: int) -> list[Variation]:
    """`count` distinct-as-possible (framing, angle, expression) triples; the strides are coprime with the lists."""
    return [Variation(FRAMINGS[i % len(FRAMINGS)], ANGLES[(i + i // len(ANGLES)) % len(ANGLES)],
                      EXPRESSIONS[(2 * i + i // len(EXPRESSIONS)) % len(EXPRESSIONS)]) for i in range(count)]


def reference_prompt(look: str, variation: Variation) -> str:
    return f"{variation.framing} photo of {look.strip()}, {variation.angle}, {variation.expression}, " \
           "plain light grey studio background, soft even light, sharp focus"


def set_seed(seed: int, character: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(character.encode("utf-8"))) % (2**31)


Draw = Callable[[str, str, int], Image.Image]  # (prompt, negative, seed) -> image


def generate_reference_set(draw: Draw, character: str, look: str, seed: int, size: int, out_paths: Sequence[Path],
                           rules: ReferenceRules = ReferenceRules()) -> list[Variation]:
    """Draw len(out_paths) square references of `size` px, each with a caption sidecar; returns the variations."""
    chosen = variations(len(out_paths))
    hashes: list[int] = []
    base_seed = set_seed(seed, character)
    for index, (variation, out) in enumerate(zip(chosen, out_paths)):
        prompt = reference_prompt(look, variation)
        for attempt in range(REDRAWS):
            image = _square(draw(prompt, REFERENCE_NEGATIVE, base_seed + attempt * 7919), size)
            dhash = difference_hash(image)
            if all(bin(dhash ^ other).count("1") > rules.near_duplicate_bits for other in hashes):
                break
        else:
            raise ProviderError(f"character {character}: the image model drew reference {index + 1} as a near "
                                f"duplicate of an earlier one {REDRAWS} times; give the character a more specific "
                                f"look or supply references")
        hashes.append(dhash)
        with atomic_output(Path(out)) as tmp:
            image.save(tmp, format="PNG")
        write_text_atomic(caption_sidecar(Path(out)), variation.text() + "\n")
    return chosen


def caption_sidecar(image: Path) -> Path:
    """The optional caption file beside a reference image (the kohya/diffusers-dataset convention)."""
    return image.with_suffix(".txt")


def read_caption_sidecar(image: Path) -> str:
    sidecar = caption_sidecar(image)
    return " ".join(sidecar.read_text(encoding="utf-8").split()) if sidecar.is_file() else ""


def _square(image: Image.Image, size: int) -> Image.Image:
    image = image.convert("RGB")
    if image.size == (size, size):
        return image
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)


def compose_contact_sheet(images: Sequence[Image.Image], labels: Sequence[str], title: str, cell: int = 256) -> Image.Image:
    """A 2-column grid of samples, each labelled with its prompt, under a title line."""
    from ..keyframes.overlays import font, wrap

    columns = 2
    rows = (len(images) + columns - 1) // columns
    label_face, title_face = font(max(10, cell // 18)), font(max(12, cell // 12))
    label_h, title_h, pad = 3 * (label_face.size + 4), title_face.size + 16, 8
    cells = [image.convert("RGB") for image in images]
    cell_h = max(round(cell * im.height / im.width) for im in cells) if cells else cell
    sheet = Image.new("RGB", (pad + columns * (cell + pad), title_h + rows * (cell_h + label_h + pad)), (24, 24, 28))
    pen = ImageDraw.Draw(sheet)
    pen.text((pad, 6), title, font=title_face, fill=(240, 240, 240))
    for index, (image, label) in enumerate(zip(cells, labels)):
        x = pad + (index % columns) * (cell + pad)
        y = title_h + (index // columns) * (cell_h + label_h + pad)
        fitted = image.resize((cell, round(cell * image.height / image.width)), Image.Resampling.LANCZOS)
        sheet.paste(fitted, (x, y))
        for line_no, line in enumerate(wrap(label, label_face, cell)[:3]):
            pen.text((x, y + cell_h + 2 + line_no * (label_face.size + 4)), line, font=label_face, fill=(200, 200, 200))
    return sheet


def draw_contact_sheet(draw: Draw, token: str, look: str, seed: int, out: Path, title: str) -> None:
    samples, labels = [], []
    for shot in SHEET_SHOTS:
        prompt = f"photo of {token}, {look.strip()}, {shot}"
        samples.append(draw(prompt, SHEET_NEGATIVE, set_seed(seed, shot)))
        labels.append(shot)
    sheet = compose_contact_sheet(samples, labels, title)
    with atomic_output(out) as tmp:
        sheet.save(tmp, format="PNG")
