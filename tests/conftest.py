import os
from pathlib import Path

import pytest

from builds import REPO


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Tests never read or fill the checkout's shared call cache (.cache/shortdrama)."""
    cache = tmp_path_factory.mktemp("call-cache")
    previous = os.environ.get("SHORTDRAMA_CACHE_DIR")
    os.environ["SHORTDRAMA_CACHE_DIR"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("SHORTDRAMA_CACHE_DIR", None)
    else:
        os.environ["SHORTDRAMA_CACHE_DIR"] = previous


@pytest.fixture
def repo() -> Path:
    return REPO
