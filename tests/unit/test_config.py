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


def _default_slots() -> dict[str, object]:
    """The group slots of conf/config.yaml's defaults list: group -> its default option (None: none)."""
    defaults = yaml.safe_load((CONF_DIR / "config.yaml").read_text())["defaults"]
    return {group.split()[-1]: option for entry in defaults if isinstance(entry, dict) for group, option in entry.items()}


def test_every_yaml_file_is_reachable_from_a_group():
    files = {p.relative_to(CONF_DIR).as_posix() for p in CONF_DIR.rglob("*.yaml")}
    reachable = {"config.yaml"} | {f"{g}/{o}.yaml" for g in _default_slots() for o in group_options(g)}
    assert files == reachable


def test_the_groups_are_the_models_fields_with_a_folder_and_a_default():
    from shortdrama.config import PROVIDER_GROUPS, AppConfig, ProviderConfig

    slots = _default_slots()
    folders = {p.name for p in CONF_DIR.iterdir() if p.is_dir()}
    assert set(slots) == folders, "every folder in conf/ needs its line in the defaults list of conf/config.yaml"
    assert list(GROUPS) == [name for name in AppConfig.model_fields if name in folders]
    assert all(slots[group] for group in GROUPS), "every group of AppConfig has a default option"
    assert set(PROVIDER_GROUPS) == {g for g in GROUPS if issubclass(AppConfig.model_fields[g].annotation, ProviderConfig)}
    assert PROVIDER_GROUPS == ("llm", "image", "video", "voice", "music", "lipsync")
    # A slot that is no field of AppConfig (experiment/) may only hold files that write to the top level.
    for group in set(slots) - set(GROUPS):
        assert group not in AppConfig.model_fields and slots[group] is None
        for option in group_options(group):
            assert (CONF_DIR / group / f"{option}.yaml").read_text().startswith("# @package _global_"), (group, option)
            load_config([f"{group}={option}"])


def test_the_video_providers_come_from_the_vendor_registry():
    import typing

    from shortdrama.config import VIDEO_VENDORS, VideoConfig
    from shortdrama.video.vendors import GATEWAY, VENDORS, adapter

    assert VIDEO_VENDORS == VENDORS == ("fal", "kling", "minimax", "replicate", "runway", "seedance")
    accepted = typing.get_args(VideoConfig.model_fields["provider"].annotation)
    assert accepted == ("animatic", "fake_paid", "job_api", "diffusers", *VENDORS)
    for name in (GATEWAY, *VENDORS):
        assert adapter(name).name == name
    with pytest.raises(ConfigError, match="video.provider=\"foo\": Input should be 'animatic', 'fake_paid', 'job_api', "
                                          "'diffusers', 'fal', 'kling', 'minimax', 'replicate', 'runway' or 'seedance'$"):
        load_config(["video.provider=foo"])


def test_a_vendor_module_is_a_provider_by_its_file_name(tmp_path):
    """Adding a vendor is one module: the registry finds it by its file name, with no list to edit."""
    from shortdrama.video import vendors

    package = tmp_path / "vendors"
    package.mkdir()
    for name in ("__init__", "base", "gateway", "kling", "acme_video"):
        (package / f"{name}.py").write_text("")
    assert vendors._discover([str(package)]) == {"job_api": "gateway", "acme_video": "acme_video", "kling": "kling"}


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
        ("series.language=fr", "series.language=\"fr\": Input should be 'en', 'zh' or 'vi'"),
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


# -- every field the models declare is a plain override ------------------------------------------
#
# The YAML presets spell out only what they choose; a field left at its default must still take a
# plain `group.key=value` (not only `+group.key=value`). The walk below covers every option file of
# every group and every field of the group's pydantic model (nested models and cast entries
# included): it picks, for each field, a different value the models accept (greedily, so that the
# values fit together), passes them all as plain overrides in one composition and checks each one in
# the validated AppConfig.


def _hydra_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_hydra_value(v)}" for k, v in value.items()) + "}"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


_STRINGS = {"base_url": ["http://127.0.0.1:9/v1"], "api_key_env": ["OTHER_API_KEY"], "secret_key_env": ["OTHER_SECRET"],
            "checked": ["2025-01-02"], "resolution": ["1080x1920", "480x854"], "audio_bitrate": ["96k"],
            "primary_colour": ["&H0000FFFF"], "outline_colour": ["&H00112233"], "back_colour": ["&H80000000"],
            "platform": ["vertical_app"], "source": ["a platform's help page"]}


def _candidates(path: str, annotation, current) -> list:
    """Values to try for one field, different from `current` first, `current` itself last."""
    import types
    import typing

    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional, annotation = len(args) < len(typing.get_args(annotation)), args[0]
    name = path.rsplit(".", 1)[-1]
    origin = typing.get_origin(annotation)
    values: list = []
    if origin is typing.Literal:
        values = list(typing.get_args(annotation))
    elif annotation is bool:
        values = [not current]
    elif annotation is int:
        base = 4 if current is None else current
        values = [base + step for step in (1, -1, 8, -8, 16, -16, 4, -4)]
    elif annotation is float:
        base = 1.5 if current is None else current
        values = [base * 2, base / 2, base + 0.5, base - 0.5, 0.25, 1.5]
    elif annotation is str:
        values = _STRINGS.get(name, [f"changed {path}"])
    elif origin is list:
        values = [[5.0, 10.0, 15.0]] if typing.get_args(annotation)[0] is float else [["refs/changed"]]
    elif origin is dict:
        # Hydra merges a map given on the command line into the preset's: keep the keys already there.
        values = [{**(current or {}), "1080p": 1.25}] if name == "resolution_multiplier" else []
    if optional:
        values.append(None)
    return [v for v in values if v != current] + [current]


def _leaves(model, prefix: str, raw: dict):
    """(dotted path, annotation, current raw value) of every field, into nested models and cast entries."""
    from pydantic import BaseModel

    from shortdrama.config import CharacterConfig

    for name, field in model.model_fields.items():
        path, annotation = f"{prefix}.{name}", field.annotation
        value = (raw or {}).get(name, None if field.is_required() else field.get_default(call_default_factory=True))
        value = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _leaves(annotation, path, value or {})
        elif name == "cast":
            for cid, character in value.items():
                yield from _leaves(CharacterConfig, f"{path}.{cid}", character)
        else:
            yield path, annotation, value


def _set(raw: dict, path: str, value) -> dict:
    import copy

    result = copy.deepcopy(raw)
    *parents, last = path.split(".")
    node = result
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return result


def _reached(cfg, path: str):
    node = cfg
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node.model_dump(mode="json") if hasattr(node, "model_dump") else node


_OPTION_FILES = [(g, o) for g in GROUPS for o in group_options(g)]


@pytest.mark.parametrize("group, option", _OPTION_FILES, ids=[f"{g}={o}" for g, o in _OPTION_FILES])
def test_every_declared_field_takes_a_plain_override(group, option):
    from shortdrama.config import AppConfig, compose_raw
    from shortdrama.errors import ShortDramaError

    partner = {"lora": "image"}.get(group)
    base = [f"{group}={option}"] + ([f"{partner}={option}"] if partner and option in group_options(partner) else [])
    raw = compose_raw(base)
    model = AppConfig.model_fields[group].annotation
    chosen: dict[str, object] = {}
    unchanged = []
    for path, annotation, current in _leaves(model, group, raw[group]):
        if path.endswith(".provider"):
            continue  # last: which values fit depends on the others
        for value in _candidates(path, annotation, current):
            try:
                validate_config(_set(raw, path, value))
            except ShortDramaError:
                continue
            raw, chosen[path] = _set(raw, path, value), value
            unchanged += [path] if value == current else []
            break
        else:
            raise AssertionError(f"no value for {path} validates")
    provider = f"{group}.provider"
    if provider in {p for p, _, _ in _leaves(model, group, raw[group])}:
        chosen[provider] = raw[group]["provider"]  # the same provider, spelled out as a plain override
    assert len(chosen) >= 3

    overrides = base + [f"{path}={_hydra_value(value)}" for path, value in chosen.items()]
    assert not [o for o in overrides if o.startswith("+")], "every override is plain"
    cfg = load_config(overrides)
    for path, value in chosen.items():
        assert _reached(cfg, path) == value, path
    # Nearly every field got a value other than its preset's: only fields no other value fits stay.
    assert len(unchanged) <= max(2, len(chosen) // 8), unchanged


@pytest.mark.parametrize("group", GROUPS)
def test_a_misspelt_key_is_still_refused_with_one_line(group):
    with pytest.raises(ConfigError) as info:
        load_config([f"{group}.no_such_field=1"])
    message = str(info.value)
    assert message.startswith(f"{group}.no_such_field=1: unknown key '{group}.no_such_field'; known keys there: ")
    assert "\n" not in message
    from shortdrama.config import AppConfig

    # The keys listed are the fields a plain override may set, whether or not the preset spells them out.
    listed = message.split("known keys there: ", 1)[1].split(", ")
    assert set(AppConfig.model_fields[group].annotation.model_fields) <= set(listed)


def test_a_default_left_out_of_the_preset_is_a_plain_override():
    # The README's example: the offline preset has no scene_batch_size, the model does.
    assert "scene_batch_size" not in compose_raw_keys("llm")
    assert load_config(["llm.scene_batch_size=3"]).llm.scene_batch_size == 3
    # Through Snakemake's --config spelling as well.
    cfg = load_config(overrides_from_snakemake({"llm__critic_rounds": 0, "render__subtitles__burn": False}))
    assert (cfg.llm.critic_rounds, cfg.render.subtitles.burn) == (0, False)
    # A cast id is no field: a new one still needs +, and a typo names the ones there are.
    with pytest.raises(ConfigError, match="unknown key 'series.cast.nobody.look'; known keys there: haoyu, meifang, xiaoyu"):
        load_config(["series.cast.nobody.look=x"])
    # A typo below a level the preset leaves out names that level's fields.
    with pytest.raises(ConfigError, match=r"^render.subtitles.brun=false: unknown key 'render.subtitles.brun'; "
                                          r"known keys there: back_colour, border_style, burn, font, font_size, "
                                          r"margin_l, margin_r, margin_v, outline, outline_colour, position, "
                                          r"primary_colour, shadow, soft$"):
        load_config(["render.subtitles.brun=false"])
    # A field the preset does spell out is overridden exactly as before.
    assert load_config(["video=kling", "video.fallback.model=kling-v1-5"]).video.fallback.model == "kling-v1-5"


def compose_raw_keys(group: str) -> set[str]:
    from shortdrama.config import compose_raw

    return set(compose_raw()[group])


def test_a_group_chosen_as_null():
    """`experiment=null` is the default (no preset); a group the build needs says what it takes."""
    assert load_config(["experiment=null"]) == load_config([])
    with pytest.raises(ConfigError, match=r"^video=null: video needs one of its options; choose one of: animatic, "):
        load_config(["video=null"])


def test_a_cached_composition_is_the_composition(tmp_path, monkeypatch):
    """The second load of the same overrides skips Hydra (conf/../.cache/compose) and gives the same
    configuration, for every option of every group; a changed YAML file or a changed environment
    variable that a YAML file interpolates is composed afresh."""
    import shutil

    from shortdrama.config.compose import compose_raw

    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    choices = [[]] + [[f"{group}={option}"] for group in [*GROUPS, "experiment"] for option in group_options(group)]
    for overrides in choices:
        first = compose_raw(overrides, conf)
        assert compose_raw(overrides, conf) == first, overrides
    assert len(list((tmp_path / ".cache" / "compose").glob("*.json"))) == len(choices)

    monkeypatch.setenv("VIDEO_GATEWAY_URL", "http://127.0.0.1:9/v1")
    assert compose_raw(["video=gateway_kling"], conf)["video"]["base_url"] == "http://127.0.0.1:9/v1"
    series = conf / "series" / "demo.yaml"
    series.write_text(series.read_text().replace("episodes: 2", "episodes: 3"))
    assert compose_raw([], conf)["series"]["episodes"] == 3
