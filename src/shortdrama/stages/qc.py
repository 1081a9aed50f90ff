"""QC (rules/qc.smk): each episode's final checked as delivered: loudness, true peak and A/V length,
its subtitle cues (one per dialogue line, inside its scene, no overlap, reading speed, width on the
frame measured with the burn-in font), each scene's voice (silent lines, clipping, lines that did not
fit) and the scenes none of whose takes passed (stages.takes), into `episode_NN.qc.json`.

The spec holds thresholds: changing one reruns the check only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

from ..config import AppConfig
from ..config.qc import QCConfig
from ..cost.call import Runtime
from ..schemas import EpisodeScript
from .audio import scene_durations
from .base import Job, Rule, Series, Spec, encoding
from .cut import episode_parts


@dataclass(frozen=True)
class EpisodeQCSpec(Spec):
    durations: list
    dialogue: list | None  # per scene: the lines' texts, as the script has them (None: an editor's cut's shots)
    language: str
    loudness_lufs: float
    subtitles: dict
    encoding: dict
    qc: dict

    @classmethod
    def of(cls, cfg: AppConfig, script: EpisodeScript) -> "EpisodeQCSpec":
        return cls(durations=scene_durations(cfg, script),
                   dialogue=[[line.text for line in scene.dialogue] for scene in script.scenes],
                   language=script.language, loudness_lufs=cfg.render.loudness_lufs,
                   subtitles=cfg.render.subtitles.model_dump(mode="json"), encoding=encoding(cfg),
                   qc=cfg.qc.model_dump(mode="json"))

    @property
    def limits(self) -> QCConfig:
        return QCConfig.model_validate(self.qc)


class CheckEpisode(Rule):
    name, scope, reads_script = "check_episode", "episode", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep = wildcards["ep"]
        p = wf.paths
        parts = episode_parts(wf, script, ep)
        spec = EpisodeQCSpec.of(wf.cfg, wf.script(script))
        if parts.cut:  # the editor's shots: their lengths; their lines are those their cues kept
            spec = replace(spec, durations=parts.durations, dialogue=None)
        return Job(self.name, {"series": wf.series, "ep": ep}, spec, {"qc": p.episode_qc(ep)},
                   {"final": (p.final(ep),), "subtitles": (p.subtitles(ep),), "dialogue": parts.voices,
                    "cues": parts.cues, "selections": parts.selections})


RULES = (CheckEpisode(),)


def check_episode(spec: str, final: str | Path, subtitles: str | Path, dialogue: Sequence[str | Path],
                  cues: Sequence[str | Path], selections: Sequence[str | Path], out: str | Path, episode: int,
                  runtime: Runtime | None = None) -> None:
    from ..qc.episode import check_episode as check

    runtime = runtime or Runtime.from_env()
    checked = EpisodeQCSpec.from_json(spec)
    if checked.dialogue is None:  # an editor's cut: each shot's lines are the ones its cues kept
        checked = replace(checked, dialogue=[[c["text"] for c in json.loads(Path(f).read_text(encoding="utf-8"))]
                                             for f in cues])
    check(checked, Path(final), Path(subtitles), [Path(d) for d in dialogue],
          [Path(c) for c in cues], [Path(s) for s in selections], Path(out), episode, runtime.cache_dir)


__all__ = ["EpisodeQCSpec", "RULES", "check_episode"]
