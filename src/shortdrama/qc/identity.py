"""The identity check's seam: a face-embedding scorer the user provides compares each character on
screen in a take with that character's reference images. None configured (the default): the check
is reported as skipped. Nothing is downloaded: the scorer is the user's code and weights.

`qc.identity.scorer: "my_package.faces:make_scorer"` names a factory called once per process with no
arguments; it returns an object with

    similarity(frame: PIL.Image.Image, references: list[PIL.Image.Image]) -> float

(e.g. the cosine similarity of face embeddings, best face in the frame against the references' mean).
The take's middle frame is scored: the keyframe drift check already covers the first one.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from ..config.qc import IdentityCheck
from ..errors import QCError
from .flags import Flag, Skipped, short_of


class IdentityScorer(Protocol):
    def similarity(self, frame: Any, references: list[Any]) -> float: ...


@cache
def load_scorer(target: str) -> IdentityScorer:
    module_name, _, factory_name = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), factory_name)
    except (ImportError, AttributeError) as problem:
        raise QCError(f"qc.identity.scorer={target}: cannot load it ({problem})") from None
    scorer = factory()
    if not callable(getattr(scorer, "similarity", None)):
        raise QCError(f"qc.identity.scorer={target}: the factory's object has no similarity(frame, references)")
    return scorer


def middle_frame(path: Path) -> tuple[Any, float]:
    """The take's middle frame as a PIL image, and its time in seconds."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame for frame in container.decode(stream)]
    if not frames:
        raise QCError(f"{path.name} has no video frames to score")
    frame = frames[len(frames) // 2]
    return frame.to_image(), float(frame.time or 0.0)


def identity_findings(check: IdentityCheck, take: Path, characters: Mapping[str, Sequence[str]]) -> list[Flag | Skipped]:
    if not check.scorer:
        return [Skipped("identity", "no identity scorer configured (qc.identity.scorer)")]
    if not characters:
        return [Skipped("identity", "no character with reference images is on screen")]
    from PIL import Image

    scorer = load_scorer(check.scorer)
    frame, at = middle_frame(take)
    found: list[Flag | Skipped] = []
    for name, paths in characters.items():
        references = [Image.open(p).convert("RGB") for p in paths]
        if not references:
            found.append(Skipped("identity", f"{name} has no reference images"))
            continue
        score = float(scorer.similarity(frame, references))
        if score < check.min_similarity:
            found.append(Flag("identity", round(score, 3), check.min_similarity,
                              f"{name} does not look like their references: similarity {score:.2f} < "
                              f"{check.min_similarity:g}", at=at, severity=short_of(score, check.min_similarity)))
    return found
