"""Lip-sync (rules/lipsync.smk): the chosen clip of each scene with on-screen dialogue sent with the
scene's dialogue track to a hosted lip-sync model (shortdrama.lipsync), the answer conformed to the
episode's encoding. Off by default (`lipsync=none`): the render then reads the chosen clips as before.

One job per synced scene; its call's key holds the clip's and the track's content, so a changed line
resyncs only its own scene, and a rerun whose inputs came back byte-identical is a cache hit. The job
goes through the video job engine: killed mid-poll, the next run polls the same job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Mapping

from ..config import AppConfig, LipsyncConfig
from ..cost import pricing as price
from ..cost.call import Billing, Call, Estimate, Produce, Runtime, provider_call
from ..schemas import Scene
from ..video.base import on_frames
from .base import Job, Priced, Rule, Series, Spec, encoding

if TYPE_CHECKING:
    from ..cost.ledger import LedgerEntry


def speaks_on_screen(scene: Scene) -> bool:
    """A scene with a spoken line by someone in the picture: a voice-over alone has no mouth to sync."""
    on_screen = set(scene.characters)
    return any(line.speaker in on_screen and line.text.strip() for line in scene.dialogue)


def synced(wf: Series, ep: str, sc: str, scene: Scene) -> bool:
    """Whether the scene's clip is lip-synced: lip-sync is on, someone on screen speaks, the clip is a real
    take (a keyframe held while it awaits approval has no take to sync; review.gate), and its speech is not
    its own (video.own_audio: the model moved the mouths with the sound it made)."""
    return (wf.cfg.lipsync.enabled and not wf.cfg.video.own_audio and speaks_on_screen(scene)
            and wf.keyframe_open(ep, sc))


def scene_video(wf: Series, script: str, ep: str, sc: str) -> str:
    """The video of the scene that the render reads: its lip-synced clip, or the clip QC chose."""
    return wf.paths.lipsync(ep, sc) if synced(wf, ep, sc, wf.scene(script, sc)) else wf.paths.clip(ep, sc)


@dataclass(frozen=True)
class LipsyncSpec(Spec):
    duration: float
    encoding: dict
    lipsync: dict
    PROVIDER_GROUP: ClassVar[str] = "lipsync"

    @classmethod
    def of(cls, cfg: AppConfig, scene: Scene) -> "LipsyncSpec":
        return cls(duration=on_frames(scene.duration, cfg.render.fps), encoding=encoding(cfg),
                   lipsync=cfg.lipsync.result_fields())


class SyncLips(Rule):
    name, scope, reads_script = "sync_lips", "scene", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep, sc = wildcards["ep"], wildcards["sc"]
        return Job(self.name, {"series": wf.series, "ep": ep, "sc": sc}, LipsyncSpec.of(wf.cfg, wf.scene(script, sc)),
                   {"mp4": wf.paths.lipsync(ep, sc)},
                   {"clip": (wf.paths.clip(ep, sc),), "dialogue": (wf.paths.dialogue(ep, sc),)})

    def wanted(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> bool:
        return script is not None and synced(wf, wildcards["ep"], wildcards["sc"], wf.scene(script, wildcards["sc"]))

    def price(self, job: Job, runtime: Runtime) -> Priced:
        call, lipsync = lipsync_call(job.spec, Path(job.inputs["clip"][0]), Path(job.inputs["dialogue"][0]),
                                     job.episode, job.scene, runtime)
        return Priced(call, lipsync, lipsync_estimate(job.spec)(lipsync))


RULES = (SyncLips(),)


def lipsync_call(spec: LipsyncSpec, clip: Path, dialogue: Path, episode: int | None, scene: int | None,
                 runtime: Runtime) -> tuple[Call, LipsyncConfig]:
    call = Call(rule="sync_lips", step="lipsync", version=1, request=spec.request(),
                inputs={"clip": clip, "dialogue": dialogue}, episode=episode, scene=scene)
    return call, spec.provider(LipsyncConfig, runtime)


def lipsync_estimate(spec: LipsyncSpec) -> Estimate:
    enc = spec.encoding
    return lambda lipsync: price.video_cost(lipsync.pricing, spec.duration, enc["width"], enc["height"])


def produce_lipsync(spec: LipsyncSpec, clip: Path, dialogue: Path, call: Call, runtime: Runtime) -> Produce:
    def produce(lipsync: LipsyncConfig, outputs: dict[str, Path]) -> Billing:
        from ..cost.call import call_key
        from ..cost.slots import release_held_slot
        from ..http import RetryPolicy
        from ..lipsync.fal import ADAPTER
        from ..scheduling import cpu_slot
        from ..video.base import Encoding
        from ..video.conform import conform_clip
        from ..video.jobs import ChainEntry, EngineSettings, JobEngine
        from ..video.vendors.base import JobRequest, VendorModel

        enc = spec.encoding
        entry = ChainEntry(ADAPTER, VendorModel(base_url=lipsync.base_url or "", model=lipsync.model,
                                                api_key_env=lipsync.api_key_env, options=dict(lipsync.options),
                                                preset=lipsync.preset))
        settings = EngineSettings(
            poll_interval_s=lipsync.poll_interval_s, poll_first_s=lipsync.poll_first_s,
            job_timeout_s=lipsync.job_timeout_s,
            retry=RetryPolicy(max_attempts=lipsync.max_attempts, max_total_s=lipsync.max_total_s,
                              request_timeout_s=lipsync.timeout_s))
        request = JobRequest(key=call_key(call, lipsync), prompt="", duration=spec.duration, width=enc["width"],
                             height=enc["height"], fps=enc["fps"], seed=0, reference_image=None,
                             source_video=clip, audio=dialogue)
        out = outputs["mp4"]
        downloaded = out.with_name(out.stem + ".download.mp4")
        engine = JobEngine([entry], settings, runtime.cache_dir / "jobs")
        try:
            engine.generate(request, downloaded)
            release_held_slot()
            with cpu_slot(runtime.slots):
                conform_clip(downloaded, out, Encoding.from_spec(enc), spec.duration)
        finally:
            engine.close()
            downloaded.unlink(missing_ok=True)
        return Billing(cost_usd=price.video_cost(lipsync.pricing, spec.duration, enc["width"], enc["height"]),
                       model=lipsync.model, seconds=spec.duration)

    return produce


def sync_lips(spec: str | LipsyncSpec, clip: str | Path, dialogue: str | Path, out: str | Path, episode: int = 0,
              scene: int = 0, runtime: Runtime | None = None) -> "LedgerEntry":
    """The scene's clip with its speakers' mouths synced to its dialogue, through the cache, budget and ledger."""
    from .clips import check_clip

    runtime = runtime or Runtime.from_env()
    lips = spec if isinstance(spec, LipsyncSpec) else LipsyncSpec.from_json(spec)
    call, lipsync = lipsync_call(lips, Path(clip), Path(dialogue), episode, scene, runtime)
    return provider_call(runtime, call, lipsync, lipsync_estimate(lips),
                         produce_lipsync(lips, Path(clip), Path(dialogue), call, runtime), {"mp4": Path(out)},
                         validate=lambda files: check_clip(lips, files["mp4"], with_audio=False))
