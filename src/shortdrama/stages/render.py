"""Render (rules/render.smk): the episode's subtitles from the dialogue cues (SRT, WebVTT and the styled
ASS), then the final file: clips concatenated, the mix as AAC, the SRT as a soft mov_text track and
the ASS burned in."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

from ..config import AppConfig
from ..provenance import outdated_name
from .audio import scene_durations
from .base import Job, Rule, Series, Spec, encoding
from .cut import episode_parts



@dataclass(frozen=True)
class SubtitlesSpec(Spec):
    durations: list
    style: dict  # render.subtitles but the soft/burn switches: the ASS file's style
    language: str  # the ASS file's font when render.subtitles.font is null
    frame: list  # [width, height]: where the ASS breaks a CJK line too wide for the frame

    @classmethod
    def of(cls, cfg: AppConfig, script) -> "SubtitlesSpec":  # noqa: ANN001 - an EpisodeScript
        return cls(scene_durations(cfg, script), cfg.render.subtitles.model_dump(mode="json", exclude={"soft", "burn"}),
                   script.language, [cfg.render.width, cfg.render.height])


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
        parts = episode_parts(wf, script, ep)  # the scenes, or an editor's cut's shots
        spec = replace(SubtitlesSpec.of(wf.cfg, wf.script(script)), durations=parts.durations)
        return Job(self.name, {"series": wf.series, "ep": ep}, spec,
                   {"srt": wf.paths.subtitles(ep), "vtt": wf.paths.subtitles_vtt(ep), "ass": wf.paths.subtitles_ass(ep)},
                   {"cues": parts.cues})


class RenderEpisode(Rule):
    name, scope, reads_script = "render_episode", "episode", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep = wildcards["ep"]
        p = wf.paths
        parts = episode_parts(wf, script, ep)  # the scenes, or an editor's cut's shots
        return Job(self.name, {"series": wf.series, "ep": ep},
                   replace(RenderSpec.of(wf.cfg, wf.script(script)), durations=parts.durations), {"mp4": p.final(ep)},
                   {"clips": parts.videos, "audio": (parts.mix,), "subtitles": (p.subtitles(ep),),
                    "ass": (p.subtitles_ass(ep),)},
                   deliverable=True)


RULES = (WriteSubtitles(), RenderEpisode())


def write_subtitles(spec: str, cue_files: Sequence[str | Path], srt: str | Path, vtt: str | Path,
                    ass: str | Path) -> None:
    from functools import partial

    from ..fonts import font_file
    from ..qc.text_fit import cjk_lines
    from ..subtitles import SubtitleStyle, episode_cues, write_episode_subtitles

    job = SubtitlesSpec.from_json(spec)
    style = SubtitleStyle.of(job.style)
    font = font_file(style.font, job.language)  # a font libass cannot find is one clear error, not a blank burn
    lines_of = partial(cjk_lines, font_size=style.font_size, frame_width=job.frame[0], frame_height=job.frame[1],
                       margin_l=style.margin_l, margin_r=style.margin_r, font=font)
    scenes = [json.loads(Path(path).read_text(encoding="utf-8")) for path in cue_files]
    write_episode_subtitles(episode_cues(scenes, job.durations), style, job.language, srt, vtt, ass, lines_of)


def render_episode(spec: str, clips: Sequence[str | Path], audio: str | Path, subtitles: str | Path,
                   ass: str | Path, out: str | Path) -> None:
    from ..render import EpisodeRender, render_episode as render

    render(EpisodeRender.from_spec(json.loads(spec), [Path(c) for c in clips], Path(audio), Path(subtitles), Path(ass)),
           Path(out))
    outdated_name(out).unlink(missing_ok=True)  # the final it replaces (see provenance.remove_stale)
