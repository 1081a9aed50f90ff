"""Names that become file names. Whatever a user or an LLM typed, the result stays one path component."""

import hashlib
import re
import unicodedata


def slugify(text: str, fallback_prefix: str = "x") -> str:
    """ASCII lower-case letters, digits, `_` and `-`; never empty, never `.` or `..`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:48]
    if not slug:
        digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
        slug = f"{fallback_prefix}_{digest}"
    return slug
