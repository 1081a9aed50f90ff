"""Diffusion models in the real build: tiny Stable Diffusion / SDXL / Wan models built in code stand in for the
weights, so the whole path (references -> training -> keyframes with adapters -> image-to-video clips) runs on
CPU offline."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from builds import jobs_run, run_snakemake

pytestmark = pytest.mark.slow




@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from shortdrama.testing.tiny_sd import build_tiny_sd_model

    return build_tiny_sd_model(tmp_path_factory.mktemp("models") / "tiny-sd")


def references(folder: Path, seed: int, count: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        blocks = rng.integers(0, 256, (8, 6, 3), dtype=np.uint8)
        Image.fromarray(blocks).resize((48, 64), Image.Resampling.BICUBIC).save(folder / f"ref_{i}.png")
    return folder


def lora_tensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(path)


def same_tensors(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def snapshot(work: Path, ids: dict[str, str], on_screen: set[str]) -> tuple[dict, dict]:
    """(character id -> its adapter's tensors, scene number -> its keyframe's bytes)."""
    root = work / "results/demo"
    loras = {ids[name]: lora_tensors(root / f"characters/{ids[name]}/lora.safetensors") for name in on_screen}
    keyframes = {int(p.stem[2:]): p.read_bytes() for p in sorted((root / "ep01/keyframes").glob("sc*.png"))}
    return loras, keyframes


def pixels(png: bytes) -> np.ndarray:
    import io

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def check_retrained(before: tuple[dict, dict], after: tuple[dict, dict], retrained: set[str], scenes: list[set[str]]):
    """The adapters of `retrained` hold other tensors, the others the same; the keyframe of every scene with one of
    them on screen has other pixels, every other keyframe is byte-identical."""
    (loras0, frames0), (loras1, frames1) = before, after
    assert loras0.keys() == loras1.keys() and retrained <= loras0.keys()
    for cid in loras0:
        same = same_tensors(loras0[cid], loras1[cid])
        assert same != (cid in retrained), f"{cid}'s adapter {'was not retrained' if same else 'changed'}"
    assert frames0.keys() == frames1.keys() == set(range(1, len(scenes) + 1))
    for number, ids_in_scene in enumerate(scenes, start=1):
        if ids_in_scene & retrained:
            redrawn = np.abs(pixels(frames0[number]) - pixels(frames1[number])).max() > 0
            assert redrawn, f"sc{number:02d} was not redrawn"
        else:
            assert frames0[number] == frames1[number], f"sc{number:02d} changed"


def test_loras_train_per_character_and_retraining_one_redraws_only_its_scenes(tmp_path, tiny_model):
    # Two characters bring photos; Zhang Meifang has none, so the image model draws her reference set. A learning rate
    # of 0.02 lets two steps move each adapter far enough to show in the 8-bit pixels of the keyframes.
    refs = {cid: references(tmp_path / "refs" / cid, seed) for seed, cid in enumerate(("xiaoyu", "haoyu"))}
    overrides = ["series.episodes=1", "series.scenes_per_episode.min=3", "series.scenes_per_episode.max=3",
                 "series.scene_duration.min=2", "series.scene_duration.max=2", "render=480p", "video=still",
                 "lora=sd15", "lora.steps=2", "lora.resolution=32", "lora.mixed_precision=no", "lora.checkpoint_every=1",
                 "lora.learning_rate=0.02", "lora.min_references=2", "lora.min_short_side=32", "lora.reference_count=3",
                 "image=sd15", f"image.model_dir={tiny_model}", "image.steps=2", "image.gen_width=32",
                 "image.gen_height=56"]
    overrides += [f"series.cast.{cid}.references=['{folder}']" for cid, folder in refs.items()]
    config = f"overrides={json.dumps(overrides)}"
    work = tmp_path / "work"
    first = jobs_run(run_snakemake(work, config))
    script = json.loads((work / "results/demo/ep01/script.json").read_text())
    on_screen = {name for scene in script["scenes"] for name in scene["characters"]}
    ids = {"Lin Xiaoyu": "xiaoyu", "Zhang Meifang": "meifang", "Chen Haoyu": "haoyu"}
    assert first["train_character_lora"] == len(on_screen)
    assert first["draw_contact_sheet"] == len(on_screen)
    assert first["generate_character_references"] == (1 if "Zhang Meifang" in on_screen else 0)
    assert first["generate_keyframe"] == 3
    characters = work / "results/demo/characters"
    for name in on_screen:
        sheet = Image.open(characters / ids[name] / "contact_sheet.png")
        assert sheet.width >= 2 * 256 and sheet.height > 2 * 256  # a 2x2 grid of labelled samples
    if "Zhang Meifang" in on_screen:
        generated = sorted((characters / "meifang/references").glob("ref_*.png"))
        assert [p.name for p in generated] == ["ref_00.png", "ref_01.png", "ref_02.png"]
        assert all(Image.open(p).size == (32, 32) for p in generated)
        captions = {(p.with_suffix(".txt")).read_text().strip() for p in generated}
        assert len(captions) == 3  # each image has its own angle/expression caption
    for png in (work / "results/demo/ep01/keyframes").glob("sc*.png"):
        assert Image.open(png).size == (480, 854)
    assert (work / "results/demo/episode_01_final.mp4").exists()

    # A new reference photo for one character retrains only that character, and redraws only its shots.
    assert {"Lin Xiaoyu", "Chen Haoyu"} <= on_screen  # the offline writer is deterministic
    scenes = [{ids[name] for name in scene["characters"]} for scene in script["scenes"]]
    before = snapshot(work, ids, on_screen)
    references(refs["haoyu"], seed=99, count=3)
    second = jobs_run(run_snakemake(work, config))
    with_him = sum(1 for scene in script["scenes"] if "Chen Haoyu" in scene["characters"])
    assert second["train_character_lora"] == 1
    assert second["draw_contact_sheet"] == second["train_character_lora"]
    assert second["generate_keyframe"] == with_him
    assert second["generate_character_references"] == 0
    assert second["write_episode_script"] == 0 and second["speak_dialogue"] == 0
    # Retrained for real (issue 12): not the checkpoint of the old photo set, and not the cache's old keyframes.
    after = snapshot(work, ids, on_screen)
    check_retrained(before, after, {"haoyu"}, scenes)
    log = (work / "logs/demo/characters/haoyu/train_character_lora.log").read_text()
    assert "not resuming" in log and "step 2/2" in log
    # A look or seed edit retrains for real too: tests/unit/test_lora_resume.py, through the same job entry points.

    # Character intermediates deleted while the keyframes that used them exist are made again (issue 12), the same.
    lost = [characters / "haoyu/lora.safetensors", characters / "xiaoyu/contact_sheet.png"]
    if "Zhang Meifang" in on_screen:
        lost += [characters / "meifang/references/ref_01.png", characters / "meifang/references/ref_01.txt"]
    kept = {path: path.read_bytes() for path in lost}
    for path in lost:
        path.unlink()
    run_snakemake(work, config)
    assert {path: path.read_bytes() for path in lost} == kept
    assert snapshot(work, ids, on_screen)[1] == after[1], "same adapters: the keyframes are the same"


def test_missing_base_model_is_one_clear_line(tmp_path):
    refs = references(tmp_path / "refs", seed=1)
    overrides = ["lora=sd15", "lora.min_references=2", "lora.min_short_side=32", "image=sd15",
                 f"image.model_dir={tmp_path / 'nowhere'}", f"series.cast.xiaoyu.references=['{refs}']"]
    proc = run_snakemake(tmp_path / "work", f"overrides={json.dumps(overrides)}",
                         extra=("results/demo/characters/xiaoyu/lora.safetensors",), check=False)
    assert proc.returncode != 0
    assert f"LoRA base model not found: {tmp_path / 'nowhere'} does not exist" in proc.stderr


def test_sdxl_keyframes_and_wan_clips_switch_the_build_to_local_diffusion(tmp_path):
    from shortdrama.testing.tiny_sd import build_tiny_sdxl_model
    from shortdrama.media import probe
    from shortdrama.testing.tiny_wan import build_tiny_wan_i2v_model

    sdxl = build_tiny_sdxl_model(tmp_path / "models/tiny-sdxl")
    wan = build_tiny_wan_i2v_model(tmp_path / "models/tiny-wan")
    overrides = ["series.episodes=1", "series.scenes_per_episode.min=2", "series.scenes_per_episode.max=2",
                 "series.scene_duration.min=2", "series.scene_duration.max=3", "render=480p",
                 "image=sdxl", f"image.model_dir={sdxl}", "image.steps=2", "image.gen_width=32", "image.gen_height=56",
                 "video=wan21_i2v", f"video.model_dir={wan}", "video.steps=2", "video.gen_width=32",
                 "video.gen_height=48", "video.num_frames=9", "video.native_fps=8"]
    work = tmp_path / "work"
    jobs = jobs_run(run_snakemake(work, f"overrides={json.dumps(overrides)}"))
    assert jobs["generate_keyframe"] == 2 and jobs["generate_clip"] == 2
    script = json.loads((work / "results/demo/ep01/script.json").read_text())
    for number, scene in enumerate(script["scenes"], start=1):
        clip = probe(work / f"results/demo/ep01/clips/sc{number:02d}.mp4")
        video = clip.first("video")
        assert (video.width, video.height) == (480, 854)
        # 9 native frames at 8 fps = 1.125 s: every scene is longer, so each clip was slowed down to fit.
        assert abs(clip.duration - scene["duration"]) <= 1 / 24 + 1e-6
    log = (work / "logs/demo/ep01/generate_clip/sc01/take01.log").read_text()
    assert "wan_i2v on cpu" in log and "interpolated" in log
    final = probe(work / "results/demo/episode_01_final.mp4")
    assert abs(final.duration - sum(s["duration"] for s in script["scenes"])) < 0.25


def test_a_bad_reference_set_stops_only_its_character(tmp_path, tiny_model):
    good = references(tmp_path / "refs/xiaoyu", seed=3)
    bad = references(tmp_path / "refs/haoyu", seed=4)
    Image.new("RGB", (16, 16)).save(bad / "tiny.png")
    (bad / "notes.png").write_text("not an image")
    overrides = ["lora=sd15", "lora.steps=1", "lora.resolution=32", "lora.mixed_precision=no", "lora.min_references=2",
                 "lora.min_short_side=32", "image=sd15", f"image.model_dir={tiny_model}",
                 f"series.cast.xiaoyu.references=['{good}']", f"series.cast.haoyu.references=['{bad}']"]
    targets = [f"results/demo/characters/{cid}/lora.safetensors" for cid in ("haoyu", "xiaoyu")]
    proc = run_snakemake(tmp_path / "work", f"overrides={json.dumps(overrides)}", extra=("--keep-going", *targets),
                         check=False)
    assert proc.returncode != 0
    assert ("character haoyu: reference images: 2 usable: notes.png (not a readable image); "
            "tiny.png (16x16 is under 32 px on the short side)") in proc.stderr
    assert (tmp_path / "work" / targets[1]).is_file() and not (tmp_path / "work" / targets[0]).exists()
