"""A deterministic melodrama writer: no network, no key, the same scripts for the same config and seed.

It follows the short-drama formula (hook -> conflict -> turn -> cliffhanger), honours the cast,
the episode count, the scene count and duration ranges, and sizes every line of dialogue to fit
its scene when spoken. Every line says how it is spoken (an emotion and, where it needs one, a
delivery: phrasebook.LINE_HINTS), by its wording and the beat it belongs to.
"""

from __future__ import annotations

import random

from ..errors import ProviderError
from ..schemas import DialogueLine, EpisodeOutline, EpisodeScript, Location, Outline, Scene
from .base import SeriesBrief
from .phrasebook import LINE_HINTS, PHRASEBOOK, SPEECH_UNITS_PER_SECOND, speech_units

ARC_MOODS = {"opening": ("mysterious", "tense"), "middle": ("angry", "sad", "romantic", "tense"),
             "finale": ("triumphant", "hopeful")}
BEAT_CAMERAS = {"hook": ("close-up", "zoom-in", "wide"), "conflict": ("medium", "pan", "tilt", "static"),
                "turn": ("medium", "zoom-out", "pan"), "cliffhanger": ("zoom-in", "close-up")}


class OfflineWriter:
    def write_outline(self, series: SeriesBrief) -> Outline:
        book = _book(series.language)
        rng = random.Random(f"outline:{series.seed}:{series.name}:{series.theme}")
        names = _roles(series)
        fill = dict(names, theme=series.theme.rstrip("。. "), lead_first=names["lead"].split()[0])
        episodes = []
        for number in range(1, series.episodes + 1):
            arc = "opening" if number == 1 else "finale" if number == series.episodes and number > 1 else "middle"
            episodes.append(EpisodeOutline(
                episode=number,
                title=book["episode_titles"][(number - 1) % len(book["episode_titles"])],
                hook=rng.choice(book["hooks"]).format(**fill),
                conflict=rng.choice(book["conflicts"]).format(**fill),
                cliffhanger=rng.choice(book["cliffhangers"]).format(**fill),
                mood=rng.choice(ARC_MOODS[arc]),
            ))
        plot_points = rng.sample(book["plot_points"], k=min(len(book["plot_points"]), rng.randint(3, 5)))
        return Outline(
            series_title=rng.choice(book["titles"]).format(**fill),
            synopsis=book["synopsis"][0].format(**fill),
            language=series.language,
            main_plot_points=[p.format(**fill) for p in plot_points],
            episodes=episodes,
        )

    def write_episode(self, series: SeriesBrief, outline: Outline, episode: EpisodeOutline) -> EpisodeScript:
        book = _book(series.language)
        rng = random.Random(f"episode:{series.seed}:{series.name}:{episode.episode}:{episode.hook}")
        cast = series.cast_names
        count = rng.randint(series.scenes_min, series.scenes_max)
        beats = _beats(count)
        locations = rng.sample(book["locations"], k=min(len(book["locations"]), max(1, count // 2 + 1)))
        scenes = []
        for index, beat in enumerate(beats):
            duration = rng.randint(series.scene_seconds_min, series.scene_seconds_max)
            present = _present(cast, beat, rng)
            setting, place = locations[min(index * len(locations) // count, len(locations) - 1)]
            a, b = present[0], present[1 % len(present)]
            scenes.append(Scene(
                location=Location(setting=setting, description=place),
                duration=float(duration),
                characters=present,
                dialogue=_dialogue(book, series.language, beat, present, duration, rng),
                action=rng.choice(book["actions"][beat]).format(a=a, b=b),
                camera=rng.choice(BEAT_CAMERAS[beat]),
            ))
        return EpisodeScript(
            episode=episode.episode, title=episode.title, language=series.language, mood=episode.mood, scenes=scenes,
        )


def _book(language: str) -> dict:
    if language not in PHRASEBOOK:
        raise ProviderError(f"the offline writer writes {', '.join(PHRASEBOOK)}; not {language!r}")
    return PHRASEBOOK[language]


def _roles(series: SeriesBrief) -> dict[str, str]:
    """The first cast member leads, the second opposes, the third (or the first again) is the ally."""
    names = series.cast_names
    return {"lead": names[0], "rival": names[1 % len(names)], "ally": names[2 % len(names)]}


def _beats(count: int) -> list[str]:
    if count == 1:
        return ["cliffhanger"]
    middle = ["conflict" if i % 2 == 0 else "turn" for i in range(count - 2)]
    return ["hook", *middle, "cliffhanger"]


def _present(cast: list[str], beat: str, rng: random.Random) -> list[str]:
    if len(cast) == 1:
        return cast[:]
    lead, others = cast[0], cast[1:]
    if beat == "hook":
        return [lead, rng.choice(others)]
    extra = rng.sample(others, k=min(len(others), rng.choice((1, 1, 2))))
    return [lead, *extra] if rng.random() < 0.7 else [*extra, lead]


def _dialogue(book: dict, language: str, beat: str, present: list[str], duration: int, rng: random.Random) -> list[DialogueLine]:
    """As many lines as the scene can hold when spoken, at least one; speakers alternate. Each line keeps
    its hints (LINE_HINTS); shuffling the pairs draws what shuffling the texts alone drew."""
    budget = (duration - 0.6) * SPEECH_UNITS_PER_SECOND[language]
    pool = list(zip(book["lines"][beat], LINE_HINTS[beat], strict=True))
    rng.shuffle(pool)
    lines: list[DialogueLine] = []
    for text, (emotion, delivery) in pool:
        size = speech_units(text, language) + SPEECH_UNITS_PER_SECOND[language] * 0.3
        if lines and size > budget:
            break
        speaker = present[len(lines) % len(present)]
        lines.append(DialogueLine(speaker=speaker, text=text, emotion=emotion, delivery=delivery))
        budget -= size
    return lines
