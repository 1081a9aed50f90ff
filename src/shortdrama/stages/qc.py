"""QC (rules/qc.smk): the machine half of post-production.

- `choose_take` (per scene): measures every take (FFmpeg's analysis filters, cached by content),
  judges it against the qc group's limits, buys retakes one at a time when every take fails (within
  the budget), and copies the best take to the scene's clip, writing which one and why.
- `check_episode` (per episode): the final's loudness, true peak and A/V length, its subtitle cues
  (one per dialogue line, inside its scene, no overlap, reading speed, width on the frame measured
  with the burn-in font) and each scene's voice (silent lines, clipping, lines that did not fit).

Specs hold thresholds, never provider settings beyond what a retake asks: changing a limit reruns
these two rules and what reads the chosen clip, and never buys anything the cache holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..config import AppConfig, VideoConfig
from ..config.qc import QCConfig
from ..cost.call import Runtime
from ..schemas import EpisodeScript, Scene
from .audio import scene_durations
from .base import Job, Priced, Rule, Series, Spec, encoding
from .clips import ClipSpec


def video_exemptions(video: VideoConfig, camera: str) -> dict[str, bool]:
    """What the video provider is by design. A held keyframe is never "frozen" (video=still, or the
    animatic's static camera, which only holds the picture); a generative model is never still by
    design: a static camera still has people moving in front of it. Drift from the keyframe is a
    generative image-to-video model's failure: the animatic renders its keyframe by construction (its
    moves start on a crop of it), and a text-to-video pipeline starts from no keyframe."""
    renders_keyframe = video.provider in ("animatic", "fake_paid")
    still = renders_keyframe and (video.motion == "none" or camera == "static")
    from_keyframe = not renders_keyframe and not (video.provider == "diffusers" and video.pipeline == "wan22_ti2v")
    return {"still_by_design": still, "starts_from_keyframe": from_keyframe}


@dataclass(frozen=True)
class ChooseTakeSpec(Spec):
    clip: dict  # the scene's first take's ClipSpec: a retake asks the same with its own take and seed
    series_seed: int
    takes: int
    qc: dict
    exemptions: dict
    characters: dict  # name -> reference image paths, for an identity scorer

    @classmethod
    def of(cls, cfg: AppConfig, scene: Scene, references: Mapping[str, Sequence[str]] | None = None) -> "ChooseTakeSpec":
        references = references or {}
        return cls(clip=ClipSpec.of(cfg, scene, 1).to_dict(), series_seed=cfg.seed, takes=cfg.takes,
                   qc=cfg.qc.model_dump(mode="json"), exemptions=video_exemptions(cfg.video, scene.camera),
                   characters={name: list(paths) for name, paths in references.items()})

    def clip_spec(self, take: int) -> ClipSpec:
        return ClipSpec(**self.clip).for_take(take, self.series_seed)

    @property
    def limits(self) -> QCConfig:
        return QCConfig.model_validate(self.qc)


@dataclass(frozen=True)
class EpisodeQCSpec(Spec):
    durations: list
    dialogue: list  # per scene: the lines' texts, as the script has them
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


class ChooseTake(Rule):
    name, scope, reads_script = "choose_take", "scene", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep, sc = wildcards["ep"], wildcards["sc"]
        scene = wf.scene(script, sc)
        p = wf.paths
        references = _references(wf, scene) if wf.cfg.qc.identity.scorer else {}
        outputs = {"mp4": p.clip(ep, sc), "selection": p.selection(ep, sc),
                   **{f"qc{t:02d}": p.take_qc(ep, sc, t) for t in wf.take_numbers}}
        return Job(self.name, {"series": wf.series, "ep": ep, "sc": sc}, ChooseTakeSpec.of(wf.cfg, scene, references),
                   outputs, {"takes": tuple(p.take(ep, sc, t) for t in wf.take_numbers),
                             "keyframe": (p.keyframe(ep, sc),),
                             "references": tuple(path for paths in references.values() for path in paths)})


class CheckEpisode(Rule):
    name, scope, reads_script = "check_episode", "episode", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep = wildcards["ep"]
        p = wf.paths
        scenes = wf.scene_ids(script)
        return Job(self.name, {"series": wf.series, "ep": ep}, EpisodeQCSpec.of(wf.cfg, wf.script(script)),
                   {"qc": p.episode_qc(ep)},
                   {"final": (p.final(ep),), "subtitles": (p.subtitles(ep),),
                    "dialogue": tuple(p.dialogue(ep, sc) for sc in scenes),
                    "cues": tuple(p.cues(ep, sc) for sc in scenes),
                    "selections": tuple(p.selection(ep, sc) for sc in scenes)})


RULES = (ChooseTake(), CheckEpisode())


def retake_jobs(job: Job, retakes: int, runtime: Runtime) -> list[Priced]:
    """The retakes a scene may buy (takes `takes + 1` .. `takes + retakes`), priced like its takes."""
    from .clips import clip_call, clip_estimate

    spec: ChooseTakeSpec = job.spec  # type: ignore[assignment]
    keyframe = Path(job.inputs["keyframe"][0])
    priced = []
    for number in range(spec.takes + 1, spec.takes + retakes + 1):
        clip = spec.clip_spec(number)
        call, video = clip_call(clip, keyframe, job.episode, job.scene, runtime)
        priced.append(Priced(call, video, clip_estimate(clip)(video)))
    return priced


def _references(wf: Series, scene: Scene) -> dict[str, list[str]]:
    """The reference images of the characters on screen, for the identity scorer."""
    ids = {c.name: cid for cid, c in wf.cfg.series.cast.items()}
    images = (".png", ".jpg", ".jpeg", ".webp")
    return {name: [path for path in wf.character_references(ids[name]) if path.lower().endswith(images)]
            for name in scene.characters if name in ids}


def choose_take(spec: str, takes: Sequence[str | Path], keyframe: str | Path, out: str | Path,
                selection: str | Path, take_reports: Sequence[str | Path], episode: int, scene: int,
                runtime: Runtime | None = None) -> None:
    from ..qc.selection import choose
    from .clips import generate_clip

    runtime = runtime or Runtime.from_env()
    chosen = ChooseTakeSpec.from_json(spec)

    def buy(number: int, path: Path) -> None:  # a retake: the same request as take `number` of a bigger build
        generate_clip(chosen.clip_spec(number), keyframe, path, episode, scene, runtime)

    choose(chosen, [Path(t) for t in takes], Path(keyframe), Path(out), Path(selection),
           [Path(r) for r in take_reports], episode, scene, runtime.cache_dir, buy)


def check_episode(spec: str, final: str | Path, subtitles: str | Path, dialogue: Sequence[str | Path],
                  cues: Sequence[str | Path], selections: Sequence[str | Path], out: str | Path, episode: int,
                  runtime: Runtime | None = None) -> None:
    from ..qc.episode import check_episode as check

    runtime = runtime or Runtime.from_env()
    check(EpisodeQCSpec.from_json(spec), Path(final), Path(subtitles), [Path(d) for d in dialogue],
          [Path(c) for c in cues], [Path(s) for s in selections], Path(out), episode, runtime.cache_dir)






__all__ = ["ChooseTakeSpec", "EpisodeQCSpec", "RULES", "check_episode", "choose_take", "video_exemptions"]
