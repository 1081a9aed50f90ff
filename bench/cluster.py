"""Cluster overhead: the tiny series through `--profile profiles/slurm` on a single-node Slurm against
the same series built locally (`--profile profiles/local`), each from nothing (own work dir, own cache),
in the same run. Needs a reachable Slurm and the executor plugin:

    sudo bash ci/slurm/up.sh && .venv/bin/pip install -e '.[slurm]'
    .venv/bin/python bench/cluster.py
    sudo bash ci/slurm/down.sh && .venv/bin/pip uninstall -y snakemake-executor-plugin-slurm

The profile runs the writers as local rules on the head node, a scene's keyframe and clip as one group
job, an episode's audio, subtitles and render as one group job, and checks job states every 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import REPO, write_figure

SERIES = ["render=480p", "video=still", "series.episodes=1", "series.scenes_per_episode.min=2",
          "series.scenes_per_episode.max=2", "series.scene_duration.min=2", "series.scene_duration.max=2"]


def build(work: Path, profile: str, extra: list[str]) -> tuple[float, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "SHORTDRAMA_CACHE_DIR": str(work.parent / f"cache-{work.name}")}
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work),
           "--profile", str(REPO / "profiles" / profile), *extra, "--config", f"overrides={json.dumps(SERIES)}"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{profile} build failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return took, proc.stdout + proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cores", default="2", help="the local build's cores")
    parser.add_argument("--jobs", default="4", help="Slurm jobs at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shortdrama-bench-cluster-") as tmp:
        local_s, _ = build(Path(tmp) / "local", "local", ["--cores", args.cores])
        slurm_s, log = build(Path(tmp) / "slurm", "slurm", ["--jobs", args.jobs])
    submitted = len(re.findall(r"has been submitted with SLURM jobid", log))
    local_rules = sorted(set(re.findall(r"^localrule (\w+):", log, re.M)) - {"all"})
    ratio = round(slurm_s / local_s, 3)
    print(f"local {local_s:.1f} s, Slurm {slurm_s:.1f} s ({submitted} Slurm jobs; on the head node: "
          f"{', '.join(local_rules)}): {ratio}x")
    write_figure("cluster", {"benchmark": "cluster", "goal": "Slurm <= 3 x local for the tiny series",
                             "series": SERIES, "local_s": round(local_s, 2), "slurm_s": round(slurm_s, 2),
                             "ratio": ratio, "slurm_jobs": submitted, "head_node_rules": local_rules})


if __name__ == "__main__":
    main()
