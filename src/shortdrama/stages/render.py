"""Render (rules/render.smk): the episode's subtitles from the dialogue cues, then the final file:
clips concatenated, the mix as AAC, subtitles as a soft mov_text track and burned in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..config import AppConfig
from ..media import write_text_atomic
from ..provenance import outdated_name
from .audio import scene_durations
from .base import Job, Rule, Series, Spec, encoding
from .lipsync import scene_video



@dataclass(frozen=True)
class SubtitlesSpec(Spec):
    durations: list

    @classmethod
    def of(cls, cfg: AppConfig, script) -> "SubtitlesSpec":  # noqa: ANN001 - an EpisodeScript
        return cls(scene_durations(cfg, script))


@dataclass(frozen=True)
class RenderSpec(Spec):
    encoding: dict
    audio_bitrate: str
    subtitles: dict
    language: str
    title: str
    durations: list

    @classmethod
    def of(cls, cfg: AppConfig, script) -> "RenderSpec":  # noqa: ANN001 - an EpisodeScript
        return cls(encoding=encoding(cfg), audio_bitrate=cfg.render.audio_bitrate,
                   subtitles=cfg.render.subtitles.model_dump(mode="json"), language=script.language,
                   title=script.title, durations=scene_durations(cfg, script))


class WriteSubtitles(Rule):
    name, scope, reads_script = "write_subtitles", "episode", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep = wildcards["ep"]
        return Job(self.name, {"series": wf.series, "ep": ep}, SubtitlesSpec.of(wf.cfg, wf.script(script)),
                   {"srt": wf.paths.subtitles(ep)}, {"cues": tuple(wf.paths.cues(ep, sc) for sc in wf.scene_ids(script))})


class RenderEpisode(Rule):
    name, scope, reads_script = "render_episode", "episode", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep = wildcards["ep"]
        p = wf.paths
        return Job(self.name, {"series": wf.series, "ep": ep}, RenderSpec.of(wf.cfg, wf.script(script)),
                   {"mp4": p.final(ep)},
                   {"clips": tuple(scene_video(wf, script, ep, sc) for sc in wf.scene_ids(script)), "audio": (p.mix(ep),),
                    "subtitles": (p.subtitles(ep),)},
                   deliverable=True)


RULES = (WriteSubtitles(), RenderEpisode())


def write_subtitles(spec: str, cue_files: Sequence[str | Path], out: str | Path) -> None:
    from ..subtitles import episode_cues, format_srt

    durations = SubtitlesSpec.from_json(spec).durations
    scenes = [json.loads(Path(path).read_text(encoding="utf-8")) for path in cue_files]
    write_text_atomic(out, format_srt(episode_cues(scenes, durations)))


def render_episode(spec: str, clips: Sequence[str | Path], audio: str | Path, subtitles: str | Path,
                   out: str | Path) -> None:
    from ..render import EpisodeRender, render_episode as render

    render(EpisodeRender.from_spec(json.loads(spec), [Path(c) for c in clips], Path(audio), Path(subtitles)), Path(out))
    outdated_name(out).unlink(missing_ok=True)  # the final it replaces (see provenance.remove_stale)
