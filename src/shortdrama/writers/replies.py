"""Reading the agents' replies: JSON out of a chat reply, validation against the schemas, and the
continuity checks that code can make. Every problem is phrased for the model, which gets it back
in a repair or a revision request."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from pydantic import ValidationError

from ..schemas import Outline, Scene, text_problem
from .base import SeriesBrief
from .hints import usable_hints
from .phrasebook import SPEECH_UNITS_PER_SECOND, speech_units

log = logging.getLogger(__name__)

MAX_LISTED_PROBLEMS = 12
# Dialogue vs. scene length (speech_overrun): speech over MAX_SPEECH_OVERRUN x the scene is a hard problem
# (llm.max_speech_overrun; 1.6 = the voice step's max_speedup), speech and pauses over SOFT_SPEECH_OVERRUN a note.
MAX_SPEECH_OVERRUN = 1.6
SOFT_SPEECH_OVERRUN = 1.25
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[^\W\d_]+")
# A Vietnamese syllable once its tone and vowel marks are gone (đ read as d): initial consonant,
# vowel nucleus, final consonant. Most English words are not one ("you", "what", "sign", "leave").
_VI_SYLLABLE = re.compile(
    r"(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?"
    r"(ieu|yeu|oai|oay|oeo|uay|uoi|uou|uye|uya|ai|ao|au|ay|eo|eu|ia|ie|iu|oa|oe|oi|oo|ua|ue|ui|uo|uu|uy|ye|[aeiouy])"
    r"(ch|ng|nh|[cmnpt])?")
# Vietnamese text this long (in syllables) with not one mark is Vietnamese with its diacritics stripped.
_VI_UNMARKED_WORDS = 8
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.S)


@dataclass(frozen=True)
class Finding:
    text: str
    hard: bool = True  # a hard finding must be gone before an episode is accepted


class UnusableReply(Exception):
    """A reply that cannot be used; its problems are sent back for a repair."""

    def __init__(self, problems: Sequence[str]):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def extract_json(content: str) -> Any:
    """The outermost JSON object (or array) of a reply: fences, <think> blocks and prose around it are dropped.

    Prose may hold brackets of its own ("the {format} you asked for"), so every opening bracket is
    tried in turn, but only where it is not nested in an earlier, broken one: a truncated or broken
    reply never yields one of its inner objects."""
    text = _THINK.sub("", content).strip()
    if not text:
        raise UnusableReply(["the reply is empty; it must be one JSON object"])
    fenced = [block for block in _FENCE.findall(text) if "{" in block or "[" in block]
    first_error: str | None = None
    decoder = json.JSONDecoder()
    for candidate in fenced + [text]:
        starts = [i for i, ch in enumerate(candidate) if ch in "{["][:50]
        for start in starts:
            if not _balanced(candidate[:start], closed=True):
                continue
            try:
                value, end = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError as error:
                first_error = first_error or f"{error.msg} at line {error.lineno} column {error.colno}"
                continue
            if _balanced(candidate[end:], closed=False):
                return value
    if first_error is None:
        raise UnusableReply(["the reply contains no JSON object"])
    raise UnusableReply([f"the reply is not valid JSON ({first_error}); it may be incomplete"])


def _balanced(text: str, closed: bool) -> bool:
    """No bracket closes what `text` did not open; with `closed`, everything opened is closed too."""
    depth = 0
    for ch in text:
        depth += 1 if ch in "{[" else -1 if ch in "}]" else 0
        if depth < 0:
            return False
    return depth == 0 or not closed


def parse_outline_reply(data: Any, brief: SeriesBrief) -> Outline:
    data = _object(_unwrap(data, "episodes"))
    try:
        outline = Outline.model_validate({**data, "language": brief.language})
    except ValidationError as error:
        raise UnusableReply(describe_validation(error)) from None
    problems = []
    if len(outline.episodes) != brief.episodes:
        problems.append(f'"episodes" has {len(outline.episodes)} entries; the series has exactly {brief.episodes} '
                        f"episodes, numbered 1 to {brief.episodes}")
    if not 3 <= len(outline.main_plot_points) <= 5:
        problems.append(f'"main_plot_points" has {len(outline.main_plot_points)} entries; write 3 to 5')
    texts = {"series_title": outline.series_title, "synopsis": outline.synopsis}
    for e in outline.episodes:
        texts.update({f"episodes[{e.episode - 1}].{k}": getattr(e, k) for k in ("title", "hook", "conflict", "cliffhanger")})
    problems += [f"{where}: {problem}" for where, text in texts.items()
                 if (problem := language_problem(text, brief.language, ignore=brief.cast_names))]
    if problems:
        raise UnusableReply(problems)
    return outline


def parse_scenes_reply(data: Any, count: tuple[int, int], first: int = 1) -> list[Scene]:
    items = _scene_items(data)
    scenes, problems = _validate_scenes(items, lambda i, item: first + i)
    low, high = count
    if not low <= len(items) <= high:
        wanted = f"exactly {low}" if low == high else f"between {low} and {high}"
        problems.insert(0, f'"scenes" has {len(items)} scenes; write {wanted} scenes')
    if problems:
        raise UnusableReply(problems)
    return scenes


def parse_plan_reply(data: Any, low: int, high: int) -> list[str]:
    plan = _object(_unwrap(data, "plan") if isinstance(data, dict) else {"plan": data}).get("plan")
    if not isinstance(plan, list) or not all(isinstance(p, str) and p.strip() for p in plan):
        raise UnusableReply(['the reply needs "plan": a list of one-line scene descriptions (strings)'])
    if not low <= len(plan) <= high:
        raise UnusableReply([f'"plan" has {len(plan)} scenes; plan between {low} and {high} scenes'])
    plan = [p.strip() for p in plan]
    if problems := [f"plan[{i}]: {problem}" for i, p in enumerate(plan) if (problem := text_problem(p))]:
        raise UnusableReply(problems)
    return plan


def parse_patch_reply(data: Any, total: int) -> dict[int, Scene]:
    items = _scene_items(data, allow_empty=True)
    problems = []
    numbers: list[int] = []
    for i, item in enumerate(items):
        number = item.get("number") if isinstance(item, dict) else None
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= total:
            problems.append(f'changed scene {i + 1}: "number" must be the scene number it replaces, 1 to {total}')
        numbers.append(number if isinstance(number, int) else 0)
    if problems:
        raise UnusableReply(problems)
    scenes, problems = _validate_scenes(items, lambda i, item: numbers[i])
    if problems:
        raise UnusableReply(problems)
    return dict(zip(numbers, scenes))


def parse_verdict_reply(data: Any) -> list[str]:
    """The critic's fixes ([] when it is satisfied)."""
    data = _object(data)
    ok, fixes = data.get("ok"), data.get("fixes", [])
    if not isinstance(ok, bool):
        raise UnusableReply(['"ok" must be true or false'])
    if not isinstance(fixes, list) or not all(isinstance(f, str) for f in fixes):
        raise UnusableReply(['"fixes" must be a list of strings'])
    fixes = [f.strip() for f in fixes if f.strip()]
    if not ok and not fixes:
        log.warning("critic: not ok but no fixes named; nothing to send back")
    return [] if ok else fixes


def _object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise UnusableReply(["the reply must be one JSON object"])
    return data


def _unwrap(data: Any, key: str) -> Any:
    """{"outline": {...}} -> {...}: models like to wrap their answer in one more object."""
    if isinstance(data, dict) and key not in data and len(data) == 1:
        inner = next(iter(data.values()))
        if isinstance(inner, dict) and key in inner:
            return inner
    return data


def _scene_items(data: Any, allow_empty: bool = False) -> list[Any]:
    if isinstance(data, list):
        data = {"scenes": data}
    items = _object(_unwrap(data, "scenes")).get("scenes")
    if not isinstance(items, list) or (not items and not allow_empty):
        raise UnusableReply(['the reply needs "scenes": a list of scene objects'])
    return items


def _validate_scenes(items: list[Any], number_of: Callable[[int, Any], int]) -> tuple[list[Scene], list[str]]:
    scenes, problems = [], []
    for i, item in enumerate(items):
        label = f"scene {number_of(i, item)}"
        if not isinstance(item, dict):
            problems.append(f"{label}: must be a JSON object")
            continue
        item = usable_hints(item, label)  # a voice hint it cannot use is left out, not repaired (hints.py)
        try:
            # null stands for "left out" in a strict schema's optional fields (e.g. no dialogue)
            scenes.append(Scene.model_validate({k: v for k, v in item.items() if k != "number" and not (
                v is None and k in Scene.model_fields and not Scene.model_fields[k].is_required())}))
        except ValidationError as error:
            problems += [f"{label}: {p}" for p in describe_validation(error)]
    return scenes, problems


def describe_validation(error: ValidationError) -> list[str]:
    problems = []
    for e in error.errors()[:MAX_LISTED_PROBLEMS]:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".") or "(document)"
        got = "" if e["type"] == "missing" else f" (got {_short(e.get('input'))})"
        problems.append(f"{where}: {e['msg']}{got}")
    return problems


# ------------------------------------------------------------------------------ local checks


def local_findings(brief: SeriesBrief, scenes: Sequence[Scene],
                   max_speech_overrun: float = MAX_SPEECH_OVERRUN) -> list[Finding]:
    """The critic's checks that code can make: cast, speakers on screen, ranges, counts, language,
    and whether the dialogue can be spoken in time (see `speech_overrun`)."""
    cast = brief.cast_names
    cast_list = ", ".join(cast)
    findings: list[Finding] = []
    if not brief.scenes_min <= len(scenes) <= brief.scenes_max:
        findings.append(Finding(f"the episode has {len(scenes)} scenes; it needs {brief.scenes_min} to {brief.scenes_max}"))
    rate = SPEECH_UNITS_PER_SECOND.get(brief.language, SPEECH_UNITS_PER_SECOND["en"])
    for number, scene in enumerate(scenes, start=1):
        for name in scene.characters:
            if name not in cast:
                findings.append(Finding(f"scene {number}: character {name!r} is not in the cast ({cast_list}); "
                                        f"use cast members only"))
        for line in scene.dialogue:
            if line.speaker not in cast:
                findings.append(Finding(f"scene {number}: speaker {line.speaker!r} is not in the cast ({cast_list}); "
                                        f"give the line to a cast member on screen"))
            elif line.speaker not in scene.characters:
                findings.append(Finding(f"scene {number}: speaker {line.speaker!r} speaks but is not in the scene's "
                                        f"characters {scene.characters}"))
            if problem := language_problem(line.text, brief.language, ignore=cast):
                findings.append(Finding(f"scene {number}: the line {_short(line.text)} {problem}"))
        if not brief.scene_seconds_min <= scene.duration <= brief.scene_seconds_max:
            findings.append(Finding(f"scene {number}: duration {scene.duration:g} s is outside "
                                    f"{brief.scene_seconds_min}-{brief.scene_seconds_max} s"))
        if overrun := speech_overrun(number, scene, brief.language, rate, max_speech_overrun):
            findings.append(overrun)
    return findings


def speech_overrun(number: int, scene: Scene, language: str, rate: float,
                   max_speech_overrun: float = MAX_SPEECH_OVERRUN) -> Finding | None:
    """Whether a scene's dialogue can be spoken in its duration, at the writer's (slow) speaking rate.

    The voice step speaks up to 1.6 times faster (its max_speedup, the default of `max_speech_overrun`)
    and closes the pauses before it cuts or drops a line (audio/dialogue.py). So speech alone needing more than `max_speech_overrun` times
    the scene is a hard problem (the lines would be lost); speech plus pauses needing over
    `SOFT_SPEECH_OVERRUN` times the scene is a note (it will sound rushed)."""
    if not scene.dialogue:
        return None
    spoken = sum(speech_units(line.text, language) for line in scene.dialogue) / rate
    needed = spoken + 0.3 * len(scene.dialogue) + 0.45
    if spoken > scene.duration * max_speech_overrun:
        return Finding(f"scene {number}: the dialogue needs about {spoken:.1f} s of speech but the scene lasts "
                       f"{scene.duration:g} s (at most {scene.duration * max_speech_overrun:.1f} s fits, spoken fast): "
                       f"cut lines or shorten them, or make the scene longer")
    if needed > scene.duration * SOFT_SPEECH_OVERRUN:
        return Finding(f"scene {number}: the dialogue needs about {needed:.1f} s to be spoken but the "
                       f"scene lasts {scene.duration:g} s; shorten the lines", hard=False)
    return None


def language_problem(text: str, language: str, ignore: Sequence[str] = ()) -> str | None:
    """A rough check that a text is written in the series language (names, e.g. of the cast, aside).

    Vietnamese is Latin script with tone and vowel marks (precomposed or combining, both read): a
    text whose words are mostly not Vietnamese syllables (English, pinyin) is refused, and so is a
    long one with no mark at all (its diacritics stripped, which the voice and viewers misread)."""
    for name in ignore:
        text = text.replace(name, " ")
    cjk, latin = len(_CJK.findall(text)), len(_LATIN.findall(text))
    if language == "zh" and cjk == 0 and latin >= 3:
        return "is not written in Simplified Chinese"
    words = [w for w in _WORD.findall(text) if not _CJK.search(w)]
    marked = sum(1 for w in words if _vietnamese_marks(w))
    if language == "en" and (cjk > latin or (marked >= 3 and marked >= 0.4 * len(words))):
        return "is not written in English"
    if language == "vi":
        foreign = sum(1 for w in words if not _vietnamese_syllable(w))
        # Half the words no Vietnamese syllable, or none marked and one of them foreign ("Then prove it.").
        if cjk > latin or (len(words) >= 3 and (foreign * 2 >= len(words) or (foreign and not marked))):
            return "is not written in Vietnamese"
        if marked == 0 and len(words) >= _VI_UNMARKED_WORDS:
            return "is Vietnamese without its diacritics; write every word with its full tone and vowel marks"
    return None


def _vietnamese_marks(word: str) -> bool:
    """Whether a word carries a Vietnamese tone or vowel mark (á à ả ã ạ, ă â ê ô ơ ư, đ)."""
    return "đ" in word.lower() or any(unicodedata.combining(ch) for ch in unicodedata.normalize("NFD", word))


def _vietnamese_syllable(word: str) -> bool:
    bare = "".join(ch for ch in unicodedata.normalize("NFD", word.lower().replace("đ", "d"))
                   if not unicodedata.combining(ch))
    return _VI_SYLLABLE.fullmatch(bare) is not None



def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(text: str, limit: int = 1000) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
