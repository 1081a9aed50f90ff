"""Helpers for the tests that run the real Snakemake: `from builds import run_snakemake, tiny_config`.

They live here, not in conftest.py: tests/unit has a conftest.py of its own, and `from conftest import`
found whichever of the two was imported last.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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
    return [f"overrides={json.dumps(TINY + list(more))}"]


def copy_of(built: Path, tmp_path: Path) -> Path:
    """A copy of a built work dir (mtimes and Snakemake metadata preserved) that a test may edit freely."""
    copy = tmp_path / "work"
    shutil.copytree(built, copy, symlinks=True)
    return copy
