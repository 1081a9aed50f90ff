"""Characters (rules/characters.smk, `lora=`): a generated reference set for a character given no
photos, one LoRA per character on screen trained on its references, and a contact sheet of what it
learned. Every step is a provider call (cache-keyed, priced, ledgered like the others)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence

from ..config import AppConfig, ImageConfig
from ..cost import pricing as price
from ..cost.call import Call, Estimate, Produce, Runtime, call_key, provider_call
from ..errors import ProviderError
from ..model_paths import resolve_model
from .base import Job, Priced, Rule, Series, Spec

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)


# -- specs --------------------------------------------------------------------------------------------

def reference_size(cfg: AppConfig) -> int:
    """Generated references are square, at the training resolution and never under the validation minimum."""
    side = max(cfg.lora.resolution, cfg.lora.min_short_side)
    return -(-side // 8) * 8


@dataclass(frozen=True)
class ReferencesSpec(Spec):
    """A generated reference set depends on the look, the base model and how many, how large, which seed."""

    character: str
    look: str
    image: dict
    count: int
    size: int
    seed: int
    PROVIDER_GROUP: ClassVar[str] = "image"

    @classmethod
    def of(cls, cfg: AppConfig, character_id: str) -> "ReferencesSpec":
        return cls(character_id, cfg.series.cast[character_id].look, cfg.image.result_fields(),
                   cfg.lora.reference_count, reference_size(cfg), cfg.lora.seed)


@dataclass(frozen=True)
class LoraSpec(Spec):
    """What a character's adapter depends on: its look (captions), the base model, the training settings.
    The reference images (given or generated) and their caption sidecars are file inputs."""

    character: str
    name: str
    look: str
    image: dict
    lora: dict
    references: dict
    PROVIDER_GROUP: ClassVar[str] = "image"
    OPERATIONAL: ClassVar[Mapping[str, str]] = {
        "name": "the display name trains nothing (captions use the character id's trigger token and the look)",
        "references": "the validation thresholds decide whether training starts, not what it learns",
    }

    @classmethod
    def of(cls, cfg: AppConfig, character_id: str) -> "LoraSpec":
        character = cfg.series.cast[character_id]
        settings = cfg.lora.model_dump(mode="json", exclude={"weight", "min_references", "min_short_side", "enabled",
                                                            "reference_count"})
        return cls(character_id, character.name, character.look, cfg.image.result_fields(), settings,
                   {"min_count": cfg.lora.min_references, "min_short_side": cfg.lora.min_short_side})


@dataclass(frozen=True)
class ContactSheetSpec(Spec):
    """The sheet redraws when the adapter (a file input), the look, the image model or the weight changes."""

    character: str
    name: str
    look: str
    image: dict
    weight: float
    seed: int
    PROVIDER_GROUP: ClassVar[str] = "image"

    @classmethod
    def of(cls, cfg: AppConfig, character_id: str) -> "ContactSheetSpec":
        character = cfg.series.cast[character_id]
        return cls(character_id, character.name, character.look, cfg.image.result_fields(), cfg.lora.weight,
                   cfg.lora.seed)


# -- rules --------------------------------------------------------------------------------------------

class GenerateCharacterReferences(Rule):
    name, scope = "generate_character_references", "character"

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        cid, count = wildcards["character"], wf.cfg.lora.reference_count
        outputs = {f"ref_{i:02d}": wf.paths.reference_image(cid, i) for i in range(count)}
        outputs.update({f"caption_{i:02d}": wf.paths.reference_caption(cid, i) for i in range(count)})
        return Job(self.name, {"series": wf.series, "character": cid}, ReferencesSpec.of(wf.cfg, cid), outputs)

    def wanted(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> bool:
        return not wf.cfg.series.cast[wildcards["character"]].references

    def price(self, job: Job, runtime: Runtime) -> Priced:
        call, image = references_call(job.spec, runtime)
        return Priced(call, image, references_estimate(job.spec)(image))


class TrainCharacterLora(Rule):
    name, scope = "train_character_lora", "character"

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        cid = wildcards["character"]
        return Job(self.name, {"series": wf.series, "character": cid}, LoraSpec.of(wf.cfg, cid),
                   {"lora": wf.paths.lora(cid)}, {"references": tuple(wf.character_references(cid))})

    def price(self, job: Job, runtime: Runtime) -> Priced:
        call, image = lora_call(job.spec, [Path(p) for p in job.inputs["references"]], runtime)
        return Priced(call, image, lora_estimate(job.spec)(image))


class DrawContactSheet(Rule):
    name, scope = "draw_contact_sheet", "character"

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        cid = wildcards["character"]
        return Job(self.name, {"series": wf.series, "character": cid}, ContactSheetSpec.of(wf.cfg, cid),
                   {"png": wf.paths.contact_sheet(cid)}, {"lora": (wf.paths.lora(cid),)})

    def price(self, job: Job, runtime: Runtime) -> Priced:
        call, image = contact_sheet_call(job.spec, Path(job.inputs["lora"][0]), runtime)
        return Priced(call, image, contact_sheet_estimate(image))


RULES = (GenerateCharacterReferences(), TrainCharacterLora(), DrawContactSheet())


# -- provider calls -------------------------------------------------------------------------------------

def _model_dir(image: ImageConfig) -> Path:
    return resolve_model(image.model_dir, "image")


def _drawer(image: ImageConfig, gen_size: tuple[int, int], adapters=(), weight: float = 0.0
            ) -> Callable[[str, str, int], "Image.Image"]:
    """One pipeline for the whole job; every draw reuses it."""
    from ..keyframes.diffusion import draw, load_text_to_image

    pipe = load_text_to_image(_model_dir(image), family=image.family, scheduler=image.scheduler,
                              adapters=adapters, weight=weight)
    return lambda prompt, negative, seed: draw(pipe, prompt, negative, seed, image.steps, image.guidance, gen_size)


def references_call(spec: ReferencesSpec, runtime: Runtime) -> tuple[Call, ImageConfig]:
    call = Call(rule="generate_character_references", step="reference_images", version=1, request=spec.request())
    return call, spec.provider(ImageConfig, runtime)


def references_estimate(spec: ReferencesSpec):
    return lambda image: price.image_cost(image.pricing) * spec.count


def produce_references(spec: ReferencesSpec) -> Produce:
    def produce(image: ImageConfig, outputs: dict[str, Path]) -> None:
        from ..characters.generated import generate_reference_set
        from ..characters.references import ReferenceRules

        images = [outputs[f"ref_{i:02d}"] for i in range(spec.count)]
        generate_reference_set(_drawer(image, (spec.size, spec.size)), spec.character, spec.look, spec.seed,
                               spec.size, images, ReferenceRules(min_count=1, min_short_side=spec.size))
        # Each caption sidecar lands beside its image, which is where reference_outputs names it.
        missing = [name for name, path in outputs.items() if not path.is_file()]
        if missing:
            raise ProviderError(f"reference generation for {spec.character} left out {', '.join(missing)}")

    return produce


def reference_outputs(images: Sequence[str | Path]) -> dict[str, Path]:
    from ..characters.generated import caption_sidecar

    outputs = {f"ref_{i:02d}": Path(p) for i, p in enumerate(images)}
    outputs.update({f"caption_{i:02d}": caption_sidecar(Path(p)) for i, p in enumerate(images)})
    return outputs


def _lora_request(spec: LoraSpec, references: Sequence[Path]) -> Call:
    inputs = {f"ref_{i:03d}": Path(p) for i, p in enumerate(references)}
    return Call(rule="train_character_lora", step="lora_training", version=1, request=spec.request(), inputs=inputs)


def lora_call(spec: LoraSpec, references: Sequence[Path], runtime: Runtime) -> tuple[Call, ImageConfig]:
    return _lora_request(spec, references), spec.provider(ImageConfig, runtime)


# The image fields that name the base model a LoRA is trained on; the others (sampler, steps, guidance, sizes) only
# change how keyframes are drawn with it.
BASE_MODEL_FIELDS = ("provider", "model", "model_dir", "family")


@dataclass(frozen=True)
class _BaseModel:
    """The image provider as training sees it: call_key reads only result_fields()."""

    fields: Mapping[str, Any]

    def result_fields(self) -> dict[str, Any]:
        return dict(self.fields)


def training_key(call: Call, image: ImageConfig) -> str:
    """The key a training checkpoint belongs to: the training call's cache key (character, look, every lora setting,
    the sha256 of every reference image and caption sidecar, the step's code version) with two differences. The lora
    settings that only say how far to train and how often to save (`lora.train.RESUME_FREE`: steps, checkpoint_every)
    are left out, so raising lora.steps resumes; and of the image provider only the fields that name the base model
    are in it, so changing how keyframes are sampled resumes the finished training instead of repeating it."""
    from ..lora.train import RESUME_FREE

    lora = {k: v for k, v in call.request["lora"].items() if k not in RESUME_FREE}
    fields = image.result_fields()
    return call_key(replace(call, request={**call.request, "lora": lora}),
                    _BaseModel({k: fields.get(k) for k in BASE_MODEL_FIELDS}))  # type: ignore[arg-type]


# Seconds per training step of 4 images at the family's native resolution on one H200, measured by
# bench/gpu_characters.py (bench/figures/; SD3 not measured: SDXL's figure stands in). Only used to
# price GPU time where image.pricing.per_gpu_hour is set.
STEP_SECONDS = {"sd15": (0.62, 512), "sdxl": (2.04, 1024), "sd3": (2.04, 1024)}


def training_hours(spec: LoraSpec, family: str) -> float:
    """The GPU hours a training request is expected to take, scaled by images per step and pixels."""
    seconds, native = STEP_SECONDS.get(family, STEP_SECONDS["sdxl"])
    images = spec.lora["batch_size"] * spec.lora["gradient_accumulation"]
    return spec.lora["steps"] * seconds * images / 4 * (spec.lora["resolution"] / native) ** 2 / 3600


def lora_estimate(spec: LoraSpec) -> Estimate:
    return lambda image: price.training_cost(image.pricing, training_hours(spec, image.family))


def produce_lora(spec: LoraSpec, references: Sequence[Path], final: Path) -> Produce:
    def produce(image: ImageConfig, outputs: dict[str, Path]) -> None:
        import shutil

        from ..characters.generated import read_caption_sidecar
        from ..characters.references import IMAGE_SUFFIXES, ReferenceRules, validate_references

        rules = ReferenceRules(min_count=spec.references["min_count"], min_short_side=spec.references["min_short_side"])
        photos = [p for p in references if Path(p).suffix.lower() in IMAGE_SUFFIXES]
        # Before torch is even imported: a bad set is reported in a second, not after the model loads.
        usable = validate_references(spec.character, photos, rules)

        from ..cost.locking import exclusive_lock
        from ..lora.dataset import caption_for, trigger_token
        from ..lora.settings import LoraSettings
        from ..lora.train import train_lora

        token = trigger_token(spec.character)
        settings = LoraSettings(**{k: v for k, v in spec.lora.items() if k in LoraSettings.__dataclass_fields__},
                                trigger=token.split("_", 1)[0])
        captions = [", ".join(filter(None, (caption_for(token, spec.look), read_caption_sidecar(u.path))))
                    for u in usable]
        # Checkpoints live beside the final adapter, so an interrupted training resumes on the next run; only the
        # same request resumes them (training_key, and train_lora's own check of model, images, captions, settings).
        # One training at a time per folder: another request's run deletes the checkpoints it finds there.
        work = final.parent / "training"
        key = training_key(_lora_request(spec, references), image)
        with exclusive_lock(work / ".lock"):
            result = train_lora(_model_dir(image), [u.path for u in usable], captions, work, settings,
                                log=log.info, family=image.family, request_key=key)
            shutil.copyfile(result.adapter, outputs["lora"])

    return produce


def contact_sheet_call(spec: ContactSheetSpec, lora: Path, runtime: Runtime) -> tuple[Call, ImageConfig]:
    call = Call(rule="draw_contact_sheet", step="contact_sheet", version=1, request=spec.request(),
                inputs={"lora": lora})
    return call, spec.provider(ImageConfig, runtime)


def contact_sheet_estimate(image: ImageConfig) -> float:
    from ..characters.generated import SHEET_SHOTS

    return price.image_cost(image.pricing) * len(SHEET_SHOTS)


def produce_contact_sheet(spec: ContactSheetSpec, lora: Path) -> Produce:
    def produce(image: ImageConfig, outputs: dict[str, Path]) -> None:
        from ..characters.generated import draw_contact_sheet
        from ..keyframes.diffusion import CharacterAdapter
        from ..lora.dataset import trigger_token

        token = trigger_token(spec.character)
        adapter = CharacterAdapter(name=spec.character, path=Path(lora), trigger=token)
        drawer = _drawer(image, (image.gen_width, image.gen_height), adapters=[adapter], weight=spec.weight)
        draw_contact_sheet(drawer, token, spec.look, spec.seed, outputs["png"],
                           title=f"{spec.name} ({token}, weight {spec.weight:g})")

    return produce


# -- steps (what scripts/<rule>.py call) ------------------------------------------------------------------

def generate_character_references(spec: str, images: Sequence[str | Path], runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    references = ReferencesSpec.from_json(spec)
    call, image = references_call(references, runtime)
    provider_call(runtime, call, image, references_estimate(references), produce_references(references),
                  reference_outputs(images))


def train_character_lora(spec: str, references: Sequence[str | Path], out: str | Path,
                         runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    lora, photos = LoraSpec.from_json(spec), [Path(p) for p in references]
    call, image = lora_call(lora, photos, runtime)
    provider_call(runtime, call, image, lora_estimate(lora), produce_lora(lora, photos, Path(out)), {"lora": Path(out)})


def draw_contact_sheet(spec: str, lora: str | Path, out: str | Path, runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    sheet = ContactSheetSpec.from_json(spec)
    call, image = contact_sheet_call(sheet, Path(lora), runtime)
    provider_call(runtime, call, image, contact_sheet_estimate, produce_contact_sheet(sheet, Path(lora)),
                  {"png": Path(out)})
