"""`shortdrama plan` prices every rule that calls a provider from the stage registry: the character
rules too (GPU hours where the image pricing has a rate), with their cache hits predicted."""

import numpy as np
import pytest
from PIL import Image

from shortdrama.config import load_config
from shortdrama.cost.call import call_key
from shortdrama.plan import FREE_RULES, RULE_ORDER, Planner
from shortdrama.stages.characters import STEP_SECONDS
from shortdrama.stages.registry import RULES
from shortdrama.workflow import Workflow


def _photos(folder, count=3):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)).save(folder / f"ref_{i}.png")
    return folder


@pytest.fixture
def planner(tmp_path):
    refs = _photos(tmp_path / "refs")
    cfg = load_config(["lora=sd15", "image=sd15", "image.model_dir=models/sd15", "lora.min_references=2",
                       "lora.min_short_side=32", f"series.cast.xiaoyu.references=['{refs}']",
                       "image.pricing.per_gpu_hour=3.0", f"cache.dir={tmp_path / 'cache'}"])
    wf = Workflow(cfg, [], checkout=tmp_path, workdir=tmp_path / "work")
    return Planner(wf, wf.runtime(tmp_path), tmp_path / "scratch")


def _dry_run_job(rule, **wildcards):
    return {"rule": rule, "wildcards": {"series": "demo", **wildcards}, "reason": "Missing output files: x",
            "output": [f"results/demo/{rule}"]}


def test_every_priced_rule_is_in_the_plan_order_and_the_free_ones_are_named():
    assert RULE_ORDER == list(RULES)
    assert FREE_RULES == {"record_config", "write_subtitles", "render_episode", "choose_take", "check_episode", "write_timeline",
                          "cut_shot", "cut_mix", "deliver_episode", "all"}


def test_lora_training_is_priced_by_gpu_hours_and_a_cached_one_costs_nothing(planner):
    job = _dry_run_job("train_character_lora", character="xiaoyu")
    (first,) = planner.plan([job])
    cfg = planner.wf.cfg.lora
    seconds, native = STEP_SECONDS["sd15"]
    hours = cfg.steps * seconds * cfg.batch_size * cfg.gradient_accumulation / 4 * (cfg.resolution / native) ** 2 / 3600
    assert first.estimate_usd == pytest.approx(3.0 * hours) and first.estimate_usd > 0
    assert not first.cached and first.to_pay == first.estimate_usd

    # The same request answered once: the plan finds it in the cache and prices it at $0.
    stage_job = planner.wf.job("train_character_lora", {"character": "xiaoyu"})
    priced = RULES["train_character_lora"].price(stage_job, planner.runtime)
    done = planner.wf.workdir / "lora.safetensors"
    done.parent.mkdir(parents=True, exist_ok=True)
    done.write_bytes(b"adapter")
    planner.cache.put(call_key(priced.call, priced.provider), {"lora": done}, {"step": "lora_training"})
    (again,) = Planner(planner.wf, planner.runtime, planner.scratch).plan([job])
    assert again.cached and again.to_pay == 0 and again.estimate_usd == first.estimate_usd


def test_references_and_contact_sheets_are_priced_per_image(tmp_path):
    cfg = load_config(["lora=sd15", "image=sd15", "image.model_dir=models/sd15", "image.pricing.per_image=0.01",
                       f"cache.dir={tmp_path / 'cache'}"])
    wf = Workflow(cfg, [], checkout=tmp_path, workdir=tmp_path / "work")
    refs, sheet = Planner(wf, wf.runtime(tmp_path), tmp_path / "scratch").plan([
        _dry_run_job("generate_character_references", character="meifang"),
        _dry_run_job("draw_contact_sheet", character="meifang")])
    assert refs.rule == "generate_character_references" and refs.estimate_usd == pytest.approx(0.01 * 12)
    assert sheet.rule == "draw_contact_sheet" and sheet.estimate_usd == pytest.approx(0.01 * 4)
