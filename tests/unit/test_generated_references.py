"""Generated reference sets and contact sheets: the prompt variations, the near-duplicate redraws and the sheet
layout, driven by small drawing functions (the diffusion model itself is exercised in test_characters)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shortdrama.characters.generated import (SHEET_SHOTS, compose_contact_sheet, draw_contact_sheet,
                                             generate_reference_set, read_caption_sidecar, reference_prompt,
                                             variations)
from shortdrama.characters.references import ReferenceRules, validate_references
from shortdrama.errors import ProviderError


def noise_drawer(calls: list):
    """A drawer whose picture depends on the seed only, like a model that ignores the prompt."""
    def draw(prompt: str, negative: str, seed: int) -> Image.Image:
        calls.append((prompt, seed))
        blocks = np.random.default_rng(seed).integers(0, 256, (8, 6, 3), dtype=np.uint8)
        return Image.fromarray(blocks).resize((60, 80), Image.Resampling.BICUBIC)
    return draw


def test_variations_differ_in_angle_expression_or_framing():
    twelve = variations(12)
    assert len({v.text() for v in twelve}) == 12
    assert {v.angle for v in twelve} >= {"front view", "profile view"}
    prompt = reference_prompt("red coat, long black hair", twelve[0])
    assert prompt.startswith("head and shoulders portrait photo of red coat, long black hair, front view")


def test_a_generated_set_passes_validation_and_redraws_near_duplicates(tmp_path):
    calls: list = []
    paths = [tmp_path / f"ref_{i:02d}.png" for i in range(4)]
    chosen = generate_reference_set(noise_drawer(calls), "xiaoyu", "red coat", seed=0, size=48, out_paths=paths,
                                    rules=ReferenceRules(min_count=4, min_short_side=48))
    # One seed for the whole set: a model that ignores the prompt draws the same picture, which is redrawn.
    assert len(calls) > 4 and len({seed for _, seed in calls}) > 1
    usable = validate_references("xiaoyu", paths, ReferenceRules(min_count=4, min_short_side=48))
    assert len(usable) == 4 and all(Image.open(p).size == (48, 48) for p in paths)
    assert [read_caption_sidecar(p) for p in paths] == [v.text() for v in chosen]


def test_a_model_that_keeps_drawing_the_same_picture_is_reported(tmp_path):
    def flat(prompt, negative, seed):
        return Image.new("RGB", (48, 48), (120, 80, 40))

    with pytest.raises(ProviderError, match="near duplicate of an earlier one 4 times"):
        generate_reference_set(flat, "xiaoyu", "red coat", 0, 48, [tmp_path / "a.png", tmp_path / "b.png"])
    assert not (tmp_path / "b.png").exists()


def test_contact_sheet_is_a_labelled_grid(tmp_path):
    calls: list = []
    out = tmp_path / "sheet.png"
    draw_contact_sheet(noise_drawer(calls), "sks_linxiaoyu", "red coat", 0, out, title="Lin Xiaoyu")
    assert [prompt for prompt, _ in calls] == [f"photo of sks_linxiaoyu, red coat, {shot}" for shot in SHEET_SHOTS]
    sheet = Image.open(out)
    rows = (len(SHEET_SHOTS) + 1) // 2
    assert sheet.width > 2 * 256 and sheet.height > rows * round(256 * 80 / 60)
    # Each sample is pasted whole: the top-left cell holds the first drawing, scaled to the cell.
    first = noise_drawer([])(None, None, calls[0][1]).resize((256, round(256 * 80 / 60)), Image.Resampling.LANCZOS)
    title_h = compose_contact_sheet([first], ["x"], "t").height - round(256 * 80 / 60) - 3 * (14 + 4) - 8
    cell = sheet.crop((8, title_h, 8 + 256, title_h + first.height))
    assert np.abs(np.asarray(cell, np.int16) - np.asarray(first, np.int16)).mean() < 2
