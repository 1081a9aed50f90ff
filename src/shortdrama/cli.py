"""`shortdrama`: compose and check the configuration, then let Snakemake build what is out of date.

    shortdrama build [--cores N] [--dry-run] [HYDRA_OVERRIDE ...]
    shortdrama plan [HYDRA_OVERRIDE ...]        the jobs that would run and what they would cost
    shortdrama costs [HYDRA_OVERRIDE ...]       the ledger by step, episode and provider
    shortdrama sweep video=a,b render=720p,1080p   one build per combination, and a comparison
    shortdrama cache stats|prune                the shared call cache
    shortdrama check-references [HYDRA_OVERRIDE ...]   validate the characters' reference images
    shortdrama verify [HYDRA_OVERRIDE ...]      every output against what it was made from (exit 1: out of date)
    shortdrama config [HYDRA_OVERRIDE ...]      print the composed, validated configuration
    shortdrama schema OUT_DIR                   write the JSON Schemas of outline.json and script.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from .config import load_config
from .errors import ShortDramaError
from .workflow import output_folder


def find_workflow_dir(start: Path | None = None) -> Path:
    """The folder holding the Snakefile and conf/: the current one or a parent, else this checkout."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Snakefile").is_file() and (folder / "conf" / "config.yaml").is_file():
            return folder
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "Snakefile").is_file():
        return checkout
    raise ShortDramaError("no Snakefile with conf/config.yaml here or above; run from a shortdrama checkout")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shortdrama", description="Build an AI short-drama series like software.")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="compose the config and run Snakemake on it")
    build.add_argument("--cores", default="2", help="Snakemake --cores (default 2)")
    build.add_argument("--dry-run", "-n", action="store_true", help="show the jobs that would run")
    build.add_argument("--directory", "-d", type=Path, default=None, help="working directory for results/ (default: the checkout)")
    build.add_argument("--snakemake-arg", action="append", default=[], metavar="ARG",
                       help="pass one more argument to Snakemake (repeatable), e.g. --snakemake-arg=--profile=profiles/local")
    build.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. video=still series.episodes=3")
    plan = sub.add_parser("plan", help="show the jobs that would run and their estimated cost; spends nothing")
    plan.add_argument("--directory", "-d", type=Path, default=None)
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("overrides", nargs="*")
    costs = sub.add_parser("costs", help="break the ledger down by step, episode and provider")
    costs.add_argument("--directory", "-d", type=Path, default=None)
    costs.add_argument("overrides", nargs="*")
    sweep = sub.add_parser("sweep", help="build every combination of swept overrides (Hydra syntax: key=a,b)")
    sweep.add_argument("--cores", default="2")
    sweep.add_argument("--directory", "-d", type=Path, default=None)
    sweep.add_argument("overrides", nargs="+")
    cache = sub.add_parser("cache", help="inspect or prune the shared call cache")
    cache.add_argument("action", choices=["stats", "prune"])
    cache.add_argument("--older-than-days", type=float, default=None)
    cache.add_argument("--max-bytes", type=int, default=None)
    cache.add_argument("overrides", nargs="*")
    refs = sub.add_parser("check-references", help="validate every character's reference images")
    refs.add_argument("--min-count", type=int, default=10)
    refs.add_argument("--min-short-side", type=int, default=512)
    refs.add_argument("overrides", nargs="*")
    verify = sub.add_parser("verify", help="check every output against the settings and input files it was made "
                                           "from (its manifest); exit 1 if any is out of date")
    verify.add_argument("--directory", "-d", type=Path, default=None)
    verify.add_argument("--rehash", action="store_true",
                        help="hash every file, also those whose size and mtime match their record")
    verify.add_argument("overrides", nargs="*", help="the Hydra overrides the series was built with")
    show = sub.add_parser("config", help="print the composed, validated configuration as YAML")
    show.add_argument("overrides", nargs="*")
    schema = sub.add_parser("schema", help="write JSON Schemas of the documents")
    schema.add_argument("out_dir", type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ShortDramaError as error:
        print(f"shortdrama: error: {error}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "schema":
        from .schemas import export_json_schemas

        for path in export_json_schemas(args.out_dir):
            print(path)
        return 0
    workflow_dir = find_workflow_dir()
    if args.command == "sweep":
        return _sweep(args, workflow_dir, (args.directory or workflow_dir).resolve())
    cfg = load_config(args.overrides, workflow_dir / "conf")  # fail here, before Snakemake starts
    if args.command == "check-references":
        return _check_references(args, cfg, workflow_dir)
    if args.command == "config":
        import yaml

        print(yaml.safe_dump(cfg.model_dump(mode="json"), allow_unicode=True, sort_keys=False), end="")
        return 0
    workdir = (getattr(args, "directory", None) or workflow_dir).resolve()
    if args.command == "plan":
        return _plan(args, workflow_dir, workdir)
    if args.command == "costs":
        return _costs(cfg, workdir)
    if args.command == "verify":
        return _verify(args, cfg, workflow_dir, workdir)
    if args.command == "cache":
        return _cache(args, cfg, workflow_dir)
    extra = [*args.snakemake_arg, *(["--dry-run"] if args.dry_run else [])]
    if not any(arg.startswith("--profile") or arg.startswith("--workflow-profile") for arg in extra):
        extra = ["--profile", str(workflow_dir / "profiles" / "local"), *extra]  # --cores on our line wins
    code = snakemake(workflow_dir, workdir, args.overrides, args.cores, extra).returncode
    if code == 0 and not args.dry_run:
        folder = workdir / output_folder(cfg)
        finals = sorted(folder.glob("episode_*_final.mp4"))
        print(f"\n{len(finals)} episode(s) of {cfg.series.name!r} in {folder}:")
        for path in finals:
            print(f"  {path}")
    return code


def snakemake(workflow_dir: Path, workdir: Path, overrides: list[str], cores: str, extra: list[str] = (),
              capture: bool = False) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).with_name("snakemake")), "-s", str(workflow_dir / "Snakefile"), "-d", str(workdir),
           "--cores", str(cores), *extra]
    if overrides:
        cmd += ["--config", f"overrides={json.dumps(list(overrides), ensure_ascii=False)}"]
    return subprocess.run(cmd, capture_output=capture, text=capture)


def _plan(args: argparse.Namespace, workflow_dir: Path, workdir: Path) -> int:
    import os

    from .plan import Planner, parse_dry_run, plan_json, plan_report
    from .workflow import Workflow

    dry = snakemake(workflow_dir, workdir, args.overrides, "1", ["--dry-run"], capture=True)
    if dry.returncode != 0:
        print(dry.stderr.strip().splitlines()[-1] if dry.stderr.strip() else "snakemake --dry-run failed", file=sys.stderr)
        return dry.returncode
    import tempfile

    os.chdir(workdir)  # the planner reads scripts and inputs where Snakemake would
    wf = Workflow(load_config(args.overrides, workflow_dir / "conf"), list(args.overrides))
    runtime = wf.runtime(workflow_dir)
    with tempfile.TemporaryDirectory(prefix="shortdrama-plan-") as scratch:
        planned = Planner(wf, runtime, Path(scratch)).plan(parse_dry_run(dry.stdout + dry.stderr))
    print(plan_json(planned) if args.json else plan_report(planned, wf, runtime))
    return 0


def _verify(args: argparse.Namespace, cfg, workflow_dir: Path, workdir: Path) -> int:  # noqa: ANN001
    import os

    from .workflow import Workflow

    os.chdir(workdir)  # outputs are named relative to the folder the build ran in
    wf = Workflow(cfg, list(args.overrides), checkout=workflow_dir)
    jobs = wf.expected_jobs()
    findings = wf.verify(trust_stat=not args.rehash)
    outputs = sum(len(job.outputs) for job in jobs)
    stale = 0
    for job, finding in findings.items():
        for output in job.outputs:
            if finding.stale:
                stale += 1
                print(f"out of date: {finding.line(output)}")
            else:
                print(f"note: {finding.line(output)}")
    if stale:
        print(f"{stale} of {outputs} outputs of {wf.paths.root} are out of date: build again to make them anew")
        return 1
    print(f"all {outputs} outputs of {wf.paths.root} match the settings and files they were made from")
    return 0


def _check_references(args: argparse.Namespace, cfg, workflow_dir: Path) -> int:  # noqa: ANN001
    """Each character on its own line; one failing set does not stop the others being checked."""
    from .characters.references import ReferenceRules, expand_references, validate_references

    rules = ReferenceRules(min_count=args.min_count, min_short_side=args.min_short_side)
    failed = 0
    for cid, character in cfg.series.cast.items():
        if not character.references:
            print(f"{cid}: no references given")
            continue
        try:
            usable = validate_references(cid, expand_references(character.references, workflow_dir), rules)
            print(f"{cid}: ok, {len(usable)} usable reference images")
        except ShortDramaError as error:
            failed += 1
            print(f"shortdrama: error: {error}", file=sys.stderr)
    return 1 if failed else 0


def _costs(cfg, workdir: Path) -> int:  # noqa: ANN001
    from .cost.ledger import Ledger
    from .cost.report import costs_report

    path = workdir / output_folder(cfg) / "ledger.jsonl"
    ledger = Ledger(path)
    if not ledger.exists():
        raise ShortDramaError(f"no ledger at {path}: build the series first")
    entries = ledger.refresh_view()  # the file named in the report shows what the report counts
    print(costs_report(entries, cfg.series.episodes, cfg.budget.traditional_usd_per_episode, str(path)))
    return 0


def _cache(args: argparse.Namespace, cfg, workflow_dir: Path) -> int:  # noqa: ANN001
    from .cost.cache import CallCache
    from .workflow import Workflow

    runtime = Workflow(cfg, []).runtime(workflow_dir)

    store = CallCache(runtime.cache_dir)
    if args.action == "prune":
        removed = store.prune(older_than_days=args.older_than_days, max_bytes=args.max_bytes)
        print(f"removed {removed} entr{'y' if removed == 1 else 'ies'} from {runtime.cache_dir}")
    stats = store.stats()
    print(f"{runtime.cache_dir}: {stats.entries} entries, {stats.total_bytes / 1e6:.1f} MB")
    for provider, count in sorted(stats.by_provider.items()):
        print(f"  {provider or '?'}: {count}")
    return 0


def _sweep(args: argparse.Namespace, workflow_dir: Path, workdir: Path) -> int:
    from .media import write_text_atomic
    from .sweep import comparison_csv, comparison_markdown, expand_sweep, run_sweep

    fixed, points = expand_sweep(args.overrides)
    for point in points:  # every point must compose before the first one is built
        load_config([*fixed, *point.overrides], workflow_dir / "conf")
    series_root = Path("results") / load_config(fixed, workflow_dir / "conf").series.slug

    def build(point, output_dir: str) -> int:  # noqa: ANN001
        print(f"\n== sweep point {point.name}: {' '.join(point.overrides)}", flush=True)
        return snakemake(workflow_dir, workdir, [*fixed, *point.overrides, f"output_dir={output_dir}"], args.cores).returncode

    import os
    import uuid

    from .cost.call import BUILD_ID_ENV

    os.chdir(workdir)
    # One build for the whole sweep: a paid call that failed at one point is not bought again at the next.
    os.environ.setdefault(BUILD_ID_ENV, uuid.uuid4().hex)
    results = run_sweep(points, series_root, build)
    markdown, table = comparison_markdown(results), comparison_csv(results)
    write_text_atomic(series_root / "sweeps" / "comparison.md", markdown)
    write_text_atomic(series_root / "sweeps" / "comparison.csv", table)
    print("\n" + markdown)
    print(f"written to {workdir / series_root / 'sweeps' / 'comparison.md'} and comparison.csv")
    return 0 if all(r.exit_code == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
