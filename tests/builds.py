"""Helpers for the tests that run the real Snakemake: `from builds import run_snakemake, tiny_config`.

They live here, not in conftest.py: tests/unit has a conftest.py of its own, and `from conftest import`
found whichever of the two was imported last.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
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


def qc_flags(results: Path) -> list[dict]:
    """Every flag automated QC raised in a built series (episode reports, which carry the flags of scenes
    none of whose takes passed), after checking each episode has its report."""
    finals = sorted(results.glob("episode_*_final.mp4"))
    reports = sorted(results.glob("episode_*.qc.json"))
    assert finals and len(reports) == len(finals), "every final has its QC report"
    flags = [flag for report in reports for flag in json.loads(report.read_text(encoding="utf-8"))["flags"]]
    selections = [json.loads(p.read_text(encoding="utf-8")) for p in results.glob("ep*/clips/sc*.selection.json")]
    assert selections and all(s["chosen"] >= 1 and s["reason"] for s in selections)
    return flags + [flag for s in selections if s["flagged"] for flag in s["flags"]]


def jobs_run(proc) -> Counter:  # noqa: ANN001 - a CompletedProcess of a build
    """Executed jobs per rule, read from Snakemake's own job headers (in a build's stdout or stderr)."""
    names = re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", proc.stdout + proc.stderr, flags=re.M)
    return Counter(name for name in names if name != "all")
