"""The procedural keyframe generator: properties of its frames, not pixel values from one machine."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from shortdrama.errors import ProviderError
from shortdrama.keyframes import CAMERAS, CharacterLook, KeyframeRequest, ProceduralKeyframes, character_appearance
from shortdrama.keyframes.colour import hue_of
from shortdrama.keyframes.figures import HALF_WIDTH_AT_REST
from shortdrama.keyframes.overlays import NameTag, name_tags
from shortdrama.keyframes.staging import fit_cast

LIN = CharacterLook("林婉", "lin-wan", "tall woman, long black hair, red qipao, jade earrings", "female")
CHEN = CharacterLook("陈明", "chen-ming", "短发，蓝色西装，戴眼镜", "male")


def make_request(**changes) -> KeyframeRequest:
    base = KeyframeRequest(
        setting="INT",
        place="Kitchen of the Chen family, night",
        action="Lin Wan confronts Chen Ming",
        camera="medium",
        characters=(LIN, CHEN),
        width=144,
        height=256,
        seed=3,
    )
    return dataclasses.replace(base, **changes)


def render(request: KeyframeRequest, **options) -> np.ndarray:
    return np.asarray(ProceduralKeyframes(**options).render(request), dtype=np.int16)


def pixels_near(image: np.ndarray, colour: tuple[int, int, int], tolerance: float = 60) -> int:
    return int((np.abs(image - np.array(colour)).sum(axis=2) < tolerance).sum())


@pytest.mark.parametrize("size", [(480, 854), (720, 1280)])
def test_png_has_exact_size_and_rgb_mode(tmp_path, size):
    width, height = size
    out = tmp_path / "scene-001.png"
    request = make_request(setting="EXT", place="Rooftop, night", camera="wide", characters=(CHEN,), width=width, height=height)
    ProceduralKeyframes().generate(request, out)
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size == (width, height)
        assert image.mode == "RGB"
    assert [p.name for p in tmp_path.iterdir()] == ["scene-001.png"]  # no temp file left behind


def test_same_request_gives_byte_identical_png(tmp_path):
    request = make_request(caption="林婉质问陈明。")
    ProceduralKeyframes().generate(request, tmp_path / "a.png")
    ProceduralKeyframes().generate(request, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_appearance_depends_only_on_the_look():
    changed = character_appearance(dataclasses.replace(LIN, look="short hair, green suit, glasses"))
    assert changed != character_appearance(LIN)
    assert changed.hair_length == "short" and changed.glasses and changed.top != character_appearance(LIN).top


def test_character_keeps_its_colours_across_scenes_and_changes_with_its_look():
    top = character_appearance(LIN).top
    office = render(make_request(place="Office, day", camera="wide", characters=(LIN,)), show_name_tags=False)
    street = render(make_request(setting="EXT", place="Street, day", camera="wide", characters=(LIN,)), show_name_tags=False)
    assert pixels_near(office, top) > 100 and pixels_near(street, top) > 100

    green = dataclasses.replace(LIN, look="tall woman, long black hair, green qipao")
    restyled = render(make_request(place="Office, day", camera="wide", characters=(green,)), show_name_tags=False)
    assert pixels_near(restyled, top) < pixels_near(office, top) / 4
    assert pixels_near(restyled, character_appearance(green).top) > 100


def test_action_and_caption_change_the_image():
    base = render(make_request())
    assert not np.array_equal(base, render(make_request(action="Chen Ming laughs and waves")))
    assert not np.array_equal(base, render(make_request(caption="A caption")))
    assert not np.array_equal(render(make_request(caption="One line")), render(make_request(caption="Another line")))


def test_close_up_frames_the_character_larger_than_wide():
    scene = dict(place="Hospital ward, day", characters=(LIN,), width=144, height=256)
    close = render(make_request(camera="close-up", **scene), show_name_tags=False)
    wide = render(make_request(camera="wide", **scene), show_name_tags=False)
    assert not np.array_equal(close, wide)
    red = character_appearance(LIN).top
    close_area, wide_area = pixels_near(close, red), pixels_near(wide, red)
    assert close_area > 0.15 * 144 * 256
    assert close_area > 3 * wide_area


def test_chinese_caption_renders_real_glyphs():
    # Missing glyphs would all draw as the same box, so two different strings would match.
    request = make_request(camera="wide", place="Street, day", setting="EXT")
    plain = render(request)
    first = render(dataclasses.replace(request, caption="林婉哭着握住奶奶的手"))
    second = render(dataclasses.replace(request, caption="陈明笑着推开餐厅的门"))
    assert not np.array_equal(plain, first)
    assert not np.array_equal(first, second)


def test_chinese_name_tags_render_real_glyphs():
    def tagged(name: str) -> np.ndarray:
        image = Image.new("RGB", (480, 200), (90, 110, 130))
        name_tags(image, [NameTag(name, (196, 36, 48), cx=240, crown_y=150)])
        return np.asarray(image, dtype=np.int16)

    blank = tagged("")
    lin, chen = tagged("林婉"), tagged("陈明")
    assert not np.array_equal(blank, lin)
    assert not np.array_equal(lin, chen)
    assert (lin.sum(axis=2) > 700).sum() > 20  # white strokes of the name itself


def test_name_tags_can_be_switched_off():
    request = make_request(camera="wide")
    assert not np.array_equal(render(request), render(request, show_name_tags=False))


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        ("red dress", "红色连衣裙"),
        ("blue suit", "蓝色西装"),
        ("green coat", "绿色外套"),
        ("white shirt", "白衬衫"),
        ("black jacket", "黑色夹克"),
        ("purple sweater", "紫色毛衣"),
        ("gold gown", "金色礼服"),
        ("pink skirt", "粉色短裙"),
        ("grey coat", "灰色大衣"),
        ("brown jacket", "棕色夹克"),
    ],
)
def test_english_and_chinese_colour_words_agree(english, chinese):
    en = character_appearance(CharacterLook("A", "a", english))
    zh = character_appearance(CharacterLook("A", "a", chinese))
    colour = en.top if "skirt" not in english else en.bottom
    other = zh.top if "skirt" not in english else zh.bottom
    assert colour == other
    assert en.garment == zh.garment


def test_colour_words_land_in_their_family():
    def hue(text: str) -> float | None:
        return hue_of(character_appearance(CharacterLook("A", "a", text)).top)

    assert hue("red qipao") < 15 or hue("red qipao") > 345
    assert 90 < hue("绿色外套") < 160
    assert 200 < hue("blue suit") < 250
    assert hue("white shirt") is None and hue("黑色西装") is None


def test_hair_height_and_glasses_words_in_both_languages():
    def look(text: str):
        return character_appearance(CharacterLook("A", "a", text))

    assert look("long black hair").hair_length == "long" == look("黑色长发").hair_length
    assert look("short hair").hair_length == "short" == look("短发").hair_length
    assert look("long black hair").hair == look("黑色长发").hair and sum(look("黑发").hair) < 120
    assert sum(look("white hair").hair) > 500 and sum(look("白发").hair) > 500
    assert look("wears glasses").glasses and look("戴眼镜").glasses
    assert look("tall man").height_scale > 1 and look("高个男人").height_scale > 1
    assert look("short man with long hair").height_scale < 1  # "short" belongs to the man, not the hair
    assert look("white shirt and red tie").accent == look("白衬衫配红领带").accent


def test_unstated_features_fall_back_to_a_stable_hash_of_the_name():
    names = ["Lin", "Chen", "Zhao", "Wang", "Liu"]
    first = [character_appearance(CharacterLook(n, n.lower(), "lead", "")) for n in names]
    again = [character_appearance(CharacterLook(n, n.lower(), "lead", "")) for n in names]
    assert first == again
    assert len({a.top for a in first}) > 1


@pytest.mark.parametrize("camera", ["dolly", "", "close"])
def test_unknown_camera_raises_provider_error(camera):
    if camera == "close":  # an accepted alias
        ProceduralKeyframes().render(make_request(camera=camera, width=36, height=64))
        return
    with pytest.raises(ProviderError):
        ProceduralKeyframes().render(make_request(camera=camera))


@pytest.mark.parametrize(("width", "height"), [(0, 256), (144, -1), (144, 0)])
def test_non_positive_size_raises_provider_error(tmp_path, width, height):
    with pytest.raises(ProviderError):
        ProceduralKeyframes().generate(make_request(width=width, height=height), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_unknown_setting_raises_provider_error():
    with pytest.raises(ProviderError):
        ProceduralKeyframes().render(make_request(setting="underwater"))


@pytest.mark.parametrize("camera", CAMERAS)
@pytest.mark.parametrize("count", [1, 2, 3, 5, 7])
def test_figures_stay_inside_the_frame_and_spread_across_it(camera, count):
    width, height = 720, 1280
    looks = [CharacterLook(f"C{i}", f"c{i}", "lead", "tall man" if i % 2 else "little girl") for i in range(count)]
    placements = fit_cast(camera, [character_appearance(look) for look in looks], width, height)
    assert 1 <= len(placements) <= count
    for place in placements:
        half = HALF_WIDTH_AT_REST * place.u
        if 2 * half < width:
            assert place.cx - half >= -1 and place.cx + half <= width + 1
        assert place.top >= 0
    if len(placements) > 1:
        xs = sorted(p.cx for p in placements)
        assert xs[-1] - xs[0] > width * 0.25
