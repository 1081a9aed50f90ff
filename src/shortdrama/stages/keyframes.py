"""Keyframes (rules/keyframes.smk): one storyboard keyframe per scene, procedural or from a local
diffusion model with the LoRAs of the characters on screen.

The script is an ordering-only input of the rule: the scene's own slice is in the spec, so a
dialogue edit redraws nothing and a look edit redraws only that character's scenes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Mapping, Sequence

from ..config import AppConfig, ImageConfig
from ..cost import pricing as price
from ..cost.call import Call, Produce, Runtime, provider_call
from ..model_paths import resolve_model
from ..schemas import Scene
from .base import Job, Priced, Rule, Series, Spec, cast_by_name



@dataclass(frozen=True)
class KeyframeSpec(Spec):
    scene: dict
    characters: list
    image: dict
    size: list
    seed: int
    lora_weight: float | None
    PROVIDER_GROUP: ClassVar[str] = "image"

    @classmethod
    def of(cls, cfg: AppConfig, scene: Scene) -> "KeyframeSpec":
        cast = cast_by_name(cfg)
        # The role is left out: it changes nothing in the picture, so editing it must redraw nothing.
        characters = [{"id": cast[name][1], "name": name, "look": cast[name][2].look, "gender": cast[name][2].gender}
                      for name in scene.characters if name in cast]
        return cls(
            scene={"location": scene.location.model_dump(mode="json"), "action": scene.action, "camera": scene.camera},
            characters=characters, image=cfg.image.result_fields(), size=[cfg.render.width, cfg.render.height],
            seed=cfg.seed, lora_weight=cfg.lora.weight if cfg.lora.enabled else None)


class GenerateKeyframe(Rule):
    name, scope, reads_script = "generate_keyframe", "scene", True

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep, sc = wildcards["ep"], wildcards["sc"]
        return Job(self.name, {"series": wf.series, "ep": ep, "sc": sc},
                   KeyframeSpec.of(wf.cfg, wf.scene(script, sc)), {"png": wf.paths.keyframe(ep, sc)},
                   {"loras": tuple(wf.keyframe_loras(script, sc))})

    def price(self, job: Job, runtime: Runtime) -> Priced:
        call, image = keyframe_call(job.spec, job.episode, job.scene, runtime, [Path(p) for p in job.inputs["loras"]])
        return Priced(call, image, keyframe_estimate(image))


RULES = (GenerateKeyframe(),)


def keyframe_call(spec: KeyframeSpec, episode: int, scene: int, runtime: Runtime,
                  loras: Sequence[Path] = ()) -> tuple[Call, ImageConfig]:
    inputs = {f"lora_{Path(p).parent.name}": Path(p) for p in loras}
    call = Call(rule="generate_keyframe", step="keyframe", version=1, request=spec.request(), inputs=inputs,
                episode=episode, scene=scene)
    return call, spec.provider(ImageConfig, runtime)


def keyframe_estimate(image: ImageConfig) -> float:
    return price.image_cost(image.pricing)


def produce_keyframe(spec: KeyframeSpec, loras: Sequence[Path] = ()) -> Produce:
    def produce(image: ImageConfig, outputs: dict[str, Path]) -> None:
        from ..keyframes.base import CharacterLook, KeyframeRequest
        from ..keyframes.procedural import ProceduralKeyframes

        if image.provider == "diffusers":
            return _diffusion_keyframe(spec, image, loras, outputs["png"])
        scene = spec.scene
        request = KeyframeRequest(
            setting=scene["location"]["setting"], place=scene["location"]["description"], action=scene["action"],
            camera=scene["camera"],
            characters=tuple(CharacterLook(name=c["name"], slug=c["id"], look=c["look"], gender=c["gender"])
                             for c in spec.characters),
            width=spec.size[0], height=spec.size[1], seed=spec.seed, caption=scene["action"],
        )
        ProceduralKeyframes(show_caption=image.captions, show_name_tags=image.name_tags).generate(request, outputs["png"])

    return produce


def _diffusion_keyframe(spec: KeyframeSpec, image: ImageConfig, loras: Sequence[Path], out: Path) -> None:
    from ..keyframes.diffusion import CharacterAdapter, generate_keyframe
    from ..lora.dataset import trigger_token
    from ..video.prompt import video_prompt

    scene = spec.scene
    prompt = video_prompt(scene["camera"], scene["location"]["setting"], scene["location"]["description"],
                          scene["action"], spec.characters)
    adapters = [CharacterAdapter(name=Path(p).parent.name, path=Path(p), trigger=trigger_token(Path(p).parent.name))
                for p in loras]
    generate_keyframe(resolve_model(image.model_dir, "image"), prompt, "blurry, low quality, watermark, text", adapters,
                      spec.lora_weight or 0.0, image.steps, image.guidance, (image.gen_width, image.gen_height),
                      tuple(spec.size), spec.seed, out, family=image.family, scheduler=image.scheduler)


def generate_keyframe(spec: str, out: str | Path, episode: int = 0, scene: int = 0, loras: Sequence[str | Path] = (),
                      runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    keyframe, adapters = KeyframeSpec.from_json(spec), [Path(p) for p in loras]
    call, image = keyframe_call(keyframe, episode, scene, runtime, adapters)
    provider_call(runtime, call, image, keyframe_estimate, produce_keyframe(keyframe, adapters), {"png": Path(out)})
