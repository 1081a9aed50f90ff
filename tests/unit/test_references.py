import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shortdrama.characters.references import (ReferenceError, ReferenceRules, difference_hash, expand_references,
                                              validate_references)

RULES = ReferenceRules(min_count=4, min_short_side=64)


def photo(path: Path, seed: int, size=(96, 128), mode="RGB") -> Path:
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (8, 6, 3), dtype=np.uint8)
    image = Image.fromarray(blocks).resize(size, Image.Resampling.BICUBIC).convert(mode)
    image.save(path)
    return path


@pytest.fixture
def good_set(tmp_path) -> list[Path]:
    return [photo(tmp_path / f"ref_{i:02d}.png", seed=i) for i in range(5)]


def test_a_good_set_passes(good_set):
    usable = validate_references("xiaoyu", good_set, RULES)
    assert [u.path for u in usable] == good_set
    assert len({u.dhash for u in usable}) == 5


def test_every_bad_file_is_named_with_its_reason_in_one_line(tmp_path, good_set):
    small = photo(tmp_path / "small.png", seed=50, size=(40, 40))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not really a jpeg")
    ghost = tmp_path / "ghost.png"
    Image.new("RGBA", (96, 128), (255, 0, 0, 0)).save(ghost)
    twin = tmp_path / "twin.jpg"
    Image.open(good_set[0]).resize((120, 160)).convert("RGB").save(twin, quality=85)
    with pytest.raises(ReferenceError) as info:
        validate_references("xiaoyu", [*good_set, small, broken, ghost, twin, tmp_path / "gone.png"], RULES)
    message = str(info.value)
    assert "\n" not in message and message.startswith("character xiaoyu: reference images:")
    assert "small.png (40x40 is under 64 px on the short side)" in message
    assert "broken.jpg (not a readable image)" in message
    assert "ghost.png (100% transparent)" in message
    assert "twin.jpg (duplicate of ref_00.png)" in message
    assert "gone.png (missing)" in message


def test_too_few_usable_images(good_set):
    with pytest.raises(ReferenceError, match=r"3 usable of the 4 needed"):
        validate_references("meifang", good_set[:3], RULES)


def test_difference_hash_survives_resizing_but_separates_photos(good_set):
    original = Image.open(good_set[1])
    assert bin(difference_hash(original) ^ difference_hash(original.resize((48, 64)))).count("1") <= 4
    assert bin(difference_hash(original) ^ difference_hash(Image.open(good_set[2]))).count("1") > 10


def test_folders_expand_to_their_images(tmp_path, good_set):
    (tmp_path / "notes.txt").write_text("not an image")
    assert expand_references([tmp_path]) == sorted(good_set)
    assert expand_references(["ref_00.png"], base=tmp_path) == [tmp_path / "ref_00.png"]


def test_check_references_command_reports_each_character(tmp_path, good_set, capsys):
    from shortdrama.cli import main

    folder = good_set[0].parent
    code = main(["check-references", "--min-count", "4", "--min-short-side", "64",
                 f"series.cast.xiaoyu.references=['{folder}']",
                 f"series.cast.meifang.references=['{good_set[0]}']"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "xiaoyu: ok, 5 usable reference images" in out
    assert "haoyu: no references given" in out
    assert "character meifang: reference images: 1 usable of the 4 needed" in err


def bomb_png(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A decompression bomb: a 1-bit greyscale PNG of width x height black pixels, about 100 KB on disk,
    written with zlib directly (PIL would allocate the whole image)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = (b"\x00" * (1 + (width + 7) // 8)) * 1000  # each row: filter byte 0, then the packed bits
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(rows) for _ in range(height // 1000)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_named_not_opened(tmp_path, good_set, capsys):
    from shortdrama.cli import main

    bomb = bomb_png(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 150_000
    with pytest.raises(ReferenceError) as info:
        validate_references("xiaoyu", [*good_set, bomb], RULES)
    assert str(info.value) == ("character xiaoyu: reference images: 5 usable: "
                               "bomb.png (too large to open safely (900000000 pixels))")
    code = main(["check-references", "--min-count", "4", "--min-short-side", "64",
                 f"series.cast.xiaoyu.references=['{tmp_path}']"])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in err
    assert "character xiaoyu: reference images: 5 usable: bomb.png (too large to open safely (900000000 pixels))" in err


def test_an_image_over_the_pixel_limit_is_refused(good_set):
    rules = ReferenceRules(min_count=4, min_short_side=64, max_pixels=96 * 128 - 1)
    with pytest.raises(ReferenceError) as info:
        validate_references("xiaoyu", good_set[:1], rules)
    assert str(info.value) == ("character xiaoyu: reference images: 0 usable of the 4 needed: "
                               "ref_00.png (too large to open safely (12288 pixels))")
