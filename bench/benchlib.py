"""What every benchmark shares: where figures go, and what they were measured with.

Each figure file in bench/figures/ carries the time, the command, the library versions and the
machine, so a ratio is never quoted against the wrong Snakemake or CPU; the ratios themselves are
always against a baseline measured in the same run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIGURES = REPO / "bench" / "figures"
sys.path.insert(0, str(REPO / "tests"))  # the fake vendor servers (tests/fakes) serve the benchmarks too


def library_versions(libraries: tuple[str, ...]) -> dict[str, object]:
    """Python's version, each library's (None: not installed), and the checkout measured: its commit,
    with "+dirty" where it had uncommitted changes."""
    versions: dict[str, object] = {"python": platform.python_version()}
    for name in libraries:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True)
        versions["shortdrama"] = commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        versions["shortdrama"] = None
    return versions


def environment(libraries: tuple[str, ...] = ("snakemake", "httpx", "imageio-ffmpeg", "av")) -> dict[str, object]:
    return {
        "measured_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": [Path(sys.argv[0]).name if sys.argv else "?", *sys.argv[1:]],
        "versions": library_versions(libraries),
        "device": {"type": "cpu", "name": _cpu_name(), "cpus": os.cpu_count(), "platform": platform.platform(),
                   "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
    }


def write_figure(name: str, figures: dict[str, object]) -> Path:
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / f"{name}.json"
    path.write_text(json.dumps({**figures, "environment": environment()}, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {path.relative_to(REPO)}")
    return path


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
