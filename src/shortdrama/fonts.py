"""The font used for every piece of text we draw or burn in.

libass renders nothing, silently, when the named font is missing, and a variable font
falls back to its Thin instance there; so we ship one static CJK face (it covers Latin too)
and always name it explicitly.
"""

from functools import cache
from pathlib import Path

FONT_FAMILY = "Noto Sans CJK TC Medium"


@cache
def font_path() -> Path:
    import cvttf_NotoSansCJK_Medium

    return Path(cvttf_NotoSansCJK_Medium.get_TTF_path())


def font_dir() -> Path:
    return font_path().parent
