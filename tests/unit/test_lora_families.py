"""SDXL and SD3 character LoRAs end to end, tested like diffusers tests them: tiny seeded random models built in code,
a few real training steps, then properties (finite losses, the adapter changes the image, save -> fresh pipeline ->
load_lora_weights reproduces it, resume refuses another family), plus the scheduler choice of keyframe generation."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

import torch  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from shortdrama.errors import ConfigError, ProviderError  # noqa: E402
from shortdrama.keyframes.diffusion import (  # noqa: E402
    SCHEDULERS,
    CharacterAdapter,
    draw,
    generate_keyframe,
    load_text_to_image,
)
from shortdrama.lora.dataset import caption_for, trigger_token  # noqa: E402
from shortdrama.lora.settings import LoraSettings  # noqa: E402
from shortdrama.testing.tiny_sd import build_tiny_sd3_model, build_tiny_sd_model, build_tiny_sdxl_model  # noqa: E402
from shortdrama.lora.train import ADAPTER_FILE, train_lora  # noqa: E402

LIN = trigger_token("Lin Xiaoyu")
ZHAO = trigger_token("Zhao Lei")
PROMPT = f"{LIN}, red coat, street at night"
SETTINGS = LoraSettings(rank=4, alpha=4, steps=3, resolution=32, learning_rate=5e-3, checkpoint_every=2, seed=0)
SIZE = (32, 32)


# No network and one torch thread for the whole module (fixtures in conftest.py).
pytestmark = pytest.mark.usefixtures("offline", "one_thread")


def _character(folder: Path, name: str, colours) -> tuple[list[Path], list[str]]:
    folder.mkdir(parents=True, exist_ok=True)
    images = []
    for i, colour in enumerate(colours):
        pixels = np.zeros((48, 48, 3), np.uint8)
        pixels[:] = colour
        pixels[12:36, 12 + 4 * i : 30 + 4 * i] = [255 - c for c in colour]  # a figure on a background
        images.append(folder / f"{i}.png")
        Image.fromarray(pixels).save(images[-1])
    token = trigger_token(name)
    return images, [caption_for(token, look) for look in ("red coat", "blue dress")[: len(images)]]


@pytest.fixture(scope="module")
def lin(tmp_path_factory):
    return _character(tmp_path_factory.mktemp("images-lin"), "Lin Xiaoyu", [(200, 30, 30), (30, 30, 200)])


_BUILDERS = {
    "sd15": build_tiny_sd_model,
    "sdxl": build_tiny_sdxl_model,
    "sd3": build_tiny_sd3_model,
    "sd3-no-t5": lambda out: build_tiny_sd3_model(out, with_t5=False),
}


class _Lazy(dict):
    """name -> value, made on first use: an xdist worker builds and trains only what its share of tests needs."""

    def __init__(self, make):
        super().__init__()
        self._make = make

    def __missing__(self, name):
        self[name] = self._make(name)
        return self[name]


@pytest.fixture(scope="module")
def models(tmp_path_factory, offline, one_thread) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return _Lazy(lambda name: _BUILDERS[name](root / name))


def _train(models, lin, out: Path, family: str, model: str | None = None, settings: LoraSettings = SETTINGS):
    lines: list[str] = []
    result = train_lora(models[model or family], *lin, out, settings, log=lines.append, device="cpu", family=family)
    return result, lines


@pytest.fixture(scope="module")
def trained(models, lin, tmp_path_factory):
    """family -> (TrainResult, out_dir): 3 steps on the tiny SDXL or SD3 model."""

    def train(family: str):
        out = tmp_path_factory.mktemp(f"lora-{family}")
        return _train(models, lin, out, family)[0], out

    return _Lazy(train)


def _lin_adapter(out: Path) -> CharacterAdapter:
    return CharacterAdapter("linxiaoyu", out / ADAPTER_FILE, LIN)


@pytest.mark.parametrize("family,prefix", [("sdxl", "unet."), ("sd3", "transformer.")])
def test_training_steps_give_finite_losses_and_a_standard_adapter(trained, family, prefix):
    from safetensors.torch import load_file

    result, out = trained[family]
    assert result.steps_done == 3 and len(result.losses) == 3 and np.isfinite(result.losses).all()
    assert result.adapter == out / ADAPTER_FILE
    keys = list(load_file(result.adapter))
    assert keys and all(k.startswith(prefix) and "lora" in k for k in keys)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-2", "step-3"]


def _pixels(pipe) -> np.ndarray:
    """The pipeline's float output for one fixed prompt and seed (uint8 images would hide small LoRA effects)."""
    generator = torch.Generator("cpu").manual_seed(7)
    return pipe(PROMPT, negative_prompt="blurry", num_inference_steps=2, guidance_scale=5.0, height=32, width=32,
                output_type="np", generator=generator).images


@pytest.mark.parametrize("family", ["sdxl", "sd3"])
def test_adapter_changes_the_image_and_a_fresh_pipeline_reproduces_it(models, trained, family):
    from diffusers import StableDiffusion3Pipeline, StableDiffusionXLPipeline

    _, out = trained[family]
    with_lora = _pixels(load_text_to_image(models[family], family, adapters=[_lin_adapter(out)], weight=1.0,
                                           device="cpu"))
    pipeline_class = {"sdxl": StableDiffusionXLPipeline, "sd3": StableDiffusion3Pipeline}[family]
    fresh = pipeline_class.from_pretrained(models[family], local_files_only=True)
    fresh.set_progress_bar_config(disable=True)
    base = _pixels(fresh)
    assert base.shape == with_lora.shape == (1, 32, 32, 3) and np.isfinite(with_lora).all()
    assert np.abs(base - with_lora).mean() > 1e-3

    # The saved file alone, through the family pipeline's own load_lora_weights, gives the same output.
    fresh.load_lora_weights(out)
    np.testing.assert_allclose(_pixels(fresh), with_lora, atol=1e-5)


def test_sd3_without_t5_trains_and_draws(models, lin, tmp_path):
    assert not (models["sd3-no-t5"] / "text_encoder_3").exists()
    result, _ = _train(models, lin, tmp_path / "lora", "sd3", "sd3-no-t5")
    assert result.steps_done == 3 and np.isfinite(result.losses).all()
    pipe = load_text_to_image(models["sd3-no-t5"], "sd3", adapters=[_lin_adapter(tmp_path / "lora")], device="cpu")
    assert pipe.text_encoder_3 is None
    assert draw(pipe, PROMPT, "", 7, 2, 5.0, SIZE).size == SIZE


def test_sd3_resume_draws_what_an_uninterrupted_run_draws(models, lin, tmp_path):
    # Sigmas, noise and latents are drawn from the per-step generator: a resumed run repeats a straight one exactly.
    one = LoraSettings(**{**SETTINGS.__dict__, "steps": 1, "checkpoint_every": 1})
    _train(models, lin, tmp_path / "resumed", "sd3", settings=one)
    three = LoraSettings(**{**one.__dict__, "steps": 3})
    resumed, lines = _train(models, lin, tmp_path / "resumed", "sd3", settings=three)
    straight, _ = _train(models, lin, tmp_path / "straight", "sd3", settings=three)
    assert resumed.resumed_from == 1 and any("resuming" in line for line in lines)
    np.testing.assert_allclose(resumed.losses, straight.losses[1:], rtol=1e-4)


def test_a_checkpoint_of_another_family_is_never_loaded(models, lin, trained, tmp_path):
    """Another family is another training request: the SDXL checkpoints are deleted unread, SD3 starts at step 0."""
    import shutil

    out = tmp_path / "lora"
    shutil.copytree(trained["sdxl"][1], out)
    more = LoraSettings(**{**SETTINGS.__dict__, "steps": 5})
    result, lines = _train(models, lin, out, "sd3", settings=more)
    assert result.resumed_from == 0 and len(result.losses) == 5
    assert any(line.startswith("not resuming") and "family 'sdxl' -> 'sd3'" in line for line in lines)
    from safetensors.torch import load_file

    assert all(k.startswith("transformer.") for k in load_file(out / ADAPTER_FILE))


def test_a_scheduler_can_be_chosen_by_name(models):
    pipe = load_text_to_image(models["sd15"], "sd15", "euler_a", device="cpu")
    assert type(pipe.scheduler).__name__ == "EulerAncestralDiscreteScheduler"
    image = draw(pipe, PROMPT, "", 3, 2, 5.0, SIZE)
    assert image.size == SIZE and image.mode == "RGB"
    karras = load_text_to_image(models["sdxl"], "sdxl", "dpmpp_2m_karras", device="cpu").scheduler
    assert type(karras).__name__ == "DPMSolverMultistepScheduler" and karras.config.use_karras_sigmas


@pytest.mark.parametrize(
    "family,scheduler,message",
    [
        ("sd15", "heun_fancy", "'heun_fancy' is unknown; for family=sd15 choose one of default, ddim, euler"),
        ("sd3", "ddim", "'ddim' is not usable with sd3; for family=sd3 choose one of default, flow_match_euler$"),
        ("sdxl", "flow_match_euler", "not usable with sdxl"),
    ],
)
def test_an_unknown_or_incompatible_scheduler_is_a_config_error(models, family, scheduler, message):
    with pytest.raises(ConfigError, match=message):
        load_text_to_image(models[family], family, scheduler, device="cpu")
    assert "default" in SCHEDULERS and "dpmpp_2m" in SCHEDULERS


def test_unknown_family_and_incomplete_models_are_clear_errors(tmp_path, lin):
    with pytest.raises(ConfigError, match="sd15, sdxl, sd3"):
        load_text_to_image(tmp_path, "flux")
    with pytest.raises(ConfigError, match="unknown model family"):
        train_lora(tmp_path, *lin, tmp_path / "out", SETTINGS, log=lambda _: None, family="sd4")
    partial = tmp_path / "partial"
    for name in ("tokenizer", "text_encoder", "vae", "unet", "scheduler", "text_encoder_3"):
        (partial / name).mkdir(parents=True)
    with pytest.raises(ProviderError, match="missing subfolder.*tokenizer_2, text_encoder_2"):
        load_text_to_image(partial, "sdxl")
    with pytest.raises(ProviderError, match=str(tmp_path / "absent")):
        load_text_to_image(tmp_path / "absent", "sd3")
    for name in ("tokenizer_2", "text_encoder_2", "transformer"):
        (partial / name).mkdir()
    with pytest.raises(ProviderError, match="has text_encoder_3 but not tokenizer_3"):
        load_text_to_image(partial, "sd3")


class _RecordingPipeline:
    """Stands in for a diffusers pipeline: records what draw passes to it."""

    character_triggers = (LIN, ZHAO)

    def __call__(self, prompt, generator, **kwargs):
        from types import SimpleNamespace

        self.prompt, self.seed, self.kwargs = prompt, generator.initial_seed(), kwargs
        return SimpleNamespace(images=[Image.new("RGB", (kwargs["width"], kwargs["height"]))])


def test_draw_puts_the_lacking_triggers_in_front_and_seeds_per_scene():
    from shortdrama.keyframes.diffusion import scene_seed

    pipe = _RecordingPipeline()
    image = draw(pipe, f"photo of {LIN}, red coat", "blurry", 5, 4, 6.0, (48, 32))
    assert pipe.prompt == f"{ZHAO}, photo of {LIN}, red coat" and image.size == (48, 32)
    assert pipe.seed == scene_seed(5, pipe.prompt)
    assert pipe.kwargs == {"negative_prompt": "blurry", "num_inference_steps": 4, "guidance_scale": 6.0,
                           "width": 48, "height": 32}
    draw(pipe, f"{LIN}, {ZHAO}, street", "", 5, 4, 6.0, (48, 32))
    assert pipe.prompt == f"{LIN}, {ZHAO}, street"  # generate_keyframe's prefixed prompt is left as it is
    draw(pipe, f"{LIN}x and {ZHAO}_2", "", 5, 4, 6.0, (48, 32))
    assert pipe.prompt.startswith(f"{LIN}, {ZHAO}, ")  # whole tokens only


def test_generate_keyframe_with_two_characters_on_sdxl(models, trained, tmp_path):
    zhao = _character(tmp_path / "images-zhao", "Zhao Lei", [(10, 10, 10), (240, 240, 240)])
    _train(models, zhao, tmp_path / "lora-zhao", "sdxl", settings=LoraSettings(**{**SETTINGS.__dict__, "steps": 2}))
    adapters = [
        _lin_adapter(trained["sdxl"][1]),
        CharacterAdapter("zhaolei", tmp_path / "lora-zhao" / ADAPTER_FILE, ZHAO),
    ]
    out = tmp_path / "keyframes" / "sc1.png"
    out.parent.mkdir()
    generate_keyframe(models["sdxl"], "two people arguing", "blurry", adapters, 0.8, 2, 5.0, SIZE, (48, 40), 11, out,
                      family="sdxl", scheduler="euler_a")
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (48, 40)
    assert [p.name for p in out.parent.iterdir()] == ["sc1.png"]  # written atomically, nothing left beside it


@pytest.mark.parametrize("family", ["sd15", "sdxl", "sd3"])
def test_cached_encodings_train_the_same_weights(models, lin, tmp_path, family):
    """Each image and caption encoded once (the default) trains exactly the weights that encoding them
    every step trains, at batch size 1: the cache is a speed-up, not another model."""
    from safetensors.torch import load_file

    settings = LoraSettings(rank=4, alpha=4, steps=4, resolution=32, learning_rate=5e-3, checkpoint_every=10, seed=3)
    runs = {}
    for cached in (True, False):
        out = tmp_path / f"cached-{cached}"
        train_lora(models[family], *lin, out, settings, log=lambda _: None, device="cpu", family=family,
                   cache_encodings=cached)
        runs[cached] = load_file(out / ADAPTER_FILE)
    assert runs[True].keys() == runs[False].keys() and runs[True]
    for name, tensor in runs[True].items():
        assert torch.equal(tensor, runs[False][name]), name
    untrained = train_lora(models[family], *lin, tmp_path / "one-step", LoraSettings(**{**settings.__dict__, "steps": 1}),
                           log=lambda _: None, device="cpu", family=family)
    assert any(not torch.equal(t, load_file(untrained.adapter)[n]) for n, t in runs[True].items())
