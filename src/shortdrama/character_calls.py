"""The character steps as provider calls (cache-keyed, priced, ledgered like every other step):
a generated reference set, the LoRA training run, and the contact sheet of the trained adapter."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from PIL import Image

from .calls import _merged
from .config import ImageConfig
from .cost import pricing as price
from .cost.call import Call, Produce, Runtime, call_key
from .errors import ProviderError
from .model_paths import resolve_model

log = logging.getLogger(__name__)


def _model_dir(image: ImageConfig) -> Path:
    return resolve_model(image.model_dir, "image")


def _drawer(image: ImageConfig, gen_size: tuple[int, int], adapters=(), weight: float = 0.0
            ) -> Callable[[str, str, int], Image.Image]:
    """One pipeline for the whole job; every draw reuses it."""
    from .keyframes.diffusion import draw, load_text_to_image

    pipe = load_text_to_image(_model_dir(image), family=image.family, scheduler=image.scheduler,
                              adapters=adapters, weight=weight)
    return lambda prompt, negative, seed: draw(pipe, prompt, negative, seed, image.steps, image.guidance, gen_size)


# -- generated references -------------------------------------------------------------------------

def references_call(spec: str, runtime: Runtime) -> tuple[Call, ImageConfig]:
    data = json.loads(spec)
    call = Call(rule="generate_character_references", step="reference_images", version=1,
                request={k: data[k] for k in ("character", "look", "count", "size", "seed")})
    return call, _merged(ImageConfig, runtime, "image", data["image"])


def references_estimate(spec: str):
    count = json.loads(spec)["count"]
    return lambda image: price.image_cost(image.pricing) * count


def produce_references(spec: str) -> Produce:
    def produce(image: ImageConfig, outputs: dict[str, Path]) -> None:
        from .characters.generated import generate_reference_set
        from .characters.references import ReferenceRules

        data = json.loads(spec)
        images = [outputs[f"ref_{i:02d}"] for i in range(data["count"])]
        size = data["size"]
        generate_reference_set(_drawer(image, (size, size)), data["character"], data["look"], data["seed"], size,
                               images, ReferenceRules(min_count=1, min_short_side=size))
        # Each caption sidecar lands beside its image, which is where reference_outputs names it.
        missing = [name for name, path in outputs.items() if not path.is_file()]
        if missing:
            raise ProviderError(f"reference generation for {data['character']} left out {', '.join(missing)}")

    return produce


def reference_outputs(images: Sequence[str | Path]) -> dict[str, Path]:
    from .characters.generated import caption_sidecar

    outputs = {f"ref_{i:02d}": Path(p) for i, p in enumerate(images)}
    outputs.update({f"caption_{i:02d}": caption_sidecar(Path(p)) for i, p in enumerate(images)})
    return outputs


# -- LoRA training --------------------------------------------------------------------------------

def _lora_request(spec: str, references: Sequence[Path]) -> Call:
    data = json.loads(spec)
    inputs = {f"ref_{i:03d}": Path(p) for i, p in enumerate(references)}
    return Call(rule="train_character_lora", step="lora_training", version=1,
                request={k: data[k] for k in ("character", "look", "lora")}, inputs=inputs)


def lora_call(spec: str, references: Sequence[Path], runtime: Runtime) -> tuple[Call, ImageConfig]:
    data = json.loads(spec)
    return _lora_request(spec, references), _merged(ImageConfig, runtime, "image", data["image"])


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
    from .lora.train import RESUME_FREE

    lora = {k: v for k, v in call.request["lora"].items() if k not in RESUME_FREE}
    fields = image.result_fields()
    return call_key(replace(call, request={**call.request, "lora": lora}),
                    _BaseModel({k: fields.get(k) for k in BASE_MODEL_FIELDS}))  # type: ignore[arg-type]


def lora_estimate(image: ImageConfig) -> float:
    return price.training_cost(image.pricing, 0.0)


def produce_lora(spec: str, references: Sequence[Path], final: Path) -> Produce:
    def produce(image: ImageConfig, outputs: dict[str, Path]) -> None:
        import shutil

        from .characters.generated import read_caption_sidecar
        from .characters.references import IMAGE_SUFFIXES, ReferenceRules, validate_references

        data = json.loads(spec)
        rules = ReferenceRules(min_count=data["references"]["min_count"],
                               min_short_side=data["references"]["min_short_side"])
        photos = [p for p in references if Path(p).suffix.lower() in IMAGE_SUFFIXES]
        # Before torch is even imported: a bad set is reported in a second, not after the model loads.
        usable = validate_references(data["character"], photos, rules)

        from .lora.dataset import caption_for, trigger_token
        from .lora.settings import LoraSettings
        from .lora.train import train_lora

        token = trigger_token(data["character"])
        settings = LoraSettings(**{k: v for k, v in data["lora"].items() if k in LoraSettings.__dataclass_fields__},
                                trigger=token.split("_", 1)[0])
        captions = [", ".join(filter(None, (caption_for(token, data["look"]), read_caption_sidecar(u.path))))
                    for u in usable]
        # Checkpoints live beside the final adapter, so an interrupted training resumes on the next run; only the
        # same request resumes them (training_key, and train_lora's own check of model, images, captions, settings).
        # One training at a time per folder: another request's run deletes the checkpoints it finds there.
        from .cost.locking import exclusive_lock

        work = final.parent / "training"
        key = training_key(_lora_request(spec, references), image)
        with exclusive_lock(work / ".lock"):
            result = train_lora(_model_dir(image), [u.path for u in usable], captions, work, settings,
                                log=log.info, family=image.family, request_key=key)
            shutil.copyfile(result.adapter, outputs["lora"])

    return produce


# -- contact sheet ----------------------------------------------------------------------------------

def contact_sheet_call(spec: str, lora: Path, runtime: Runtime) -> tuple[Call, ImageConfig]:
    data = json.loads(spec)
    call = Call(rule="draw_contact_sheet", step="contact_sheet", version=1,
                request={k: data[k] for k in ("character", "name", "look", "weight", "seed")}, inputs={"lora": lora})
    return call, _merged(ImageConfig, runtime, "image", data["image"])


def contact_sheet_estimate(image: ImageConfig) -> float:
    from .characters.generated import SHEET_SHOTS

    return price.image_cost(image.pricing) * len(SHEET_SHOTS)


def produce_contact_sheet(spec: str, lora: Path) -> Produce:
    def produce(image: ImageConfig, outputs: dict[str, Path]) -> None:
        from .characters.generated import draw_contact_sheet
        from .keyframes.diffusion import CharacterAdapter
        from .lora.dataset import trigger_token

        data = json.loads(spec)
        token = trigger_token(data["character"])
        adapter = CharacterAdapter(name=data["character"], path=Path(lora), trigger=token)
        drawer = _drawer(image, (image.gen_width, image.gen_height), adapters=[adapter], weight=data["weight"])
        draw_contact_sheet(drawer, token, data["look"], data["seed"], outputs["png"],
                           title=f"{data['name']} ({token}, weight {data['weight']:g})")

    return produce
