"""Every API key a build needs is named before its first job (shortdrama.credentials)."""

import pytest

from shortdrama.config import VIDEO_VENDORS, group_options, load_config
from shortdrama.credentials import check_credentials, vendor_requires, missing_keys, needed_keys
from shortdrama.errors import ConfigError, ProviderError
from shortdrama.video.vendors import adapter
from shortdrama.video.vendors.base import Keys, Session, VendorModel

HOSTED = ["llm=deepseek", "video=kling"]
ALL_SET = {"DEEPSEEK_API_KEY": "sk-deep-0001", "KLING_ACCESS_KEY": "ak-0002", "KLING_SECRET_KEY": "sk-kling-0003"}


def _error(overrides, environ) -> str:
    with pytest.raises(ConfigError) as info:
        check_credentials(load_config(overrides), environ)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_deepseek_and_kling_without_their_keys_is_one_line_naming_every_variable_and_preset():
    assert _error(HOSTED, {}) == (
        "llm=deepseek (conf/llm/deepseek.yaml) needs the environment variable DEEPSEEK_API_KEY; "
        "video=kling (conf/video/kling.yaml) needs the environment variables KLING_ACCESS_KEY and KLING_SECRET_KEY: "
        "set them in the environment (the values never go into any file)")


def test_with_every_key_set_nothing_is_missing():
    cfg = load_config(HOSTED)
    check_credentials(cfg, ALL_SET)
    assert missing_keys(cfg, ALL_SET) == []
    # Both models of Kling's chain read the same two variables; the writer reads one.
    assert [(n.group, n.model, n.variables) for n in needed_keys(cfg)] == [
        ("llm", "deepseek-flash", ("DEEPSEEK_API_KEY",)),
        ("video", "kling-v2-1", ("KLING_ACCESS_KEY", "KLING_SECRET_KEY")),
        ("video", "kling-v1-6", ("KLING_ACCESS_KEY", "KLING_SECRET_KEY"))]


def test_only_the_missing_ones_are_named_and_no_value_is_shown():
    environ = {**ALL_SET, "KLING_SECRET_KEY": "   "}  # a key of spaces is no key
    del environ["DEEPSEEK_API_KEY"]
    message = _error(HOSTED, environ)
    assert message == ("llm=deepseek (conf/llm/deepseek.yaml) needs the environment variable DEEPSEEK_API_KEY; "
                       "video=kling (conf/video/kling.yaml) needs the environment variable KLING_SECRET_KEY: "
                       "set them in the environment (the values never go into any file)")
    assert "ak-0002" not in message and "KLING_ACCESS_KEY" not in message
    only_video = _error(["video=kling"], {"KLING_ACCESS_KEY": "ak-0002"})
    assert only_video.startswith("video=kling (conf/video/kling.yaml) needs the environment variable KLING_SECRET_KEY: set it")


def test_the_process_environment_is_read_by_default(monkeypatch):
    for name, value in ALL_SET.items():
        monkeypatch.setenv(name, value)
    check_credentials(load_config(HOSTED))
    monkeypatch.delenv("KLING_SECRET_KEY")
    with pytest.raises(ConfigError, match="needs the environment variable KLING_SECRET_KEY"):
        check_credentials(load_config(HOSTED))


def test_the_offline_default_needs_nothing():
    cfg = load_config()
    assert needed_keys(cfg) == []
    check_credentials(cfg, {})
    # Priced stand-ins, local servers and local models send no key either.
    for overrides in (["llm=fake_paid", "video=fake_paid"], ["llm=local"], ["llm=vllm"], ["video=still"]):
        assert needed_keys(load_config(overrides)) == [], overrides


def test_a_fallback_model_with_its_own_key_is_checked_too():
    # The video engine reads every key of the chain before it submits anything.
    video = ["video=kling", "video.fallback.api_key_env=KLING_BACKUP_ACCESS"]
    message = _error(video, ALL_SET)
    assert message == ("video=kling (conf/video/kling.yaml) needs the environment variable KLING_BACKUP_ACCESS: "
                       "set it in the environment (the values never go into any file)")
    check_credentials(load_config(video), {**ALL_SET, "KLING_BACKUP_ACCESS": "ak-9"})
    # The writer's chain: a hosted fallback behind a free first model still needs its key.
    llm = ["llm=fake_paid", "llm.fallback={provider: openai, model: cheap, base_url: 'https://llm.example/v1', "
                            "api_key_env: CHEAP_LLM_KEY}"]
    assert [n.variables for n in needed_keys(load_config(llm))] == [("CHEAP_LLM_KEY",)]
    assert "needs the environment variable CHEAP_LLM_KEY" in _error(llm, {})


def test_a_vendor_that_needs_a_key_is_reported_where_the_preset_names_none():
    message = _error(["video=runway", "video.api_key_env=null"], {})
    assert message.startswith("video=runway (conf/video/runway.yaml) names no api_key_env, which runway cannot work without")
    kling = _error(["video=kling", "video.secret_key_env=null", "video.fallback.secret_key_env=null"], ALL_SET)
    assert "names no secret_key_env, which kling cannot work without" in kling and "KLING_SECRET_KEY" not in kling


def test_vendor_requirements_match_what_the_adapters_refuse():
    """Each adapter's required_settings lists exactly the vendors whose adapter sends nothing without a key."""
    for vendor in VIDEO_VENDORS:
        entry = VendorModel(base_url="https://vendor.example", model="m", api_key_env=None)

        def refuses(keys: Keys) -> bool:
            try:
                adapter(vendor).headers(Session(entry, keys, send=None))
            except ProviderError:
                return True
            return False

        needs = tuple(name for name, keys in (("api_key_env", Keys(None, "secret")), ("secret_key_env", Keys("key", None)))
                      if refuses(keys))
        assert vendor_requires(vendor) == needs, vendor


@pytest.mark.parametrize("group", ["llm", "video"])
def test_every_hosted_preset_names_the_variables_its_yaml_asks_for(group):
    import yaml

    from shortdrama.config import CONF_DIR

    for option in group_options(group):
        text = yaml.safe_load((CONF_DIR / group / f"{option}.yaml").read_text())
        chain, asked = text, set()
        while chain:
            asked |= {chain.get("api_key_env"), chain.get("secret_key_env")} - {None}
            chain = chain.get("fallback")
        needs = needed_keys(load_config([f"{group}={option}"]))
        assert {v for n in needs for v in n.variables} == asked, option
        assert all(n.preset == f"conf/{group}/{option}.yaml" for n in needs)
        if asked:
            assert f"{group}={option} (conf/{group}/{option}.yaml) needs" in _error([f"{group}={option}"], {})
