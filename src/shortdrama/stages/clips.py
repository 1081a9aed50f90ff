"""Clips (rules/clips.smk): `takes` clips per scene from its keyframe (stages.qc picks one), by the
configured video provider:
the offline animatic (or its priced stand-in), a hosted vendor's job API, or a local image-to-video
diffusion model. Every clip shares one encoding, so episodes concatenate by stream copy.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Mapping

from ..config import VIDEO_VENDORS, AppConfig, VideoConfig
from ..cost import pricing as price
from ..cost.call import Billing, Call, Estimate, Produce, Runtime, provider_call
from ..errors import MediaError, ProviderError
from ..fake_paid import count_fake_call
from ..model_paths import resolve_model
from ..schemas import Scene
from ..video.base import on_frames
from ..video.prompt import video_prompt
from ..paths import take_id
from .base import Job, Priced, Rule, Series, Spec, cast_by_name, encoding

if TYPE_CHECKING:
    from ..cost.ledger import LedgerEntry


# Providers that send the clip to a vendor's job API (shortdrama.video.jobs).
HOSTED = frozenset({"job_api", *VIDEO_VENDORS})


def note_seed(seed: int, note: str) -> int:
    """The seed of a take asked in review with a note: from the note, not the take's number, so the
    request stays the same when notes before it are removed or `takes` changes."""
    return int.from_bytes(hashlib.sha256(f"{seed}:note:{note}".encode()).digest()[:4], "big") & 0x7FFFFFFF


def take_seed(seed: int, take: int) -> int:
    """The seed of a scene's take: the series seed for the first take (so a build with one take asks
    what it always asked), one derived from it for the others (never another seed's first take)."""
    if take == 1:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}:take{take}".encode()).digest()[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class ClipSpec(Spec):
    prompt: str
    seed: int
    camera: str
    duration: float
    video: dict
    encoding: dict
    take: int = 1
    note: str = ""  # a retake asked in review: the producer's note, added to the prompt
    PROVIDER_GROUP: ClassVar[str] = "video"

    @classmethod
    def of(cls, cfg: AppConfig, scene: Scene, take: int = 1, note: str = "") -> "ClipSpec":
        cast = cast_by_name(cfg)
        on_screen = [{"name": n, "look": cast[n][2].look} for n in scene.characters if n in cast]
        prompt = video_prompt(scene.camera, scene.location.setting, scene.location.description, scene.action,
                              on_screen)
        return cls(prompt=f"{prompt} Director's note: {note}" if note else prompt,
                   seed=note_seed(cfg.seed, note) if note else take_seed(cfg.seed, take), camera=scene.camera,
                   duration=on_frames(scene.duration, cfg.render.fps), video=cfg.video.result_fields(),
                   encoding=encoding(cfg), take=take, note=note)

    def to_dict(self) -> dict:
        """Without an empty note: a clip asked without one has the spec it had before notes existed."""
        spec = super().to_dict()
        if not self.note:
            del spec["note"]
        return spec

    def request(self) -> dict:
        """The first take asks exactly what a clip asked before takes existed (its cache entries and
        ledger lines stay valid); every other take names its index, beside its own seed. A take asked
        with a review note is the note's (its seed comes from the note), whatever its number."""
        asked = super().request()
        if self.take == 1 or self.note:
            del asked["take"]
        return asked

    def for_take(self, take: int, series_seed: int) -> "ClipSpec":
        """The same scene asked again as take `take` (a retake)."""
        return replace(self, take=take, seed=take_seed(series_seed, take), note="")


class GenerateClip(Rule):
    """One take of a scene's clip: `takes` jobs per scene, each its own provider request."""

    name, scope, reads_script = "generate_clip", "take", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep, sc, take = wildcards["ep"], wildcards["sc"], int(wildcards["take"])
        return Job(self.name, {"series": wf.series, "ep": ep, "sc": sc, "take": take_id(take)},
                   wf.clip_spec(ep, sc, wf.scene(script, sc), take),
                   {"mp4": wf.paths.take(ep, sc, take)}, {"keyframe": (wf.paths.keyframe(ep, sc),)},
                   ancient=("keyframe",) if wf.take_is_approved(ep, sc, take) else ())

    def price(self, job: Job, runtime: Runtime) -> Priced:
        call, video = clip_call(job.spec, Path(job.inputs["keyframe"][0]), job.episode, job.scene, runtime)
        return Priced(call, video, clip_estimate(job.spec)(video))


RULES = (GenerateClip(),)


def clip_call(spec: ClipSpec, keyframe: Path, episode: int, scene: int, runtime: Runtime) -> tuple[Call, VideoConfig]:
    call = Call(rule="generate_clip", step="clip", version=1, request=spec.request(), inputs={"keyframe": keyframe},
                episode=episode, scene=scene, take=spec.take)
    return call, spec.provider(VideoConfig, runtime)


def clip_estimate(spec: ClipSpec) -> Estimate:
    enc = spec.encoding
    return lambda video: price.video_cost(video.pricing, spec.duration, enc["width"], enc["height"])


def produce_clip(spec: ClipSpec, keyframe: Path, call: Call, runtime: Runtime) -> Produce:
    def produce(video: VideoConfig, outputs: dict[str, Path]) -> Billing | None:
        from ..video.animatic import AnimaticVideo
        from ..video.base import ClipRequest, Encoding

        if video.provider in HOSTED:
            return hosted_clip(spec, keyframe, call, video, runtime, outputs["mp4"])
        if video.provider == "diffusers":
            return _local_diffusion_clip(spec, keyframe, video, outputs["mp4"])
        request = ClipRequest(keyframe=keyframe, camera=spec.camera, duration=spec.duration,
                              encoding=Encoding.from_spec(spec.encoding))
        AnimaticVideo(motion=video.motion, strength=video.strength).generate(request, outputs["mp4"])
        if video.provider == "fake_paid":
            count_fake_call("clip", video.model, duration=spec.duration)
            return Billing(seconds=price.billed_seconds(spec.duration, video.pricing.billing_seconds))
        return None

    return produce


def hosted_clip(spec: ClipSpec, keyframe: Path, call: Call, video: VideoConfig, runtime: Runtime, out: Path) -> Billing:
    from ..cost.call import call_key
    from ..http import RetryPolicy
    from ..cost.slots import release_held_slot
    from ..scheduling import cpu_slot
    from ..video.base import Encoding
    from ..video.conform import conform_clip
    from ..video.jobs import ChainEntry, EngineSettings, JobEngine
    from ..video.vendors import adapter
    from ..video.vendors.base import JobRequest, VendorModel

    chain = video.chain()
    enc = spec.encoding
    entries = [ChainEntry(adapter(m.provider), VendorModel(
        base_url=m.base_url or "", model=m.model, api_key_env=m.api_key_env, secret_key_env=m.secret_key_env,
        options=dict(m.options), preset=m.preset), sellable=tuple(m.pricing.billing_seconds)) for m in chain]
    settings = EngineSettings(
        poll_interval_s=video.poll_interval_s, poll_first_s=video.poll_first_s, job_timeout_s=video.job_timeout_s,
        retry=RetryPolicy(max_attempts=video.max_attempts, max_total_s=video.max_total_s, request_timeout_s=video.timeout_s))
    sellable = video.pricing.billing_seconds
    if sellable and spec.duration > max(sellable):
        raise ProviderError(f"scene lasts {spec.duration:g} s but {video.model} sells clips of at most "
                            f"{max(sellable):g} s: shorten or split the scene")
    # The engine asks each model of the chain for a length it sells (a 3 s scene is bought as a 5 s
    # clip, or a 6 s one from a vendor selling 6 and 10 s); conform trims it to the scene.
    request = JobRequest(key=call_key(call, video), prompt=spec.prompt, duration=spec.duration, width=enc["width"],
                         height=enc["height"], fps=enc["fps"], seed=spec.seed, reference_image=keyframe,
                         negative_prompt=video.negative_prompt, with_audio=bool(spec.video.get("own_audio")))
    downloaded = out.with_name(out.stem + ".download.mp4")
    # A failure after the vendor billed the job (its download or conform fails) is no PaidFailure: the
    # job record makes the retry free (the same job is fetched again, never bought again), and the
    # retry's success then bills the job once.
    engine = JobEngine(entries, settings, runtime.cache_dir / "jobs")
    try:
        result = engine.generate(request, downloaded)
        release_held_slot()  # the vendor is done with this job: the next clip may submit while this one conforms
        with cpu_slot(runtime.slots):  # this job holds no core while it waits; its conform takes one
            conform_clip(downloaded, out, Encoding.from_spec(enc), spec.duration, keep_audio=request.with_audio)
    finally:
        engine.close()
        downloaded.unlink(missing_ok=True)
    answered = next(m for m in chain if m.model == result.model)
    seconds = price.billed_seconds(spec.duration, answered.pricing.billing_seconds)
    if result.units is not None and answered.pricing.per_unit > 0:
        # The vendor's own figure for this job beats our price table, which may be out of date.
        return Billing(cost_usd=round(result.units * answered.pricing.per_unit, 6), model=result.model,
                       note=f"{result.vendor} reported {result.units:g} units", seconds=seconds)
    return Billing(cost_usd=price.video_cost(answered.pricing, spec.duration, enc["width"], enc["height"]),
                   model=result.model, seconds=seconds)


def _local_diffusion_clip(spec: ClipSpec, keyframe: Path, video: VideoConfig, out: Path) -> None:
    from ..video.base import Encoding
    from ..video.diffusion import LocalVideoSettings, generate_local_clip

    settings = LocalVideoSettings(
        model_dir=resolve_model(video.model_dir, "video"), pipeline=video.pipeline, steps=video.steps,
        guidance=video.guidance, gen_width=video.gen_width, gen_height=video.gen_height, num_frames=video.num_frames,
        native_fps=video.native_fps, extend=video.extend, negative_prompt=video.negative_prompt,
        cpu_offload=video.cpu_offload)
    report = generate_local_clip(settings, keyframe, spec.prompt, spec.seed, spec.duration,
                                 Encoding.from_spec(spec.encoding), out)
    logging.getLogger(__name__).info("local clip: %s", report.summary())


def check_clip(spec: "ClipSpec | Spec", path: Path, with_audio: bool | None = None) -> None:
    """What every clip must be, from any provider, before it is cached and again before a cached one is
    used: H.264 at the episode's size and frame rate, lasting the scene's frames. The render copies the
    clips' streams one after another, so a clip a frame long or short would shift every later scene
    against its voice and subtitles. Checks on generated clips belong here."""
    from ..media import probe
    from ..video.base import frame_count

    info = probe(path)
    video, enc = info.first("video"), spec.encoding
    if video is None:
        raise MediaError(f"the clip has no video stream ({path.name})")
    problems = []
    if video.codec != "h264":
        problems.append(f"codec {video.codec}, not h264")
    if (video.width, video.height) != (enc["width"], enc["height"]):
        problems.append(f"{video.width}x{video.height}, not {enc['width']}x{enc['height']}")
    if abs(video.fps - enc["fps"]) > 0.01:
        problems.append(f"{video.fps:g} fps, not {enc['fps']}")
    expected = frame_count(spec.duration, enc["fps"]) / enc["fps"]
    # The picture's own length (a clip's own sound ends on an AAC frame, not on the last picture).
    length = video.duration if video.duration and info.first("audio") is not None else info.duration
    if abs(length - expected) > 0.5 / enc["fps"]:
        problems.append(f"{length:.3f} s long, not {expected:.3f} s")
    if with_audio is None:  # a clip asked with its own sound must have kept it
        with_audio = bool(spec.video.get("own_audio"))
    if with_audio and info.first("audio") is None:
        problems.append("no audio stream, though the clip was asked with its own sound (video.own_audio)")
    if problems:
        raise MediaError(f"the clip does not fit the episode: {'; '.join(problems)}")


def _as_approved(call: Call, clip: ClipSpec, video: VideoConfig, runtime: Runtime) -> Call:
    """An approved take asked again (its file lost): with the keyframe it was made from, so the cache
    answers it at $0 whatever the keyframe is now; never bought anew (shortdrama.review.approvals)."""
    from ..cost.call import call_key
    from ..review.approvals import load_approvals, shot_key
    from ..review.decisions import ReviewError

    if runtime.approvals is None or call.episode is None or call.scene is None:
        return call
    approval = load_approvals(runtime.approvals).get(shot_key(call.episode, call.scene))
    if approval is None or approval.take != clip.take or dict(approval.clip) != clip.to_dict():
        return call
    pinned = replace(call, pinned={str(path): approval.keyframe for path in call.inputs.values()})
    cache = runtime.cache
    if cache is None or cache.get(call_key(pinned, video)) is None:
        raise ReviewError(f"ep{call.episode:02d} sc{call.scene:02d}: approved take {clip.take} is gone and the cache no "
                          "longer holds it; remove the pick, or build with review.respect_approvals=false to buy it again")
    return pinned


def generate_clip(spec: str | ClipSpec, keyframe: str | Path, out: str | Path, episode: int = 0, scene: int = 0,
                  runtime: Runtime | None = None) -> "LedgerEntry":
    """One take of a scene's clip (the spec names the take), through the cache, budget and ledger."""
    runtime = runtime or Runtime.from_env()
    clip = spec if isinstance(spec, ClipSpec) else ClipSpec.from_json(spec)
    call, video = clip_call(clip, Path(keyframe), episode, scene, runtime)
    call = _as_approved(call, clip, video, runtime)
    return provider_call(runtime, call, video, clip_estimate(clip), produce_clip(clip, Path(keyframe), call, runtime),
                         {"mp4": Path(out)}, validate=lambda files: check_clip(clip, files["mp4"]))
