"""Model folders and Hugging Face ids resolved from the local cache only: never a download."""

import socket
from pathlib import Path

import pytest

from shortdrama.errors import ProviderError
from shortdrama.model_paths import CHECKOUT, resolve_model


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def fake_cache(root: Path, repo_id: str) -> Path:
    """The layout huggingface_hub writes: models--owner--name/{refs/main, snapshots/<rev>/...}."""
    repo = root / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / "0123456789abcdef0123456789abcdef01234567"
    (snapshot / "unet").mkdir(parents=True)
    (snapshot / "model_index.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(snapshot.name)
    return snapshot


def test_a_folder_is_used_as_it_is(tmp_path):
    assert resolve_model(str(tmp_path)) == tmp_path
    assert resolve_model("conf") == CHECKOUT / "conf"


def test_a_model_id_comes_from_the_local_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    snapshot = fake_cache(tmp_path / "hub", "acme/tiny-sd")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert resolve_model("acme/tiny-sd").resolve() == snapshot.resolve()


def test_an_uncached_model_id_says_how_to_get_it(tmp_path, monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ProviderError, match=r"image.model_dir=acme/missing: no folder .* and no cached snapshot .*"
                                            r"`hf download acme/missing`"):
        resolve_model("acme/missing")


def test_unset_is_one_clear_error():
    with pytest.raises(ProviderError, match="video.model_dir is not set"):
        resolve_model(None, "video")
