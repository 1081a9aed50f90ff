"""A LoRA checkpoint is resumed only by the training request that made it (issue 12).

Tiny seeded SD model built in code, 4-step trainings. The proof is always content: the adapter tensors of a training
next to another request's checkpoints must equal, bit for bit, those of the same training in an empty folder; and an
interrupted (or lengthened, or shortened) run must end with the tensors of one uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from shortdrama.errors import ConfigError, ProviderError  # noqa: E402
from shortdrama.lora.dataset import caption_for, trigger_token  # noqa: E402
from shortdrama.lora.settings import LoraSettings  # noqa: E402
from shortdrama.testing.tiny_sd import build_tiny_sd_model  # noqa: E402
from shortdrama.lora.train import ADAPTER_FILE, CHECKPOINTS, train_lora  # noqa: E402

SETTINGS = LoraSettings(rank=4, alpha=4, steps=4, resolution=32, learning_rate=5e-3, checkpoint_every=2, seed=0)
TOKEN = trigger_token("Lin Xiaoyu")
LOOKS = ["red coat", "blue dress", "green scarf"]

pytestmark = pytest.mark.usefixtures("offline", "one_thread")


def _picture(path: Path, colour: tuple[int, int, int], shift: int) -> Path:
    pixels = np.zeros((48, 48, 3), np.uint8)
    pixels[:] = colour
    pixels[12:36, 8 + shift : 28 + shift] = [255 - c for c in colour]  # a figure on a background
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, offline, one_thread) -> Path:
    return build_tiny_sd_model(tmp_path_factory.mktemp("tiny-sd") / "model", seed=0)


@pytest.fixture(scope="module")
def other_model(tmp_path_factory, offline, one_thread) -> Path:
    """Same architecture and layer shapes, other weights: every checkpoint of model_dir would load into it."""
    return build_tiny_sd_model(tmp_path_factory.mktemp("tiny-sd-1") / "model", seed=1)


@pytest.fixture(scope="module")
def lin(tmp_path_factory) -> tuple[list[Path], list[str]]:
    folder = tmp_path_factory.mktemp("images-lin")
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    images = [_picture(folder / f"{i}.png", colour, 4 * i) for i, colour in enumerate(colours)]
    return images, [caption_for(TOKEN, look) for look in LOOKS]


def _train(model: Path, data, out: Path, settings: LoraSettings = SETTINGS, **kwargs):
    lines: list[str] = []
    result = train_lora(model, *data, out, settings, log=lines.append, device="cpu", **kwargs)
    return result, lines


def _tensors(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(out / ADAPTER_FILE)


def _assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and a
    unequal = [k for k in a if not torch.equal(a[k], b[k])]
    assert not unequal, f"{len(unequal)} of {len(a)} tensors differ, e.g. {unequal[0]}"


def _assert_different(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    # Every up-projection (zero at init) moved differently: not one layer of the other training survives.
    ups = [k for k in a if "lora_B" in k or "lora.up" in k]
    assert ups and all(not torch.equal(a[k], b[k]) for k in ups)


@pytest.fixture(scope="module")
def trained_a(model_dir, lin, tmp_path_factory) -> Path:
    """Request A trained to completion (checkpoints step-2, step-4): copied into each test's folder."""
    out = tmp_path_factory.mktemp("lora-a")
    result, _ = _train(model_dir, lin, out)
    assert result.steps_done == 4 and len(result.losses) == 4
    return out


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def _request_b(change: str, model_dir: Path, other_model: Path, lin, folder: Path):
    """(model, (images, captions), settings) of request B: request A with one thing changed."""
    images, captions = lin
    if change == "caption":  # a look edit
        return model_dir, (images, [caption_for(TOKEN, "black leather jacket")] + captions[1:]), SETTINGS
    if change == "reference image content":  # the same file name, another photo
        swapped = [shutil.copy(p, folder / p.name) for p in images]
        _picture(Path(swapped[1]), (250, 250, 250), 9)
        return model_dir, ([Path(p) for p in swapped], captions), SETTINGS
    if change == "new reference image":
        extra = _picture(folder / "3.png", (90, 90, 20), 2)
        return model_dir, ([*images, extra], [*captions, caption_for(TOKEN, "yellow hat")]), SETTINGS
    if change == "seed":
        return model_dir, lin, replace(SETTINGS, seed=1)
    if change == "learning rate":
        return model_dir, lin, replace(SETTINGS, learning_rate=2e-2)
    if change == "base model of the same shapes":
        return other_model, lin, SETTINGS
    raise AssertionError(change)


@pytest.mark.parametrize("change", ["caption", "reference image content", "new reference image", "seed",
                                    "learning rate", "base model of the same shapes"])
def test_another_request_trains_from_scratch_and_equals_a_fresh_training(
        change, model_dir, other_model, lin, trained_a, tmp_path):
    model, data, settings = _request_b(change, model_dir, other_model, lin, tmp_path)
    out = _copy(trained_a, tmp_path / "lora")

    b, lines = _train(model, data, out, settings)

    assert b.resumed_from == 0 and len(b.losses) == settings.steps == b.steps_done
    assert not any(line.startswith("resuming") for line in lines)
    why = [line for line in lines if line.startswith("not resuming")]
    assert len(why) == 1 and "another training request" in why[0] and "step 0" in why[0]
    assert sorted(p.name for p in (out / CHECKPOINTS).iterdir()) == ["step-2", "step-4"]
    _assert_different(_tensors(out), _tensors(trained_a))

    # Nothing of A leaked into B: B beside A's checkpoints is B in an empty folder, bit for bit.
    fresh, _ = _train(model, data, tmp_path / "fresh", settings)
    _assert_identical(_tensors(out), _tensors(tmp_path / "fresh"))
    assert b.losses == fresh.losses


def test_the_log_line_names_what_changed(model_dir, lin, trained_a, tmp_path):
    out = _copy(trained_a, tmp_path / "lora")
    _, lines = _train(model_dir, lin, out, replace(SETTINGS, seed=3, learning_rate=1e-3, steps=2))
    (why,) = [line for line in lines if line.startswith("not resuming")]
    assert "settings.learning_rate 0.005 -> 0.001" in why and "settings.seed 0 -> 3" in why
    assert "settings.steps" not in why  # how far to train is not part of the request
    assert "deleting step-2, step-4" in why


def test_another_caller_request_key_alone_is_not_resumed(model_dir, lin, trained_a, tmp_path):
    """The caller's key (the build's training call key: sidecars, step version...) is part of the request too."""
    out = _copy(trained_a, tmp_path / "lora")
    result, lines = _train(model_dir, lin, out, request_key="another-call-key")
    assert result.resumed_from == 0 and len(result.losses) == 4
    assert any(line.startswith("not resuming") and "request_key" in line for line in lines)
    _assert_identical(_tensors(out), _tensors(trained_a))  # same training inputs, same seed: same adapter

    again, lines = _train(model_dir, lin, out, replace(SETTINGS, steps=5), request_key="another-call-key")
    assert again.resumed_from == 4 and len(again.losses) == 1  # its own checkpoints it does resume


def test_a_base_model_rebuilt_in_place_is_another_request(lin, tmp_path):
    model = build_tiny_sd_model(tmp_path / "model", seed=0)
    out = tmp_path / "lora"
    _train(model, lin, out)
    before = _tensors(out)
    build_tiny_sd_model(model, seed=1)  # same folder, same shapes, other weights

    b, lines = _train(model, lin, out)
    assert b.resumed_from == 0 and len(b.losses) == 4
    assert any(line.startswith("not resuming") and "base_model" in line for line in lines)
    _assert_different(_tensors(out), before)
    _train(model, lin, tmp_path / "fresh")
    _assert_identical(_tensors(out), _tensors(tmp_path / "fresh"))


def test_a_checkpoint_without_a_recorded_request_is_not_resumed(model_dir, lin, trained_a, tmp_path):
    out = _copy(trained_a, tmp_path / "lora")
    for state_file in (out / CHECKPOINTS).glob("step-*/state.json"):  # as written before checkpoints were keyed
        state = json.loads(state_file.read_text())
        state.pop("request_id"), state.pop("request")
        state_file.write_text(json.dumps(state))

    result, lines = _train(model_dir, lin, out)
    assert result.resumed_from == 0 and len(result.losses) == 4
    assert any("records no training request" in line for line in lines)
    _assert_identical(_tensors(out), _tensors(trained_a))


class _Killed(Exception):
    pass


def test_an_interrupted_run_resumes_at_its_checkpoint_and_ends_as_an_uninterrupted_run(model_dir, lin, trained_a,
                                                                                        tmp_path):
    out = tmp_path / "lora"

    def kill_at_step_3(line: str) -> None:  # after step 3's update, before anything of it is saved
        if line.startswith("step 3/4"):
            raise _Killed

    with pytest.raises(_Killed):
        train_lora(model_dir, *lin, out, SETTINGS, log=kill_at_step_3, device="cpu")
    assert sorted(p.name for p in (out / CHECKPOINTS).iterdir()) == ["step-2"]
    assert not (out / ADAPTER_FILE).exists()

    resumed, lines = _train(model_dir, lin, out)
    assert resumed.resumed_from == 2 and len(resumed.losses) == 2
    assert any(line.startswith("resuming from") and "step-2" in line for line in lines)
    assert not any(line.startswith("not resuming") for line in lines)
    _assert_identical(_tensors(out), _tensors(trained_a))


def test_steps_is_not_part_of_the_request_more_resumes_fewer_rewinds(model_dir, lin, trained_a, tmp_path):
    """Step N of a longer run is step N of a shorter one (constant learning rate, data and noise seeded per step)."""
    eight = replace(SETTINGS, steps=8)
    out = _copy(trained_a, tmp_path / "lora")
    longer, lines = _train(model_dir, lin, out, eight)
    assert longer.resumed_from == 4 and len(longer.losses) == 4 and longer.steps_done == 8
    straight, _ = _train(model_dir, lin, tmp_path / "straight-8", eight)
    _assert_identical(_tensors(out), _tensors(tmp_path / "straight-8"))
    assert longer.losses == straight.losses[4:]

    # Back to 4 steps: the step-4 checkpoint, not step-8 (the old code wrote the 8-step adapter here).
    shorter, _ = _train(model_dir, lin, out)
    assert shorter.resumed_from == 4 and shorter.losses == [] and shorter.steps_done == 4
    _assert_identical(_tensors(out), _tensors(trained_a))

    # 3 steps, saving every 3: resumes at step 2 (the latest at or before 3) and trains one step.
    three = replace(SETTINGS, steps=3, checkpoint_every=3)
    third, _ = _train(model_dir, lin, out, three)
    assert third.resumed_from == 2 and len(third.losses) == 1
    _train(model_dir, lin, tmp_path / "straight-3", three)
    _assert_identical(_tensors(out), _tensors(tmp_path / "straight-3"))
    assert {p.name for p in (out / CHECKPOINTS).iterdir()} == {f"step-{n}" for n in (2, 3, 4, 6, 8)}


def test_a_checkpoint_of_this_request_that_does_not_fit_is_still_refused(model_dir, lin, trained_a, tmp_path):
    """The family/shape checks stay, for a checkpoint whose request matches but whose files were changed."""
    out = _copy(trained_a, tmp_path / "lora")
    state_file = out / CHECKPOINTS / "step-4" / "state.json"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "settings": {**state["settings"], "rank": 8}}))
    with pytest.raises(ConfigError, match="rank=8"):
        _train(model_dir, lin, out, replace(SETTINGS, steps=5))

    state_file.write_text(json.dumps(state))
    _train(model_dir, lin, tmp_path / "rank-8", replace(SETTINGS, rank=8, steps=1, checkpoint_every=1))
    shutil.copy(tmp_path / "rank-8" / CHECKPOINTS / "step-1" / "adapter_model.safetensors",
                out / CHECKPOINTS / "step-4" / "adapter_model.safetensors")
    with pytest.raises(ProviderError, match="does not fit"):
        _train(model_dir, lin, out, replace(SETTINGS, steps=5))


# -- the build's key of a training request (stages.characters.training_key) --------------------------------------------

def _spec(**changes) -> str:
    lora = {"rank": 16, "alpha": 16, "steps": 1000, "learning_rate": 1e-4, "resolution": 512, "batch_size": 1,
            "gradient_accumulation": 4, "mixed_precision": "fp16", "checkpoint_every": 100, "seed": 0}
    data = {"character": "xiaoyu", "name": "Lin Xiaoyu", "look": "white blouse", "image": {},
            "references": {"min_count": 2, "min_short_side": 32}, "lora": lora}
    for name, value in changes.items():
        if name in lora:
            lora[name] = value
        else:
            data[name] = value
    return json.dumps(data)


def test_the_training_key_covers_the_request_and_leaves_out_how_far_and_how_keyframes_are_drawn(tmp_path):
    from shortdrama.config import ImageConfig
    from shortdrama.stages.characters import LoraSpec, _lora_request, training_key

    refs = [_picture(tmp_path / f"refs/ref_{i}.png", (40 * i, 90, 200), i) for i in range(2)]
    sidecar = tmp_path / "refs/ref_0.txt"
    sidecar.write_text("profile view")
    files = [*refs, sidecar]
    image = ImageConfig(provider="diffusers", model="sd15", model_dir="models/sd15", family="sd15")

    def key(spec: str = _spec(), references=files, img: ImageConfig = image) -> str:
        return training_key(_lora_request(LoraSpec.from_json(spec), references), img)

    base = key()
    # Resumable: how far to train, how often to save, and how keyframes are sampled from the base model.
    assert key(_spec(steps=2000)) == key(_spec(checkpoint_every=7)) == base
    assert key(img=image.model_copy(update={"steps": 40, "guidance": 3.0, "scheduler": "euler"})) == base
    assert key(img=image.model_copy(update={"gen_width": 256, "gen_height": 448})) == base
    # Not resumable: everything else the adapter depends on.
    others = [key(_spec(look="red coat")), key(_spec(character="haoyu")), key(_spec(seed=1)),
              key(_spec(learning_rate=2e-4)), key(_spec(rank=8)), key(_spec(resolution=256)),
              key(_spec(mixed_precision="no")),
              key(references=[*files, _picture(tmp_path / "refs/ref_9.png", (1, 2, 3), 0)]),
              key(img=image.model_copy(update={"model_dir": "models/other-sd15"})),
              key(img=image.model_copy(update={"family": "sdxl"}))]
    _picture(refs[1], (250, 250, 250), 5)  # the same file name, another photo
    others.append(key())
    sidecar.write_text("front view")  # a caption sidecar edit
    others.append(key())
    assert base not in others and len(set(others)) == len(others)


def test_the_training_job_retrains_for_a_look_or_seed_edit_and_the_keyframes_change(model_dir, tmp_path):
    """Through the job's own entry points (stages' train_character_lora / generate_keyframe, what the Snakemake
    scripts call) with the output and its training folder where the build keeps them: each edit gives other
    adapter weights, equal to a training of the edited request in an empty folder, and another keyframe."""
    from shortdrama.stages.characters import LoraSpec, train_character_lora
    from shortdrama.stages.keyframes import KeyframeSpec, generate_keyframe
    from shortdrama.config import load_config
    from shortdrama.cost.call import Runtime
    from shortdrama.schemas import Scene

    refs = [_picture(tmp_path / f"refs/{i}.png", (60 * i, 120, 200 - 60 * i), 3 * i) for i in range(2)]
    base = ["lora=sd15", "image=sd15", f"image.model_dir={model_dir}", "image.steps=2", "image.gen_width=32",
            "image.gen_height=56", "render=480p", "lora.steps=2", "lora.resolution=32", "lora.mixed_precision=no",
            "lora.checkpoint_every=1", "lora.learning_rate=0.02", "lora.min_references=2", "lora.min_short_side=32",
            f"series.cast.xiaoyu.references=[{','.join(str(p) for p in refs)}]"]
    scene = Scene.model_validate({"location": {"setting": "INT", "description": "A tea house"}, "duration": 2,
                                  "characters": ["Lin Xiaoyu"], "action": "Lin Xiaoyu pours the tea",
                                  "camera": "medium"})

    def build(folder: Path, *edit: str) -> tuple[dict[str, torch.Tensor], np.ndarray]:
        cfg = load_config([*base, *edit])
        runtime = Runtime.from_config(cfg, folder, folder / "cache")
        lora = folder / "characters/xiaoyu/lora.safetensors"
        train_character_lora(LoraSpec.of(cfg, "xiaoyu").to_json(), refs, lora, runtime=runtime)
        keyframe = folder / "keyframe.png"
        generate_keyframe(KeyframeSpec.of(cfg, scene).to_json(), keyframe, 1, 1, [lora], runtime=runtime)
        from safetensors.torch import load_file

        return load_file(lora), np.asarray(Image.open(keyframe).convert("RGB"), np.int16)

    job = tmp_path / "results"  # one folder, as the build's: each edit finds the last training's checkpoints
    weights, picture = build(job)
    for edit in (["series.cast.xiaoyu.look=an old woman in a grey wool coat"], ["lora.seed=5"]):
        new_weights, new_picture = build(job, *edit)
        _assert_different(weights, new_weights)
        fresh_weights, fresh_picture = build(tmp_path / f"fresh-{edit[0].split('=')[0]}", *edit)
        _assert_identical(new_weights, fresh_weights)
        assert np.abs(new_picture - picture).max() > 0, f"the keyframe did not change after {edit}"
        assert np.array_equal(new_picture, fresh_picture)
        weights, picture = new_weights, new_picture
