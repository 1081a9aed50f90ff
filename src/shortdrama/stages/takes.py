"""Takes (rules/takes.smk): each scene's takes measured (FFmpeg's analysis filters, cached by content)
and judged against the qc group's limits; retakes bought one at a time while every take fails (within
the budget); the best take copied to the scene's clip, with which one and why (shortdrama.qc.selection).

The spec holds thresholds and the first take's clip spec (what a retake asks, with its own take and
seed): changing a limit reruns this rule and what reads the chosen clip, and never buys what the
cache holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..config import AppConfig, VideoConfig
from ..config.qc import QCConfig
from ..cost.call import Runtime
from ..schemas import Scene
from .base import Job, Priced, Rule, Series, Spec
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
    pick: int | None = None  # the take a person picked in the decisions file (shortdrama.review)

    @classmethod
    def of(cls, cfg: AppConfig, scene: Scene, references: Mapping[str, Sequence[str]] | None = None,
           pick: int | None = None) -> "ChooseTakeSpec":
        references = references or {}
        return cls(clip=ClipSpec.of(cfg, scene, 1).to_dict(), series_seed=cfg.seed, takes=cfg.takes,
                   qc=cfg.qc.model_dump(mode="json"), exemptions=video_exemptions(cfg.video, scene.camera),
                   characters={name: list(paths) for name, paths in references.items()}, pick=pick)

    def clip_spec(self, take: int) -> ClipSpec:
        return ClipSpec(**self.clip).for_take(take, self.series_seed)

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
        decision = wf.decisions.of(int(ep), int(sc))
        outputs = {"mp4": p.clip(ep, sc), "selection": p.selection(ep, sc),
                   **{f"qc{t:02d}": p.take_qc(ep, sc, t) for t in wf.take_numbers}}
        return Job(self.name, {"series": wf.series, "ep": ep, "sc": sc},
                   ChooseTakeSpec.of(wf.cfg, scene, references, decision.take if decision else None),
                   outputs, {"takes": tuple(p.take(ep, sc, t) for t in wf.take_numbers),
                             "keyframe": (p.keyframe(ep, sc),),
                             "references": tuple(path for paths in references.values() for path in paths)})


RULES = (ChooseTake(),)


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
    """The reference images of the characters on screen, for the identity scorer: the photos the cast
    entry gives, or the generated set where character LoRAs make one (otherwise nothing makes it)."""
    cast = wf.cfg.series.cast
    ids = {c.name: cid for cid, c in cast.items()}
    images = (".png", ".jpg", ".jpeg", ".webp")
    return {name: [path for path in wf.character_references(ids[name]) if path.lower().endswith(images)]
            for name in scene.characters if name in ids and (cast[ids[name]].references or wf.cfg.lora.enabled)}


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


__all__ = ["ChooseTakeSpec", "RULES", "choose_take", "retake_jobs", "video_exemptions"]
