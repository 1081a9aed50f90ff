"""The editor's cut (rules/cut.smk): where an episode has edit decisions (shortdrama.cut.decisions), each
shot is its scene's video, voice and cues trimmed to [in, out] (`cut_shot`), and the mix is cut to the
shots in their order (`cut_mix`). The episode's subtitles, render, checks and delivery then read the
shots instead of the scenes (`episode_parts`); an episode without an edit reads its scenes as before,
so its specs do not change. No provider is called: an edit costs $0 and reruns only its episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .audio import scene_durations
from .base import Job, Rule, Series, Spec, encoding
from .lipsync import scene_video


@dataclass(frozen=True)
class EpisodeParts:
    """What an episode is made of, in order: its scenes, or the shots of its cut."""

    videos: tuple[str, ...]
    voices: tuple[str, ...]
    cues: tuple[str, ...]
    selections: tuple[str, ...]  # the scene each part comes from: its QC choice
    mix: str
    durations: list
    cut: bool


def episode_parts(wf: Series, script: str, ep: str) -> EpisodeParts:
    p = wf.paths
    shots = wf.episode_cut(ep, script)
    if shots is None:
        scenes = wf.scene_ids(script)
        return EpisodeParts(tuple(scene_video(wf, script, ep, sc) for sc in scenes),
                            tuple(p.dialogue(ep, sc) for sc in scenes), tuple(p.cues(ep, sc) for sc in scenes),
                            tuple(p.selection(ep, sc) for sc in scenes), p.mix(ep),
                            scene_durations(wf.cfg, wf.script(script)), False)
    ids = [f"{n:02d}" for n in range(1, len(shots) + 1)]
    return EpisodeParts(tuple(p.cut_shot(ep, i)["mp4"] for i in ids), tuple(p.cut_shot(ep, i)["wav"] for i in ids),
                        tuple(p.cut_shot(ep, i)["cues"] for i in ids),
                        tuple(p.selection(ep, f"{s.scene:02d}") for s in shots), p.cut_mix(ep),
                        [round(s.duration, 6) for s in shots], True)


@dataclass(frozen=True)
class CutShotSpec(Spec):
    scene: int
    start: float
    end: float
    encoding: dict


@dataclass(frozen=True)
class CutMixSpec(Spec):
    segments: list  # [start, end] on the full episode's clock, in the cut's order


class CutShot(Rule):
    name, scope, reads_script = "cut_shot", "shot", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep, shot = wildcards["ep"], wildcards["shot"]
        chosen = wf.episode_cut(ep, script)[int(shot) - 1]
        sc = f"{chosen.scene:02d}"
        return Job(self.name, {"series": wf.series, "ep": ep, "shot": shot},
                   CutShotSpec(chosen.scene, chosen.start, chosen.end, encoding(wf.cfg)), wf.paths.cut_shot(ep, shot),
                   {"video": (scene_video(wf, script, ep, sc),), "voice": (wf.paths.dialogue(ep, sc),),
                    "cues": (wf.paths.cues(ep, sc),)})


class CutMix(Rule):
    name, scope, reads_script = "cut_mix", "episode", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep = wildcards["ep"]
        from ..qc.episode import offsets

        starts = offsets(scene_durations(wf.cfg, wf.script(script)))
        shots = wf.episode_cut(ep, script) or []
        segments = [[round(starts[s.scene - 1] + s.start, 6), round(starts[s.scene - 1] + s.end, 6)] for s in shots]
        return Job(self.name, {"series": wf.series, "ep": ep}, CutMixSpec(segments),
                   {"wav": wf.paths.cut_mix(ep), "music": wf.paths.cut_music(ep)},
                   {"mix": (wf.paths.mix(ep),), "music": (wf.paths.music(ep),)})

    def wanted(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> bool:
        return script is not None and wf.episode_cut(wildcards["ep"], script) is not None


RULES = (CutShot(), CutMix())


def cut_shot(spec: str, video: str | Path, voice: str | Path, cues: str | Path, outputs: Mapping[str, str]) -> None:
    from ..cut.media import cut_video, cut_wav, write_cut_cues
    from ..video.base import Encoding

    shot = CutShotSpec.from_json(spec)
    out = {name: Path(path) for name, path in outputs.items()}
    cut_video(Path(video), shot.start, shot.end, Encoding.from_spec(shot.encoding), out["mp4"])
    cut_wav(Path(voice), shot.start, shot.end, out["wav"])
    write_cut_cues(Path(cues), shot.start, shot.end, out["cues"])


def cut_mix(spec: str, mix: str | Path, music: str | Path, out: str | Path, music_out: str | Path) -> None:
    """The mix and its music stem, each cut to the shots in their order."""
    from ..cut.media import cut_mix as cut

    segments = [tuple(s) for s in CutMixSpec.from_json(spec).segments]
    cut(Path(mix), segments, Path(out))
    cut(Path(music), segments, Path(music_out))
