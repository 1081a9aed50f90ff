"""The font used for every piece of text we draw or burn in.

libass renders nothing, silently, when the named font is missing, and a variable font
falls back to its Thin instance there; so we ship one static CJK face (it covers Latin too)
and always name it explicitly.

Every series language is drawn with that one face: Noto Sans CJK carries the Latin of Source
Sans, Vietnamese included (every precomposed letter of U+1EA0-U+1EF9, ă â đ ê ô ơ ư, and the
combining tone marks), so Vietnamese subtitles need no second font (tests/unit/test_vietnamese.py
checks the glyphs, and a burn-in of stacked marks such as "ấ ề ở ữ"). A language that needs
another face gets it in `font_family`, the one place the burn-in asks.
"""

from functools import cache
from pathlib import Path

FONT_FAMILY = "Noto Sans CJK TC Medium"
# The family libass is told to use per series language (all in `font_dir()`); others: FONT_FAMILY.
LANGUAGE_FONT_FAMILIES: dict[str, str] = {"en": FONT_FAMILY, "zh": FONT_FAMILY, "vi": FONT_FAMILY}


def font_family(language: str) -> str:
    """The font family to burn a series' subtitles in, by its language (`SeriesConfig.language`)."""
    return LANGUAGE_FONT_FAMILIES.get(language, FONT_FAMILY)


@cache
def font_path() -> Path:
    import cvttf_NotoSansCJK_Medium

    return Path(cvttf_NotoSansCJK_Medium.get_TTF_path())


def font_dir() -> Path:
    return font_path().parent


@cache
def font_file(family: str | None, language: str = "en") -> Path:
    """The file of the font `family` (render.subtitles.font; None: the series language's bundled face).

    A family other than the bundled ones must be installed where fontconfig finds it: libass draws
    nothing, silently, for a name it cannot match, so a name fc-match does not know is one clear
    error here, before any render.
    """
    import shutil
    import subprocess

    from .errors import MediaError

    family = family or font_family(language)
    if family in LANGUAGE_FONT_FAMILIES.values() or family == FONT_FAMILY:
        return font_path()
    found = ""
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{family}|%{file}", f"{family}:"], capture_output=True,
                               text=True).stdout
    families, _, file = found.partition("|")
    if family.casefold() not in (name.strip().casefold() for name in families.split(",")) or not Path(file).is_file():
        raise MediaError(f"render.subtitles.font {family!r} is not installed here (fontconfig has no such family): "
                         f"libass would draw no subtitles; leave it null for the bundled face {FONT_FAMILY!r}")
    return Path(file)
