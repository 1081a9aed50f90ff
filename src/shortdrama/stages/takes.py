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
    # The scene's first take's ClipSpec (a retake asks the same with its own take and seed); for a
    # picked take, the picked take's (what its approval records).
    clip: dict
    series_seed: int
    takes: int
    qc: dict
    exemptions: dict
    characters: dict  # name -> reference image paths, for an identity scorer
    pick: int | None = None  # the take a person picked in the decisions file (shortdrama.review)
    # Review: takes asked with a note (numbered after `takes`); the takes the inputs are, where not
    # 1..takes; "keyframes" while the scene's keyframe awaits approval (no take is bought).
    notes: tuple[str, ...] = ()
    numbers: tuple[int, ...] | None = None
    gated: str | None = None

    @classmethod
    def of(cls, cfg: AppConfig, scene: Scene, references: Mapping[str, Sequence[str]] | None = None,
           pick: int | None = None, clip: ClipSpec | None = None, notes: Sequence[str] = (),
           numbers: Sequence[int] | None = None, gated: str | None = None) -> "ChooseTakeSpec":
        references = references or {}
        default = tuple(range(1, cfg.takes + 1))
        return cls(clip=(clip or ClipSpec.of(cfg, scene, 1)).to_dict(), series_seed=cfg.seed, takes=cfg.takes,
                   qc=cfg.qc.model_dump(mode="json"), exemptions=video_exemptions(cfg.video, scene.camera),
                   characters={name: list(paths) for name, paths in references.items()}, pick=pick,
                   notes=tuple(notes), numbers=None if numbers is None or tuple(numbers) == default else tuple(numbers),
                   gated=gated)

    def to_dict(self) -> dict:
        """Without the review fields a scene with no decision leaves empty: its spec is what it was
        before review existed, so an upgrade reruns nothing."""
        spec = super().to_dict()
        for name, empty in (("notes", ()), ("numbers", None), ("gated", None)):
            if spec[name] == empty:
                del spec[name]
        return spec

    @classmethod
    def from_json(cls, text: str) -> "ChooseTakeSpec":
        import json

        data = json.loads(text)
        data["notes"] = tuple(data.get("notes", ()))
        if data.get("numbers") is not None:
            data["numbers"] = tuple(data["numbers"])
        return cls(**data)

    @property
    def take_numbers(self) -> tuple[int, ...]:
        """The takes the job's inputs are, in order."""
        if self.gated:
            return ()
        return self.numbers if self.numbers is not None else tuple(range(1, self.takes + 1))

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
        decision = wf.decision(ep, sc)
        numbers = wf.takes_of(ep, sc)
        pick = decision.take if decision else None
        spec = ChooseTakeSpec.of(wf.cfg, scene, references, pick,
                                 clip=wf.clip_spec(ep, sc, scene, pick) if pick in numbers else None,
                                 notes=decision.retakes if decision else (), numbers=numbers,
                                 gated=None if wf.keyframe_open(ep, sc) else "keyframes")
        return Job(self.name, {"series": wf.series, "ep": ep, "sc": sc}, spec,
                   {"mp4": p.clip(ep, sc), "selection": p.selection(ep, sc)},
                   {"takes": tuple(p.take(ep, sc, t) for t in numbers), "keyframe": (p.keyframe(ep, sc),),
                    "references": tuple(path for paths in references.values() for path in paths)})


RULES = (ChooseTake(),)


def retake_jobs(job: Job, retakes: int, runtime: Runtime) -> list[Priced]:
    """The retakes a scene may buy (takes `takes + 1` .. `takes + retakes`), priced like its takes."""
    from .clips import clip_call, clip_estimate

    spec: ChooseTakeSpec = job.spec  # type: ignore[assignment]
    if spec.pick is not None or spec.gated:
        return []  # a picked take is kept whatever QC says; a gated scene buys nothing
    keyframe = Path(job.inputs["keyframe"][0])
    priced = []
    first = max(spec.take_numbers) + 1
    for number in range(first, first + retakes):
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
                selection: str | Path, episode: int, scene: int, runtime: Runtime | None = None) -> None:
    from ..qc.selection import choose, hold_keyframe
    from .clips import generate_clip

    runtime = runtime or Runtime.from_env()
    chosen = ChooseTakeSpec.from_json(spec)
    if chosen.gated:
        hold_keyframe(chosen, Path(keyframe), Path(out), Path(selection))
        return

    def buy(number: int, path: Path) -> None:  # a retake: the same request as take `number` of a bigger build
        generate_clip(chosen.clip_spec(number), keyframe, path, episode, scene, runtime)

    choose(chosen, [Path(t) for t in takes], Path(keyframe), Path(out), Path(selection), episode, scene,
           runtime.cache_dir, buy)
    if chosen.pick is not None and runtime.approvals is not None:
        _record_approval(runtime.approvals, chosen, Path(keyframe), episode, scene)


def _record_approval(path: Path, chosen: ChooseTakeSpec, keyframe: Path, episode: int, scene: int) -> None:
    """The first time a pick is honoured, what the picked take was made from; later builds keep it."""
    from ..cost.cache import file_digest
    from ..review.approvals import Approval, load_approvals, record_approval, shot_key

    known = load_approvals(path).get(shot_key(episode, scene))
    if known is not None and known.take == chosen.pick and dict(known.clip) == chosen.clip:
        return  # recorded; the keyframe may have changed since (an approved take reads it as ancient)
    record_approval(path, episode, scene, Approval(chosen.pick, chosen.clip, file_digest(keyframe)))


__all__ = ["ChooseTakeSpec", "RULES", "choose_take", "retake_jobs", "video_exemptions"]
