"""API-bound clips: does a build keep the hosted API's slots busy, however few cores the machine has?

40 hosted clips (4 episodes x 10 scenes of 3 s) through a fake of the seed's video gateway on 127.0.0.1
whose jobs take a fixed time (8 s), with 8 API slots (video.concurrency=8). The clip phase, from the
start of the first keyframe job (each clip is made from its scene's keyframe) to the last clip
written, is compared with its ideal, max(API ideal, CPU ideal): the API ideal is ceil(clips / slots) x
latency; the CPU ideal is the CPU time of the same jobs, keyframes and clips (Snakemake's benchmark
cpu_time: drawing, conform, checks, Python start-up), over the cores. Measured with the defaults of
`shortdrama build`, and, in the same run, as it was before (each clip job holding one of the cores:
--set-threads generate_clip=1 --set-resources generate_clip:cpu=1). Jobs in flight are counted from the fake's own log
(submit to first download).

    .venv/bin/python bench/api_clips.py [--episodes 4] [--scenes 10] [--latency 8] [--slots 8] [--cores 2]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import REPO, write_figure
from fakes.video_server import Behaviour, FakeVideoServer, Script

KEY = "sk-bench-video-0123456789"
# As it was before issue 14: a waiting clip job holds one of the cores.
BEFORE = ["--set-threads", "generate_clip=1", "--set-resources", "generate_clip:cpu=1"]


def build(work: Path, overrides: list[str], cores: str, extra: list[str], env: dict[str, str]) -> float:
    cmd = [str(Path(sys.executable).with_name("shortdrama")), "build", "-d", str(work), "--cores", cores,
           *(f"--snakemake-arg={arg}" for arg in extra), *overrides]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return time.perf_counter() - started


def job_rows(work: Path, rule: str) -> list[tuple[Path, dict[str, str]]]:
    """(benchmark file, its row) for every job of `rule`."""
    rows = []
    for tsv in sorted(work.glob(f"benchmarks/*/ep*/{rule}/sc*.tsv")):
        with tsv.open() as handle:
            rows.extend((tsv, row) for row in csv.DictReader(handle, delimiter="\t"))
    return rows


def cpu_seconds(work: Path, *rules: str) -> float:
    """The CPU time the jobs of `rules` used, as each job's log says (its process and children, Python's
    start-up included; Snakemake's benchmark cpu_time samples and misses short-lived children)."""
    import re

    total = 0.0
    for rule in rules:
        for log in work.glob(f"logs/*/ep*/{rule}/sc*.log"):
            found = re.search(r"done in [\d.]+ s \(cpu ([\d.]+) s\)", log.read_text(encoding="utf-8"))
            if not found:
                raise SystemExit(f"{log}: no cpu figure")
            total += float(found.group(1))
    return total


def first_keyframe_start(work: Path) -> float:
    """When the first keyframe job started: its PNG's mtime less the job's wall time."""
    starts = []
    for tsv, row in job_rows(work, "generate_keyframe"):
        png = work / "results" / tsv.parts[-4] / tsv.parts[-3] / "keyframes" / (tsv.stem + ".png")
        starts.append(png.stat().st_mtime - float(row["s"]))
    return min(starts)


def run(name: str, args: argparse.Namespace, extra: list[str], cores_for_clips: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="shortdrama-bench-api-") as tmp, \
            FakeVideoServer(Script(default=Behaviour(latency_s=args.latency)), api_key=KEY) as gateway:
        work = Path(tmp) / "work"
        env = {**os.environ, "VIDEO_GATEWAY_API_KEY": KEY, "VIDEO_GATEWAY_URL": gateway.base_url,
               "SHORTDRAMA_CACHE_DIR": str(Path(tmp) / "cache")}
        overrides = ["video=gateway_kling", f"video.concurrency={args.slots}", "budget.series_usd=1000", f"series.episodes={args.episodes}",
                     f"series.scenes_per_episode.min={args.scenes}", f"series.scenes_per_episode.max={args.scenes}",
                     "series.scene_duration.min=3", "series.scene_duration.max=3"]
        wall = build(work, overrides, args.cores, extra, env)
        if args.keep:
            import shutil
            shutil.copytree(work / ".snakemake" / "log", args.keep / name.split(":")[0].replace(" ", "_"), dirs_exist_ok=True)
            shutil.copytree(work / "benchmarks", args.keep / (name.split(":")[0].replace(" ", "_") + "_benchmarks"),
                            dirs_exist_ok=True)
        clips = sorted(work.glob("results/*/ep*/clips/*.mp4"))
        submitted = {job.id: job.created for job in gateway.submissions}
        fetched = {job.id: job.fetched for job in gateway.submissions if job.fetched}
        if len(submitted) != len(clips) or len(fetched) != len(clips):
            raise SystemExit(f"{name}: {len(submitted)} jobs, {len(fetched)} fetched, {len(clips)} clips")
        start = first_keyframe_start(work)
        end = max(path.stat().st_mtime for path in clips)
        phase = end - start
        cpu = cpu_seconds(work, "generate_keyframe", "generate_clip")
        api_ideal = math.ceil(len(clips) / args.slots) * args.latency
        cpu_ideal = cpu / cores_for_clips
        ideal = max(api_ideal, cpu_ideal)
        in_flight = []
        for second in range(0, math.ceil(phase) + 1):
            t = start + second
            in_flight.append(sum(1 for job, created in submitted.items() if created <= t < fetched[job]))
        print(f"[{name}] clip phase {phase:.1f} s, ideal {ideal:.1f} s (API {api_ideal:.0f} s, CPU {cpu_ideal:.1f} s): "
              f"{phase / ideal:.2f}x; most in flight {max(in_flight)}; whole build {wall:.1f} s", flush=True)
        return {"name": name, "latency_s": args.latency, "extra_snakemake_args": extra, "clips": len(clips), "clip_phase_s": round(phase, 2),
                "api_ideal_s": api_ideal, "cpu_ideal_s": round(cpu_ideal, 2), "ratio": round(phase / ideal, 3),
                "max_in_flight": max(in_flight), "in_flight_each_second": in_flight, "whole_build_s": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--latency", type=float, default=8.0, help="the job latency of the fake API, seconds")
    parser.add_argument("--also-latency", type=float, default=30.0,
                        help="one more run with the defaults at this latency (0: none): where the API is the bound")
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--cores", default="2", help="what `shortdrama build --cores` gets (the issue's machine: 2)")
    parser.add_argument("--keep", type=Path, help="copy each run's Snakemake log and benchmark files here")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run with clip jobs holding a core")
    parser.add_argument("--only-baseline", action="store_true",
                        help="only the run with clip jobs holding a core (written to api_clips_before.json)")
    args = parser.parse_args()
    cores = os.cpu_count() if args.cores == "all" else int(args.cores)
    if args.only_baseline:
        runs = [run("before: each clip job holds a core", args, BEFORE, cores)]
        write_figure("api_clips_before", {"benchmark": "api_clips", "episodes": args.episodes, "scenes": args.scenes,
                                          "latency_s": args.latency, "slots": args.slots, "cores": cores, "runs": runs})
        return
    runs = [run("shortdrama build defaults", args, [], cores)]
    if args.also_latency:
        runs.append(run(f"shortdrama build defaults, {args.also_latency:g} s jobs", argparse.Namespace(
            **{**vars(args), "latency": args.also_latency}), [], cores))
    if not args.no_baseline:
        runs.append(run("before: each clip job holds a core", args, BEFORE, cores))
    print(f"\n{'run':40} {'phase s':>8} {'ideal s':>8} {'ratio':>6} {'in flight':>9}")
    for r in runs:
        print(f"{r['name']:40} {r['clip_phase_s']:8.1f} {max(r['api_ideal_s'], r['cpu_ideal_s']):8.1f} "
              f"{r['ratio']:6.2f} {r['max_in_flight']:9d}")
    write_figure("api_clips", {"benchmark": "api_clips", "goal": "clip phase <= 1.25 x max(API ideal, CPU ideal)",
                               "episodes": args.episodes, "scenes": args.scenes, "latency_s": args.latency,
                               "slots": args.slots, "cores": cores, "runs": runs})


if __name__ == "__main__":
    main()
