"""How much an exact rebuild saves: wall time of incremental rebuilds as a ratio of a full build,
all measured in the same run on the same machine.

    .venv/bin/python bench/rebuild.py [--series demo] [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def build(workdir: Path, cores: int, config: list[str]) -> tuple[float, int]:
    cmd = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", str(cores), "--config", *config]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    jobs = sum(1 for line in (proc.stdout + proc.stderr).splitlines()
               if line.startswith(("localrule ", "rule ", "localcheckpoint ", "checkpoint ")) and "all:" not in line)
    return elapsed, jobs


def edit_script(workdir: Path, series: str, change) -> None:  # noqa: ANN001
    path = workdir / "results" / series / "ep01" / "script.json"
    script = json.loads(path.read_text())
    change(script["scenes"][0])
    path.write_text(json.dumps(script, indent=2, ensure_ascii=False))


def bench_arguments() -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", default="demo")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    return args, [f"series={args.series}"]


def main() -> None:
    args, config = bench_arguments()
    with tempfile.TemporaryDirectory(prefix="shortdrama-bench-") as tmp:
        work = Path(tmp)
        rows = [("full build", *build(work, args.cores, config))]
        rows.append(("no-op rebuild", *build(work, args.cores, config)))
        edit_script(work, args.series, lambda s: s["dialogue"][0].update(text="A different line."))
        rows.append(("one dialogue line edited", *build(work, args.cores, config)))
        edit_script(work, args.series, lambda s: s.update(action="A different action."))
        rows.append(("one scene's action edited", *build(work, args.cores, config)))
        rows.append(("video=still", *build(work, args.cores, [*config, "video=still"])))
    print_ratios(rows, f"series={args.series} cores={args.cores}  (ratios against the full build of this run)")


def print_ratios(rows: list[tuple[str, float, int]], title: str) -> None:
    """Each case's wall time as a ratio of the first row's, measured in the same run."""
    baseline = rows[0][1]
    print(title)
    print(f"{'case':28} {'jobs':>5} {'seconds':>8} {'ratio':>7}")
    for name, seconds, jobs in rows:
        print(f"{name:28} {jobs:5d} {seconds:8.2f} {seconds / baseline:7.3f}")


if __name__ == "__main__":
    main()
