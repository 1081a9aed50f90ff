"""Turning a character's free-text look into the parameters the figure painter needs.

The result depends only on the character's name and look, never on the scene, so a
character is drawn recognisably the same in every keyframe and changes only when the
bible changes its look. Whatever the text does not say falls back to a hash of the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .base import CharacterLook
from .colour import RGB, shade, stable_choice, stable_unit


@dataclass(frozen=True)
class Appearance:
    top: RGB  # shirt, jacket, dress: the colour that identifies the character
    bottom: RGB  # trousers or skirt
    hair: RGB
    hair_length: str  # bald | short | medium | long
    hair_style: str  # plain | ponytail | bun | curly
    skin: RGB
    height_scale: float
    build: str  # slim | average | broad
    garment: str  # suit | dress | qipao | skirt | robe | coat | casual | uniform
    feminine: bool
    elderly: bool
    glasses: bool
    accent: RGB  # tie, scarf, earrings, hat
    accessories: tuple[str, ...]  # sorted subset of ACCESSORIES


COLOURS: dict[str, RGB] = {
    "red": (196, 36, 48),
    "burgundy": (120, 24, 44),
    "pink": (234, 128, 168),
    "orange": (230, 118, 38),
    "yellow": (234, 196, 58),
    "gold": (206, 160, 52),
    "green": (46, 138, 78),
    "jade": (58, 160, 128),
    "teal": (28, 128, 140),
    "blue": (38, 88, 188),
    "navy": (30, 42, 92),
    "purple": (118, 60, 160),
    "brown": (118, 76, 46),
    "beige": (214, 190, 156),
    "white": (238, 236, 230),
    "grey": (126, 128, 134),
    "black": (34, 34, 38),
    "silver": (188, 192, 200),
}

# Hair reads better in natural tones than in the saturated clothing swatches.
HAIR_TONES: dict[str, RGB] = {
    "black": (26, 24, 30),
    "brown": (92, 58, 38),
    "grey": (178, 178, 184),
    "white": (214, 214, 218),
    "silver": (196, 198, 206),
    "gold": (218, 180, 102),
    "yellow": (222, 190, 110),
    "red": (138, 52, 30),
    "orange": (170, 86, 40),
}

# Longest spellings first so "navy blue" and 酒红 win over blue and 红.
COLOUR_WORDS: list[tuple[str, str]] = [
    ("酒红", "burgundy"), ("枣红", "burgundy"), ("粉红", "pink"), ("深蓝", "navy"), ("藏青", "navy"),
    ("藏蓝", "navy"), ("墨绿", "green"), ("翠绿", "jade"), ("青色", "teal"), ("米色", "beige"),
    ("米白", "beige"), ("卡其", "beige"), ("咖啡", "brown"), ("金黄", "gold"), ("银白", "silver"),
    ("花白", "grey"), ("红", "red"), ("粉", "pink"), ("橙", "orange"), ("橘", "orange"),
    ("黄", "yellow"), ("金", "gold"), ("绿", "green"), ("翡翠", "jade"), ("玉", "jade"),
    ("蓝", "blue"), ("紫", "purple"), ("棕", "brown"), ("褐", "brown"), ("白", "white"),
    ("灰", "grey"), ("黑", "black"), ("银", "silver"),
    ("navy blue", "navy"), ("navy", "navy"), ("crimson", "red"), ("scarlet", "red"), ("red", "red"),
    ("burgundy", "burgundy"), ("maroon", "burgundy"), ("wine", "burgundy"), ("pink", "pink"),
    ("rose", "pink"), ("orange", "orange"), ("yellow", "yellow"), ("golden", "gold"), ("gold", "gold"),
    ("blonde", "gold"), ("blond", "gold"), ("green", "green"), ("olive", "green"), ("emerald", "jade"),
    ("jade", "jade"), ("teal", "teal"), ("turquoise", "teal"), ("blue", "blue"), ("purple", "purple"),
    ("violet", "purple"), ("lavender", "purple"), ("brown", "brown"), ("chestnut", "brown"),
    ("auburn", "red"), ("beige", "beige"), ("khaki", "beige"), ("cream", "beige"), ("ivory", "white"),
    ("white", "white"), ("grey", "grey"), ("gray", "grey"), ("charcoal", "grey"), ("black", "black"),
    ("silver", "silver"),
]

NOUN_PATTERNS: dict[str, str] = {
    "hair": r"hair|ponytail|braids?|bun|curls|头发|长发|短发|卷发|马尾|发髻|盘发|辫|长直|发(?![夹簪])",
    "bottom": r"trousers|pants|jeans|skirt|shorts|slacks|裤|半身裙|短裙",
    "accent": r"earrings?|necklace|pearls?|hat|cap|scarf|tie|bow|hairpin|"
    r"耳环|耳坠|项链|珍珠|帽|围巾|领带|发夹|发簪|簪",
    "ignored": r"eyes|lips|lipstick|glasses|spectacles|frames?|shoes|boots|heels|眼睛|瞳|唇|口红|眼镜|鞋|靴",
    "top": r"t-shirt|shirt|blouse|dress|qipao|cheongsam|gown|suit|blazer|jacket|coat|sweater|hoodie|tee|"
    r"top|uniform|robe|hanfu|vest|cardigan|outfit|"
    r"衬衫|衬衣|连衣裙|旗袍|西装|西服|外套|夹克|大衣|风衣|毛衣|"
    r"卫衣|t恤|上衣|制服|长袍|汉服|马甲|裙|衣|褂|装",
}

GARMENT_WORDS: list[tuple[str, str]] = [
    ("suit|blazer|tuxedo|西装|西服|正装", "suit"),
    ("qipao|cheongsam|旗袍", "qipao"),
    ("dress|gown|连衣裙|礼服|长裙", "dress"),
    ("skirt|短裙|半身裙", "skirt"),
    ("裙", "dress"),
    ("robe|hanfu|长袍|汉服|古装|袍", "robe"),
    ("uniform|scrubs|制服|工作服|警服", "uniform"),
    ("coat|trench|jacket|lab coat|大衣|风衣|外套|夹克|白大褂", "coat"),
    ("hoodie|t-shirt|tee|sweater|cardigan|shirt|blouse|jeans|casual|卫衣|t恤|毛衣|开衫|衬衫|衬衣|休闲", "casual"),
]

ACCESSORY_WORDS: dict[str, str] = {
    "earrings": r"earrings?|耳环|耳坠",
    "necklace": r"necklace|pearls?|pendant|项链|珍珠|吊坠",
    "hat": r"\bhat\b|beret|fedora|帽",
    "cap": r"\bcap\b|baseball|鸭舌帽|棒球帽",
    "tie": r"\btie\b|necktie|领带",
    "scarf": r"scarf|围巾|丝巾",
    "beard": r"beard|moustache|mustache|stubble|胡子|胡须|络腮",
    "hairpin": r"hairpin|hair clip|发夹|发簪|簪",
}

SKIN_TONES: list[RGB] = [(246, 214, 188), (238, 200, 170), (228, 188, 152), (214, 170, 134), (196, 148, 112)]
DEFAULT_TOPS: list[str] = [
    "red", "blue", "green", "purple", "teal", "burgundy", "navy", "orange", "pink", "jade", "beige", "gold",
]
DEFAULT_BOTTOMS: list[RGB] = [(40, 42, 52), (52, 50, 48), (34, 44, 72), (150, 130, 100), (70, 52, 40)]

FEMININE_WORDS = (
    "woman|women|girl|lady|female|she|her|mother|mom|wife|daughter|sister|grandma|aunt|queen|princess|"
    "qipao|dress|skirt|女|妈|母|妻|姐|妹|奶奶|阿姨|婆|小姐|公主"
)
MASCULINE_WORDS = (
    "man|men|boy|male|gentleman|he|his|father|dad|husband|son|brother|grandpa|uncle|king|prince|"
    "男|爸|父|夫|哥|弟|爷|叔|先生|少爷|王子"
)
ELDERLY_WORDS = (
    "old|elderly|aged|grey-haired|grandma|grandpa|grandmother|grandfather|"
    "老人|老太|老头|老妇|年迈|奶奶|爷爷|外婆|外公|白发|花白"
)

CLAUSE_SPLIT = re.compile(r"[,，、;；。.!！/\n]|\band\b|\bwith\b|\bin\b|\bwearing\b|和|穿着|穿|戴着|戴|配")


def _found(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


def _word(words: str) -> str:
    """English words need word boundaries ("woman" must not match "man"); Chinese has none."""
    return "|".join(rf"\b{w}\b" if w.isascii() else w for w in words.split("|"))


def _colour_assignments(text: str) -> dict[str, str]:
    """Map each noun category to the colour word nearest in front of it (or behind, failing that)."""
    colour_pattern = re.compile("|".join(re.escape(w) if not w.isascii() else rf"\b{w}\b" for w, _ in COLOUR_WORDS))
    colour_names = dict(COLOUR_WORDS)
    noun_pattern = re.compile("|".join(f"(?P<{kind}>{_word(pattern)})" for kind, pattern in NOUN_PATTERNS.items()))
    assigned: dict[str, str] = {}
    for clause in CLAUSE_SPLIT.split(text):
        nouns = [(m.start(), m.lastgroup) for m in noun_pattern.finditer(clause)]
        for colour in colour_pattern.finditer(clause):
            after = [(start, kind) for start, kind in nouns if start >= colour.start()]
            before = [(start, kind) for start, kind in nouns if start < colour.start()]
            if after:
                kind = min(after)[1]
            elif before:
                kind = max(before)[1]
            else:
                kind = "top"
            if kind and kind != "ignored":
                assigned.setdefault(kind, colour_names[colour.group(0)])
    return assigned


def _clauses_with(text: str, pattern: str) -> list[str]:
    return [clause for clause in CLAUSE_SPLIT.split(text) if re.search(pattern, clause)]


def _hair_length(text: str, feminine: bool, elderly: bool, name: str) -> tuple[str, str]:
    hair_text = " ".join(_clauses_with(text, _word(NOUN_PATTERNS["hair"])))
    style = "plain"
    if _found(r"ponytail|马尾", text):
        style = "ponytail"
    elif _found(r"\bbun\b|发髻|盘发|盘起", text):
        style = "bun"
    elif _found(r"curly|curls|wavy|卷发|卷", hair_text):
        style = "curly"
    if _found(r"bald|shaved head|光头|秃", text):
        return "bald", "plain"
    if style in ("ponytail", "bun"):
        return "short", style  # tied up: nothing falls past the collar whatever its length
    if _found(r"\blong\b|长发|长直|披肩|及腰", hair_text) or _found(r"长发|长直|披肩", text):
        return "long", style
    if _found(r"\bshort\b|crew cut|buzz|短发|寸头|平头", hair_text) or _found(r"短发|寸头|平头", text):
        return "short", style
    if _found(r"bob|medium|shoulder|齐肩|波波|中长", hair_text):
        return "medium", style
    if feminine:
        return ("long" if stable_unit(name, "hair-length") < 0.6 else "medium"), style
    return ("short" if not elderly or stable_unit(name, "bald") < 0.7 else "bald"), style


def _is_feminine(text: str, gender: str | None, name: str) -> bool:
    if gender:
        lowered = gender.strip().lower()
        if lowered in ("f", "female", "woman", "girl", "女", "女性"):
            return True
        if lowered in ("m", "male", "man", "boy", "男", "男性"):
            return False
    feminine = _found(_word(FEMININE_WORDS), text)
    masculine = _found(_word(MASCULINE_WORDS), text)
    if feminine != masculine:
        return feminine
    return stable_unit(name, "gender") < 0.5


def character_appearance(look: CharacterLook) -> Appearance:
    """Drawing parameters for one character, from its name and look text only."""
    text = look.look.lower()
    name = look.name
    # Skin words hold colour words (黝黑, 白皙) that must not reach the clothing parser.
    skin = stable_choice(SKIN_TONES, name, "skin")
    if _found(r"pale|fair|porcelain|白皙|白净|皮肤白", text):
        skin = SKIN_TONES[0]
    elif _found(r"\btan|bronzed|dark skin|dark-skinned|黝黑|小麦色|古铜", text):
        skin = SKIN_TONES[4]
    text_for_colours = re.sub(r"白皙|白净|皮肤白|黝黑|小麦色|古铜色?|dark skin|dark-skinned", " ", text)

    feminine = _is_feminine(text, look.gender, name)
    elderly = _found(_word(ELDERLY_WORDS), text)
    child = _found(_word("child|kid|little girl|little boy|toddler|孩子|小孩|儿童|小女孩|小男孩|男孩|女孩"), text)

    colours = _colour_assignments(text_for_colours)
    top_name = colours.get("top") or stable_choice(DEFAULT_TOPS, name, "top")
    top = COLOURS[top_name]
    bottom = COLOURS[colours["bottom"]] if "bottom" in colours else stable_choice(DEFAULT_BOTTOMS, name, "bottom")
    if "hair" in colours:
        hair_name = colours["hair"]
        hair = HAIR_TONES.get(hair_name, COLOURS[hair_name])
    elif elderly:
        hair = HAIR_TONES["grey"]
    else:
        hair = stable_choice([HAIR_TONES["black"]] * 3 + [(54, 36, 28), HAIR_TONES["brown"]], name, "hair")
    accent = COLOURS[colours["accent"]] if "accent" in colours else stable_choice(
        [COLOURS[c] for c in ("gold", "red", "white", "navy", "jade", "silver")], name, "accent")

    hair_length, hair_style = _hair_length(text, feminine, elderly, name)

    height_text = " ".join(c for c in CLAUSE_SPLIT.split(text) if not re.search(_word(NOUN_PATTERNS["hair"]), c))
    height_scale = 1.0
    if child:
        height_scale = 0.72
    elif _found(r"\btall\b|高个|高大|高挑|个子高|身材高", height_text):
        height_scale = 1.08
    elif _found(r"\bshort\b|petite|矮|娇小", height_text):
        height_scale = 0.92

    build = "average"
    if _found(r"slim|slender|thin|skinny|瘦|苗条|纤细", text):
        build = "slim"
    elif _found(r"heavy|fat|stout|chubby|burly|broad|muscular|plump|胖|魁梧|壮|宽肩", text):
        build = "broad"

    garment = next((kind for words, kind in GARMENT_WORDS if _found(_word(words), text)), None)
    if garment is None:
        options = ["dress", "casual", "coat", "skirt"] if feminine else ["suit", "casual", "coat", "suit"]
        garment = stable_choice(options, name, "garment")

    if garment in ("suit", "uniform") and "bottom" not in colours:
        bottom = shade(top, 0.72)  # a suit's trousers match its jacket
    accessories = {item for item, pattern in ACCESSORY_WORDS.items() if _found(pattern, text)}
    if garment == "suit" and not feminine and "scarf" not in accessories:
        accessories.add("tie")  # a man's suit without a tie reads as a plain jacket at storyboard scale
    if {"cap", "hat"} & accessories and "accent" not in colours:
        # Headwear is large at close range; an unnamed colour should not shout.
        accent = stable_choice([(58, 54, 50), (40, 46, 66), (150, 120, 88), (110, 34, 42)], name, "hat")
    if "cap" in accessories:
        accessories.discard("hat")
    glasses = _found(r"glasses|spectacles|eyeglasses|眼镜", text)

    return Appearance(
        top=top,
        bottom=bottom,
        hair=hair,
        hair_length=hair_length,
        hair_style=hair_style,
        skin=skin,
        height_scale=height_scale,
        build=build,
        garment=garment,
        feminine=feminine,
        elderly=elderly,
        glasses=glasses,
        accent=accent,
        accessories=tuple(sorted(accessories)),
    )
