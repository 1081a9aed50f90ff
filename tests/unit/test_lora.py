"""LoRA training core, tested like diffusers tests it: a tiny seeded random SD model built in code, a few real
training steps, then properties (finite losses, LoRA changes the output, save -> load reproduces it, resume)."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

# No importorskip: `make test` installs the diffusion extra, and a missing one must fail loudly
# rather than skip the whole LoRA suite in CI.
import torch  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from shortdrama.errors import ConfigError, ProviderError  # noqa: E402
from shortdrama.lora.dataset import CaptionedImages, caption_for, trigger_token  # noqa: E402
from shortdrama.lora.model import load_sd_components  # noqa: E402
from shortdrama.lora.settings import LoraSettings  # noqa: E402
from shortdrama.testing.tiny_sd import build_tiny_sd_model  # noqa: E402
from shortdrama.lora.train import ADAPTER_FILE, train_lora  # noqa: E402

PROMPT = "photo of sks_linxiaoyu, red coat"
SETTINGS = LoraSettings(rank=4, alpha=4, steps=4, resolution=32, learning_rate=5e-3, checkpoint_every=2, seed=0)


# No network and one torch thread for the whole module (fixtures in conftest.py).
pytestmark = pytest.mark.usefixtures("offline", "one_thread")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, offline, one_thread) -> Path:
    return build_tiny_sd_model(tmp_path_factory.mktemp("tiny-sd") / "model", seed=0)


def _images(folder: Path, colours: list[tuple[int, int, int]]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, colour in enumerate(colours):
        pixels = np.zeros((64, 64, 3), np.uint8)
        pixels[:] = colour
        pixels[16:48, 16 + 4 * i : 40 + 4 * i] = [255 - c for c in colour]  # a figure on a background
        path = folder / f"{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def _character(tmp_path_factory, name: str, colours) -> tuple[list[Path], list[str]]:
    images = _images(tmp_path_factory.mktemp(f"images-{name}"), colours)
    token = trigger_token(name)
    looks = ["red coat", "blue dress", "green scarf", "yellow hat"]
    return images, [caption_for(token, looks[i % len(looks)]) for i in range(len(images))]


@pytest.fixture(scope="module")
def lin(tmp_path_factory):
    return _character(tmp_path_factory, "Lin Xiaoyu", [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)])


@pytest.fixture(scope="module")
def zhao(tmp_path_factory):
    return _character(tmp_path_factory, "Zhao Lei", [(10, 10, 10), (240, 240, 240), (120, 60, 180), (60, 180, 120)])


@pytest.fixture(scope="module")
def trained(model_dir, lin, tmp_path_factory):
    torch.manual_seed(0)
    lines: list[str] = []
    out = tmp_path_factory.mktemp("lora-lin")
    result = train_lora(model_dir, *lin, out, SETTINGS, log=lines.append, device="cpu")
    return result, out, lines


def _pipeline(model_dir: Path):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(model_dir, local_files_only=True).to("cpu")
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _generate(pipe, prompt: str = PROMPT) -> np.ndarray:
    generator = torch.Generator("cpu").manual_seed(0)
    return pipe(prompt, num_inference_steps=2, height=32, width=32, output_type="np", generator=generator).images


@pytest.fixture(scope="module")
def outputs(model_dir, trained):
    """The same seed and prompt without, then with, the trained adapter."""
    _, out, _ = trained
    pipe = _pipeline(model_dir)
    base = _generate(pipe)
    pipe.load_lora_weights(out)
    return base, _generate(pipe)


def test_tiny_model_is_a_local_diffusers_directory(model_dir):
    assert (model_dir / "model_index.json").is_file()
    sd = load_sd_components(model_dir)
    ids = sd.tokenizer(PROMPT).input_ids
    assert ids[0] == sd.tokenizer.bos_token_id and ids[-1] == sd.tokenizer.eos_token_id
    assert max(ids) < sd.text_encoder.config.vocab_size
    assert sd.unet.config.cross_attention_dim == sd.text_encoder.config.hidden_size


def test_dataset_normalises_and_crops(lin):
    images, captions = lin
    data = CaptionedImages(images, captions, resolution=32, trigger="sks")
    item = data[0]
    assert item["pixel_values"].shape == (3, 32, 32)
    assert -1.0 <= item["pixel_values"].min() < 0 < item["pixel_values"].max() <= 1.0
    assert "sks_linxiaoyu" in item["caption"]
    with pytest.raises(ConfigError, match="trigger"):
        CaptionedImages(images, ["photo of a woman"] * len(images), resolution=32, trigger="sks")


def test_training_steps_give_finite_losses_and_an_adapter(trained):
    from safetensors.torch import load_file

    result, out, lines = trained
    assert result.steps_done == 4 and len(result.losses) == 4
    assert all(np.isfinite(result.losses)) and result.final_loss == result.losses[-1]
    assert result.adapter == out / ADAPTER_FILE and result.adapter.is_file()
    keys = list(load_file(result.adapter))
    assert keys and all(k.startswith("unet.") for k in keys)  # standard diffusers LoRA format, UNet only
    assert any("lora" in k for k in keys)
    progress = [line for line in lines if line.startswith("step ")]
    assert progress[0].startswith("step 1/4 loss ") and " eta " in progress[0]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-2", "step-4"]


def test_adapter_changes_the_output(outputs):
    base, with_lora = outputs
    assert base.shape == with_lora.shape == (1, 32, 32, 3)
    assert np.isfinite(with_lora).all()
    assert np.abs(base - with_lora).mean() > 1e-3


def test_saved_adapter_reloads_into_a_fresh_pipeline(model_dir, trained, outputs):
    _, out, _ = trained
    _, with_lora = outputs
    fresh = _pipeline(model_dir)
    fresh.load_lora_weights(out)
    np.testing.assert_allclose(_generate(fresh), with_lora, atol=1e-5)


def test_resume_continues_from_the_latest_checkpoint(model_dir, lin, tmp_path):
    out = tmp_path / "lora"
    first: list[str] = []
    train_lora(model_dir, *lin, out, SETTINGS, log=first.append, device="cpu")
    again: list[str] = []
    six = LoraSettings(**{**SETTINGS.__dict__, "steps": 6})
    result = train_lora(model_dir, *lin, out, six, log=again.append, device="cpu")

    assert any("resuming" in line and "step 4" in line for line in again)
    assert result.resumed_from == 4 and result.steps_done == 6 and len(result.losses) == 2
    assert [line.split()[1] for line in again if line.startswith("step ")] == ["5/6", "6/6"]
    assert (out / "checkpoints" / "step-6").is_dir()
    assert not [p for p in (out / "checkpoints").iterdir() if p.name.startswith(".")]  # no temp dirs left

    # Data order, noise and timesteps are seeded per step: resuming draws what one uninterrupted run draws.
    straight = train_lora(model_dir, *lin, tmp_path / "straight", six, log=lambda _: None, device="cpu")
    np.testing.assert_allclose(result.losses, straight.losses[4:], rtol=1e-4)


def test_a_checkpoint_of_another_shape_is_never_loaded(model_dir, lin, trained, tmp_path):
    """Another rank is another training request: its checkpoints are deleted unread and training starts at step 0
    (tests/unit/test_lora_resume.py covers every other kind of change)."""
    import shutil

    _, trained_out, _ = trained
    out = tmp_path / "lora"
    shutil.copytree(trained_out, out)
    other = LoraSettings(**{**SETTINGS.__dict__, "rank": 8, "steps": 5})
    lines: list[str] = []
    result = train_lora(model_dir, *lin, out, other, log=lines.append, device="cpu")
    assert result.resumed_from == 0 and len(result.losses) == 5
    assert any(line.startswith("not resuming") and "settings.rank 4 -> 8" in line for line in lines)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-2", "step-4", "step-5"]
    assert json.loads((out / "checkpoints/step-4/state.json").read_text())["settings"]["rank"] == 8


def test_batches_accumulation_and_mixed_precision_fallback_on_cpu(model_dir, lin, tmp_path):
    lines: list[str] = []
    settings = LoraSettings(
        **{**SETTINGS.__dict__, "steps": 1, "batch_size": 2, "gradient_accumulation": 2, "mixed_precision": "fp16"}
    )
    result = train_lora(model_dir, *lin, tmp_path / "lora", settings, log=lines.append, device="cpu")
    assert any("not supported on cpu" in line for line in lines)
    assert result.steps_done == 1 and np.isfinite(result.final_loss)


def test_missing_model_dir_is_a_provider_error(tmp_path, lin):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ProviderError, match=str(missing)):
        train_lora(missing, *lin, tmp_path / "out", SETTINGS, log=lambda _: None)
    partial = tmp_path / "partial"
    (partial / "tokenizer").mkdir(parents=True)
    with pytest.raises(ProviderError, match="unet"):
        load_sd_components(partial)


def test_two_character_adapters_mix(model_dir, trained, zhao, tmp_path, outputs):
    _, lin_out, _ = trained
    zhao_out = tmp_path / "lora-zhao"
    train_lora(model_dir, *zhao, zhao_out, SETTINGS, log=lambda _: None, device="cpu")

    pipe = _pipeline(model_dir)
    pipe.load_lora_weights(lin_out, adapter_name="linxiaoyu")
    pipe.load_lora_weights(zhao_out, adapter_name="zhaolei")
    pipe.set_adapters(["linxiaoyu", "zhaolei"], adapter_weights=[0.8, 0.6])
    assert set(pipe.get_active_adapters()) == {"linxiaoyu", "zhaolei"}
    image = _generate(pipe, "photo of sks_linxiaoyu and sks_zhaolei, street")
    assert image.shape == (1, 32, 32, 3) and np.isfinite(image).all()
    assert 0.0 <= image.min() and image.max() <= 1.0
