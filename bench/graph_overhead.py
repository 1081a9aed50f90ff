"""Graph overhead: what the real workflow costs beyond the DAG it builds.

For each size (episodes x scenes: an offline series, video=still, 2 s scenes), the real workflow is
built, rebuilt with nothing to do, and rebuilt after one scene's action is edited by hand; then a bare
Snakemake workflow of the same DAG shape, generated here from the real jobs (the same rules, the
checkpoint, wildcards, output patterns, inputs and params: the real specs), whose jobs only write their
outputs, goes through the same three steps. Ratios are real / bare, measured in the same run.

    .venv/bin/python bench/graph_overhead.py [--sizes 24x8,100x10] [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import REPO, write_figure

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
FIRST_RULES = ("record_config", "write_outline", "write_episode_script")

BARE_HEAD = '''
import json
from pathlib import Path

BARE = json.loads(Path(config["jobs"]).read_text())
SERIES = BARE["series"]
JOBS = {(job["rule"], tuple(sorted(job["wildcards"].items()))): job for job in BARE["jobs"]}


def job_of(rule, wildcards):
    return JOBS[(rule, tuple(sorted((k, v) for k, v in wildcards.items() if k != "series")))]


def script_of(wildcards):
    return checkpoints.write_episode_script.get(series=wildcards.series, ep=wildcards.ep).output.script


def inputs(rule):
    def of(wildcards):
        found = {name: paths for name, paths in job_of(rule, wildcards)["inputs"].items()}
        if "ep" in wildcards.keys():
            found["script"] = ancient(script_of(wildcards))
        return found
    return of


def spec(rule, reads_script=True):
    def of(wildcards):
        if reads_script and "ep" in wildcards.keys():
            script_of(wildcards)
        return job_of(rule, wildcards)["spec"]
    return of


wildcard_constraints:
    series=SERIES,
    character=r"[a-z][a-z0-9_]*",
    ep=r"\\d{2,3}",
    sc=r"\\d\\d",
    take=r"\\d\\d",


def every_output(wildcards):
    scripts = [checkpoints.write_episode_script.get(series=SERIES, ep=ep).output.script for ep in BARE["episodes"]]
    return [BARE["config"], *scripts, *BARE["every_output"]]


rule all:
    input:
        every_output,


rule record_config:
    output:
        config="results/{series}/config.yaml",
    params:
        spec=spec("record_config"),
    shell:
        "for f in {output}; do printf bare > $f; done"


rule write_outline:
    output:
        outline="results/{series}/outline.json",
    params:
        spec=spec("write_outline"),
    shell:
        "for f in {output}; do printf bare > $f; done"


checkpoint write_episode_script:
    input:
        outline="results/{series}/outline.json",
    output:
        script="results/{series}/ep{ep}/script.json",
    params:
        spec=spec("write_episode_script", reads_script=False),
        src=lambda wildcards: str(Path(config["jobs"]).parent / "scripts" / f"ep{wildcards.ep}.json"),
    shell:
        "cp {params.src} {output.script}"
'''

BARE_RULE = '''

rule {rule}:
    input:
        unpack(inputs("{rule}")),
    output:
{outputs}
    params:
        spec=spec("{rule}"),
    shell:
        "for f in {{output}}; do printf bare > $f; done"
'''


def overrides_for(episodes: int, scenes: int) -> list[str]:
    return ["video=still", "render=480p", f"series.episodes={episodes}", f"series.scenes_per_episode.min={scenes}",
            f"series.scenes_per_episode.max={scenes}", "series.scene_duration.min=2", "series.scene_duration.max=2",
            "budget.series_usd=1000"]


def snakemake(workdir: Path, args: list[str], cores: str) -> tuple[float, int]:
    """Wall seconds and the number of jobs run."""
    cmd = [*SNAKEMAKE, "-d", str(workdir), "--cores", cores, *args]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
    text = proc.stdout + proc.stderr
    jobs = sum(1 for line in text.splitlines()
               if line.startswith(("rule ", "localrule ", "checkpoint ", "localcheckpoint ")) and "all:" not in line)
    return took, jobs


def real_args(overrides: list[str]) -> list[str]:
    return ["-s", str(REPO / "Snakefile"), "--profile", str(REPO / "profiles" / "local"),
            "--config", f"overrides={json.dumps(overrides)}"]


def describe_jobs(work: Path, overrides: list[str]) -> dict:
    """The real workflow's jobs as the bare twin needs them: rule, wildcards, outputs, inputs, spec."""
    sys.path.insert(0, str(REPO / "src"))
    from shortdrama.config import load_config
    from shortdrama.paths import P
    from shortdrama.workflow import Workflow

    wf = Workflow(load_config(overrides), overrides, checkout=REPO, workdir=work)
    scripts = wf.readable_scripts()
    jobs, patterns = [], {}
    for job in wf.jobs(scripts):
        wildcards = {k: v for k, v in job.wildcards.items() if k != "series"}
        jobs.append({"rule": job.rule, "wildcards": wildcards, "spec": job.spec.to_json(),
                     "inputs": {name: list(paths) for name, paths in job.inputs.items() if name != "script"}})
        for name, path in job.outputs.items():
            for attr, pattern in vars(P).items():
                if isinstance(pattern, str) and not attr.startswith("_") and _fills(pattern, wf.series, wildcards) == path:
                    patterns.setdefault(job.rule, {})[name] = pattern
            if name not in patterns.get(job.rule, {}) and name.startswith("qc"):  # choose_take's takeNN.qc.json
                patterns.setdefault(job.rule, {})[name] = P.take_qc.replace("{take}", name.removeprefix("qc"))
    every = [path for job in wf.jobs(scripts, ("character", "scene", "take", "episode")) if job.rule != "write_episode_script"
             for path in job.outputs.values()]
    return {"series": wf.series, "config": wf.paths.config, "episodes": wf.episodes, "jobs": jobs,
            "scripts": {ep: (work / path).read_text(encoding="utf-8") for ep, path in scripts.items()},
            "every_output": every, "patterns": patterns}


def _fills(pattern: str, series: str, wildcards: dict[str, str]) -> str | None:
    try:
        return pattern.format(series=series, **wildcards)
    except KeyError:  # a pattern with a wildcard this job has not
        return None


def write_bare(folder: Path, described: dict) -> Path:
    (folder / "scripts").mkdir(parents=True, exist_ok=True)
    (folder / "jobs.json").write_text(json.dumps(described))
    for ep, text in described["scripts"].items():
        (folder / "scripts" / f"ep{ep}.json").write_text(text, encoding="utf-8")
    text = BARE_HEAD
    for rule, outputs in described["patterns"].items():
        if rule in FIRST_RULES:
            continue
        lines = "\n".join(f'        {name}="{pattern}",' for name, pattern in outputs.items())
        text += BARE_RULE.format(rule=rule, outputs=lines)
    snakefile = folder / "Snakefile"
    snakefile.write_text(text)
    return snakefile


def edit_one_scene(work: Path, series: str) -> None:
    path = work / "results" / series / "ep01" / "script.json"
    script = json.loads(path.read_text(encoding="utf-8"))
    script["scenes"][0]["action"] = f"She turns away from the window, the letter still in her hand ({time.time_ns() % 10**6})."
    path.write_text(json.dumps(script, indent=2, ensure_ascii=False), encoding="utf-8")


def measure(episodes: int, scenes: int, cores: str, tmp: Path, again: bool = False) -> dict:
    """`again`: the work dirs of an earlier run with --keep are there; measure no-op and edit only."""
    overrides = overrides_for(episodes, scenes)
    real, bare_dir = tmp / f"real-{episodes}x{scenes}", tmp / f"bare-{episodes}x{scenes}"
    rows: dict[str, dict[str, float]] = {}
    if not again:
        rows["full"] = dict(zip(("real_s", "real_jobs"), snakemake(real, real_args(overrides), cores)))
    rows["no-op"] = dict(zip(("real_s", "real_jobs"), snakemake(real, real_args(overrides), cores)))
    described = describe_jobs(real, overrides)
    snakefile = write_bare(bare_dir / "wf", described)
    bare_args = ["-s", str(snakefile), "--config", f"jobs={bare_dir / 'wf' / 'jobs.json'}"]
    if not again:
        rows["full"].update(zip(("bare_s", "bare_jobs"), snakemake(bare_dir, bare_args, cores)))
    rows["no-op"].update(zip(("bare_s", "bare_jobs"), snakemake(bare_dir, bare_args, cores)))
    series = described["series"]
    edit_one_scene(real, series)
    rows["one scene edited"] = dict(zip(("real_s", "real_jobs"), snakemake(real, real_args(overrides), cores)))
    # The bare twin gets the same edit: the edited script, and the specs the real workflow now computes.
    edited = describe_jobs(real, overrides)
    (bare_dir / "wf" / "jobs.json").write_text(json.dumps(edited))
    (bare_dir / "results" / series / "ep01" / "script.json").write_text(edited["scripts"]["01"], encoding="utf-8")
    rows["one scene edited"].update(zip(("bare_s", "bare_jobs"), snakemake(bare_dir, bare_args, cores)))
    jobs = len(described["jobs"])
    print(f"\n{episodes} x {scenes} ({jobs} jobs), cores={cores}")
    print(f"{'case':18} {'real s':>8} {'jobs':>5} {'bare s':>8} {'jobs':>5} {'ratio':>6}")
    for case, row in rows.items():
        row["ratio"] = round(row["real_s"] / row["bare_s"], 3)
        print(f"{case:18} {row['real_s']:8.2f} {row['real_jobs']:5d} {row['bare_s']:8.2f} {row['bare_jobs']:5d} "
              f"{row['ratio']:6.2f}", flush=True)
    return {"episodes": episodes, "scenes": scenes, "jobs": jobs, "cases": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="24x8,100x10")
    parser.add_argument("--cores", default="2")
    parser.add_argument("--keep", type=Path, help="build here and keep the work dirs (default: a temporary folder)")
    parser.add_argument("--again", action="store_true",
                        help="with --keep: reuse the work dirs built by an earlier run; time no-op and edit only")
    args = parser.parse_args()
    os.environ.setdefault("SHORTDRAMA_CACHE_DIR", tempfile.mkdtemp(prefix="shortdrama-bench-cache-"))
    results = []
    with tempfile.TemporaryDirectory(prefix="shortdrama-bench-graph-") as tmp:
        for size in args.sizes.split(","):
            episodes, scenes = (int(n) for n in size.split("x"))
            results.append(measure(episodes, scenes, args.cores, args.keep or Path(tmp), args.again))
    write_figure("graph_overhead_again" if args.again else "graph_overhead", {"benchmark": "graph_overhead",
                                    "goals": "no-op <= 1.5 x bare, edit <= 2 x bare, 100 x 10 no-op < 10 s",
                                    "cores": args.cores, "sizes": results})


if __name__ == "__main__":
    main()
