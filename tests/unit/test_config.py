from pathlib import Path

import pytest
import yaml

from shortdrama.config import CONF_DIR, GROUPS, group_options, load_config, overrides_from_snakemake, validate_config
from shortdrama.errors import ConfigError


def test_defaults_compose_and_validate():
    cfg = load_config()
    assert cfg.series.name == "demo"
    assert (cfg.render.width, cfg.render.height) == (720, 1280)
    assert cfg.video.provider == "animatic" and cfg.llm.provider == "offline"


@pytest.mark.parametrize("group", GROUPS)
def test_every_yaml_in_conf_composes_and_validates(group):
    options = group_options(group)
    assert options, f"conf/{group}/ has no options"
    # A LoRA preset trains on the diffusion image model of the same name (lora=sdxl with image=sdxl).
    partner = {"lora": "image"}.get(group)
    for option in options:
        extra = [f"{partner}={option}"] if partner and option in group_options(partner) else []
        cfg = load_config([f"{group}={option}", *extra])
        assert getattr(cfg, group) is not None


def test_lora_without_a_diffusion_image_model_is_one_clear_error():
    with pytest.raises(ConfigError, match="LoRAs are trained on a diffusion image model; add image=sd15"):
        load_config(["lora=sd15"])


def test_scheduler_must_fit_the_model_family():
    with pytest.raises(ConfigError, match="image.scheduler=ddim does not fit image.family=sd3"):
        load_config(["image=sd3", "image.scheduler=ddim"])
    assert load_config(["image=sdxl", "image.scheduler=dpmpp_2m_karras"]).image.scheduler == "dpmpp_2m_karras"


def test_every_yaml_file_is_reachable_from_a_group():
    files = {p.relative_to(CONF_DIR).as_posix() for p in CONF_DIR.rglob("*.yaml")}
    reachable = {"config.yaml"} | {f"{g}/{o}.yaml" for g in GROUPS for o in group_options(g)}
    assert files == reachable


def test_render_presets_are_vertical_9_16():
    for option in group_options("render"):
        render = load_config([f"render={option}"]).render
        assert abs(render.width / render.height - 9 / 16) < 0.01


def test_demo_series_is_small():
    series = load_config().series
    assert series.episodes == 2
    assert (series.scenes_per_episode.min, series.scenes_per_episode.max) == (3, 4)
    assert (series.scene_duration.min, series.scene_duration.max) == (3, 6)


def test_nested_override_reaches_the_model():
    cfg = load_config(["series.episodes=3", "series.cast.xiaoyu.look=red dress", "series.theme=a b c"])
    assert cfg.series.episodes == 3
    assert cfg.series.cast["xiaoyu"].look == "red dress"
    assert cfg.series.theme == "a b c"


@pytest.mark.parametrize(
    "override, expected",
    [
        ("video=foo", "video=foo: unknown video option; choose one of: animatic, fake_paid, gateway_kling, gateway_pika, "
                      "gateway_runway, kling"),
        ("render=4k", "render=4k: unknown render option; choose one of: 1080p, 480p, 720p"),
        ("render.resolution=720x", 'render.resolution="720x": must be WIDTHxHEIGHT'),
        ("render.resolution=1280x720", "is not vertical 9:16"),
        ("series.scene_duration.min=-3", "series.scene_duration.min=-3: Input should be greater than 0"),
        ("series.foo=1", "unknown key 'series.foo'; known keys there: cast, episodes"),
        ("+series.foo=1", "series.foo: unknown key"),
        ("foo=1", "unknown key 'foo'"),
        ("series.language=fr", "series.language=\"fr\": Input should be 'en' or 'zh'"),
        ("render.fps=abc", 'render.fps="abc": Input should be a valid integer'),
    ],
)
def test_bad_input_gives_one_clear_line(override, expected):
    with pytest.raises(ConfigError) as info:
        load_config([override])
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_empty_cast_is_rejected():
    raw = yaml.safe_load(Path(CONF_DIR / "series/demo.yaml").read_text())
    cfg = load_config().model_dump(mode="json")
    cfg["series"] = {**raw, "cast": {}}
    with pytest.raises(ConfigError, match=r"series.cast=\{\}: the cast needs at least one character"):
        validate_config(cfg)


def test_character_ids_must_be_file_safe():
    cfg = load_config().model_dump(mode="json")
    cfg["series"]["cast"] = {"../x": cfg["series"]["cast"]["xiaoyu"]}
    with pytest.raises(ConfigError, match="character id '../x'"):
        validate_config(cfg)


def test_series_name_cannot_escape_results():
    cfg = load_config(["series.name=../../x"])
    assert cfg.series.slug == "x"
    assert "/" not in load_config(["series.name=/etc/passwd"]).series.slug
    assert load_config(["series.name='林晓雨的秘密'"]).series.slug.startswith("x_")
    with pytest.raises(ConfigError, match="cannot parse the override .*quote values"):
        load_config(["series.name=林晓雨的秘密"])


def test_snakemake_config_maps_to_hydra_overrides():
    assert overrides_from_snakemake({"video": "still", "series__episodes": 3, "render__subtitles__burn": False}) == [
        "video=still", "series.episodes=3", "render.subtitles.burn=false"]
    assert overrides_from_snakemake({"overrides": "series.theme='a b' render.fps=30"}) == [
        "series.theme=a b", "render.fps=30"]
    assert overrides_from_snakemake({"overrides": ["series.episodes=4"]}) == ["series.episodes=4"]
    quoted = overrides_from_snakemake({"series__cast__meifang__look": "older woman, red dress", "series__name": "林's"})
    assert quoted == ["series.cast.meifang.look='older woman, red dress'", "series.name='林\\'s'"]
    cfg = load_config(quoted)
    assert cfg.series.cast["meifang"].look == "older woman, red dress" and cfg.series.name == "林's"


def test_too_many_scenes_is_a_config_error():
    with pytest.raises(ConfigError, match="at most 99 scenes"):
        load_config(["series.scenes_per_episode.max=120"])


def test_hosted_presets_name_a_key_variable_never_a_key():
    for option in ("deepseek", "gpt41", "claude_sonnet", "gemini_flash"):
        llm = load_config([f"llm={option}"]).llm
        assert llm.api_key_env and llm.api_key_env.endswith("_API_KEY") and llm.base_url.startswith("https://")
    for option in ("gateway_kling", "gateway_runway", "gateway_pika"):
        video = load_config([f"video={option}"]).video
        assert video.api_key_env == "VIDEO_GATEWAY_API_KEY" and len(video.chain()) == 2
        assert video.pricing.resolution_multiplier["1080p"] == 1.5
    for option in ("kling", "runway", "pika_fal", "replicate", "minimax", "seedance"):
        video = load_config([f"video={option}"]).video
        # Runway's cheaper image-to-video model retired (see the preset): its chain is one model long.
        assert video.api_key_env and video.base_url.startswith("https://")
        assert len(video.chain()) == (1 if option == "runway" else 2)
        assert video.checked and video.preset == f"conf/video/{option}.yaml"
        assert all(step.checked and step.preset == video.preset for step in video.chain())
    assert "base_url" not in load_config(["video=kling"]).video.result_fields(), "a gateway change re-pays nothing"


@pytest.mark.parametrize("url", ["https://user:sk-secret@gateway.example/v1", "https://gateway.example/v1?key=sk-secret"])
def test_a_base_url_cannot_carry_a_credential(url):
    with pytest.raises(ConfigError, match="llm.base_url"):
        load_config(["llm=local", f"llm.base_url='{url}'"])
