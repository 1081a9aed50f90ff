"""conf/experiment/: presets of several group choices at once (`experiment=sd15_characters`).

Every preset composes and validates, yields the group choices it names, writes to the top level
(`# @package _global_`), and points what it needs (weights) at a path the docs name.
"""

import re
from pathlib import Path

import pytest
import yaml

from shortdrama.config import CONF_DIR, group_options, load_config, overrides_from_snakemake
from shortdrama.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = group_options("experiment")

# What each preset is for, as the docs describe it: the sections it must yield.
EXPECTED = {
    "sd15_characters": {"image.provider": "diffusers", "image.family": "sd15", "lora.enabled": True,
                        "video.provider": "animatic", "llm.provider": "offline"},
    "sdxl_wan": {"image.provider": "diffusers", "image.family": "sdxl", "lora.enabled": True,
                 "video.provider": "diffusers", "video.pipeline": "wan22_ti2v"},
    "hosted_kling_deepseek": {"llm.provider": "openai", "llm.api_key_env": "DEEPSEEK_API_KEY",
                              "video.provider": "kling", "render.resolution": "1080x1920",
                              "budget.series_usd": 40.0, "image.provider": "procedural"},
    "paid_standins": {"llm.provider": "fake_paid", "video.provider": "fake_paid", "lora.enabled": False},
}


def _claims(name: str) -> dict[str, str]:
    """The `override /group: option` entries of a preset's defaults list."""
    text = (CONF_DIR / "experiment" / f"{name}.yaml").read_text()
    claims = {}
    for entry in yaml.safe_load(text).get("defaults", []):
        for key, option in entry.items():
            match = re.fullmatch(r"override /(\w+)", key)
            assert match, f"{name}: defaults entry {key!r} is not `override /group`"
            claims[match[1]] = option
    return claims


def _get(cfg, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def test_every_preset_is_expected_here_and_described_in_the_docs():
    assert set(EXPERIMENTS) == set(EXPECTED), "describe a new preset in EXPECTED (and in docs/configuration.md)"
    docs = (ROOT / "docs" / "configuration.md").read_text()
    for name in EXPERIMENTS:
        assert f"| `{name}` |" in docs, f"docs/configuration.md has no row for experiment {name}"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_preset_composes_and_yields_its_choices(name):
    text = (CONF_DIR / "experiment" / f"{name}.yaml").read_text()
    assert text.startswith("# @package _global_\n"), "an experiment writes to the top level"
    assert "Needs:" in text, "say what the preset needs (weights, keys) in its comment"
    cfg = load_config([f"experiment={name}"])
    claims = _claims(name)
    assert claims, f"{name} picks no group option"
    # Each group it picks is exactly that group's preset, unless the preset's own body changes it.
    body = set(yaml.safe_load(text)) - {"defaults"}
    explicit = load_config([f"{group}={option}" for group, option in claims.items()])
    for group, option in claims.items():
        assert option in group_options(group), f"{name}: {group}={option} is no option"
        if group not in body:
            assert getattr(cfg, group) == getattr(explicit, group), (name, group)
        if hasattr(getattr(cfg, group), "provider"):  # a provider section names the preset file it came from
            assert getattr(cfg, group).preset == f"conf/{group}/{option}.yaml"
    for dotted, expected in EXPECTED[name].items():
        assert _get(cfg, dotted) == expected, (name, dotted)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_presets_that_need_weights_point_at_a_models_path_the_docs_name(name):
    cfg = load_config([f"experiment={name}"])
    text = (CONF_DIR / "experiment" / f"{name}.yaml").read_text()
    for group in ("image", "video"):
        section = getattr(cfg, group)
        if section.provider != "diffusers":
            continue
        assert section.model_dir.startswith("models/"), (name, group, section.model_dir)
        assert section.model_dir in (ROOT / "docs" / "characters.md").read_text(), f"docs/characters.md does not name {section.model_dir}"
        assert section.model_dir in text, f"{name}'s comment does not say where its weights go"


def test_the_command_line_wins_over_a_preset():
    cfg = load_config(["experiment=sd15_characters", "image=sdxl", "lora=sdxl", "seed=3"])
    assert (cfg.image.family, cfg.seed) == ("sdxl", 3)
    cfg = load_config(["experiment=hosted_kling_deepseek", "budget.series_usd=5"])
    assert cfg.budget.series_usd == 5.0 and cfg.video.provider == "kling"


def test_snakemake_config_reaches_a_preset():
    assert overrides_from_snakemake({"experiment": "paid_standins"}) == ["experiment=paid_standins"]
    assert load_config(overrides_from_snakemake({"experiment": "paid_standins"})).llm.provider == "fake_paid"


def test_an_unknown_preset_is_one_line_listing_the_presets():
    with pytest.raises(ConfigError) as info:
        load_config(["experiment=nope"])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("experiment=nope: unknown experiment option; choose one of: ")
    assert all(name in message for name in EXPERIMENTS)


def test_shortdrama_config_takes_an_experiment(capsys):
    from shortdrama.cli import main

    assert main(["config", "experiment=paid_standins"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["llm"]["provider"] == "fake_paid" and shown["video"]["provider"] == "fake_paid"
