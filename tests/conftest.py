import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

# A series small enough to build in seconds: one or two episodes of two short scenes.
TINY = [
    "series.episodes=1",
    "series.scenes_per_episode.min=2",
    "series.scenes_per_episode.max=2",
    "series.scene_duration.min=2",
    "series.scene_duration.max=3",
    "render=480p",
]


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


def run_snakemake(workdir: Path, *config: str, extra: tuple[str, ...] = (), check: bool = True) -> subprocess.CompletedProcess:
    """Run the real Snakemake on the repository's Snakefile with `workdir` as its working directory."""
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "2", *extra]
    if config:
        cmd += ["--config", *config]
    # Offline like CI: a model that is not on disk must fail, never be fetched from a hub.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def tiny_config(*more: str) -> list[str]:
    import json

    return [f"overrides={json.dumps(TINY + list(more))}"]
