"""`shortdrama`: compose and check the configuration, then let Snakemake build what is out of date.

    shortdrama build [--cores N] [--dry-run] [HYDRA_OVERRIDE ...]
    shortdrama plan [HYDRA_OVERRIDE ...]        the jobs that would run and what they would cost
    shortdrama costs [HYDRA_OVERRIDE ...]       the ledger by step, episode and provider
    shortdrama sweep video=a,b render=720p,1080p   one build per combination, and a comparison
    shortdrama cache stats|prune                the shared call cache
    shortdrama check-references [HYDRA_OVERRIDE ...]   validate the characters' reference images
    shortdrama verify [HYDRA_OVERRIDE ...]      every output against what it was made from (exit 1: out of date)
    shortdrama qc | review [--serve] | report   what QC flagged; the review page; Snakemake's report
    shortdrama export --format fcp7|fcpxml|edl|kdenlive|mlt|otio [--episode N] [--out DIR]   timelines for an editor
    shortdrama import-edit FILE [--episode N]    an editor's trims, order and removed shots, applied by the next build
    shortdrama config [HYDRA_OVERRIDE ...]      print the composed, validated configuration
    shortdrama schema OUT_DIR                   write the JSON Schemas of outline.json and script.json
    shortdrama --version

Every command takes `-d/--directory DIR`, the work directory (Snakemake's `-d`): results/, logs/ and
.snakemake/ are there, and relative paths of the configuration (output_dir, cache.dir) are read from
there. Default: the checkout. The checkout itself (Snakefile, conf/) is the current folder or a parent,
else the one this package was installed from. The CLI never changes its own current directory.

Exit codes: 0 done; 1 the command ran and failed (a failed build, a failed check, outputs out of date,
a provider error); 2 the command was used wrongly (argparse's usage errors, an unknown option, key or
bad value in the overrides, nothing to work on in the work directory); 130 interrupted.
`shortdrama build` returns Snakemake's own exit code: 0, 1 when jobs failed, 2 when the workflow stopped
before the first job with one `shortdrama: error:` line (a bad configuration, a missing API key).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from . import __version__
from .config import load_config
from .errors import ConfigError, ShortDramaError, UsageError
from .scheduling import profile_of, scheduling_arguments
from .timeline.export import export_arguments
from .workflow import output_folder

EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran and something failed
EXIT_USAGE = 2  # the command line (flags, overrides, work directory) asked for something that cannot be done
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


def find_workflow_dir(start: Path | None = None) -> Path:
    """The folder holding the Snakefile and conf/: the current one or a parent, else this checkout."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "Snakefile").is_file() and (folder / "conf" / "config.yaml").is_file():
            return folder
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "Snakefile").is_file():
        return checkout
    raise UsageError("no Snakefile with conf/config.yaml here or above; run from a shortdrama checkout")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shortdrama", description="Build an AI short-drama series like software.",
        epilog="exit codes: 0 done, 1 failed (build, check, provider), 2 usage error (flags, overrides), "
               "130 interrupted; `build` returns Snakemake's exit code")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("-d", "--directory", type=Path, default=None, metavar="DIR",
                       help="the work directory: results/, logs/, .snakemake/ and the configuration's relative "
                            "paths (output_dir, cache.dir) are there (default: the checkout)")
    given = argparse.ArgumentParser(add_help=False)
    given.add_argument("overrides", nargs="*", metavar="OVERRIDE",
                       help="Hydra overrides, e.g. video=still series.episodes=3")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace], int], help: str, overrides: bool = True,
                **kwargs) -> argparse.ArgumentParser:  # noqa: A002
        made = sub.add_parser(name, parents=[where, given] if overrides else [where], help=help,
                              description=help, **kwargs)
        made.set_defaults(func=func)
        return made

    build = command("build", _build, "compose the config and run Snakemake on it (exit code: Snakemake's)")
    build.add_argument("--cores", default="all",
                       help="Snakemake --cores: cores for the jobs that compute (default: all of the machine's); "
                            "jobs that wait on a hosted API hold none, video/llm.concurrency cap them")
    build.add_argument("--dry-run", "-n", action="store_true", help="show the jobs that would run")
    build.add_argument("--snakemake-arg", action="append", default=[], metavar="ARG",
                       help="pass one more argument to Snakemake (repeatable), e.g. --snakemake-arg=--profile=profiles/local")
    plan = command("plan", _plan, "show the jobs that would run and their estimated cost; spends nothing")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    command("costs", _costs, "break the ledger down by step, episode and provider")
    sweep = command("sweep", _sweep, "build every combination of swept overrides (Hydra syntax: key=a,b)",
                    overrides=False)
    sweep.add_argument("--cores", default="all")
    sweep.add_argument("overrides", nargs="+", metavar="OVERRIDE", help="fixed and swept Hydra overrides")
    cache = command("cache", _cache, "inspect or prune the shared call cache", overrides=False)
    cache.add_argument("action", choices=["stats", "prune"])
    cache.add_argument("--older-than-days", type=float, default=None)
    cache.add_argument("--max-bytes", type=int, default=None)
    cache.add_argument("overrides", nargs="*", metavar="OVERRIDE")
    refs = command("check-references", _check_references,
                   "validate every character's reference images against the configured lora.min_references "
                   "and lora.min_short_side (run it before any training is paid for)")
    refs.add_argument("--min-count", type=int, default=None,
                      help="usable images each character needs (default: lora.min_references)")
    refs.add_argument("--min-short-side", type=int, default=None,
                      help="smallest short side in pixels (default: lora.min_short_side)")
    verify = command("verify", _verify, "check every output against the settings and input files it was made "
                                        "from (its manifest); exit 1 if any is out of date")
    verify.add_argument("--rehash", action="store_true",
                        help="hash every file, also those whose size and mtime match their record")
    command("qc", _qc, "list what automated QC flagged across the built series, worst first "
                       "(exit 0: nothing flagged, 1: something flagged)")
    review = command("review", _review, "write the review page of the built series (results/<series>/review/index.html), "
                                        "or --serve it on 127.0.0.1 with controls: pick, retake, approve, edit, rebuild")
    review.add_argument("--serve", action="store_true", help="serve the page with its controls until Ctrl-C")
    review.add_argument("--host", help="with --serve: listen on this address (default: review.host, 127.0.0.1)")
    review.add_argument("--port", type=int, help="with --serve: this port (default: review.port; 0: a free one)")
    report = command("report", _report, "Snakemake's report of the built series (results/<series>/report.zip): "
                     "finals, storyboard, QC and cost tables with captions; a frozen record to send")
    report.add_argument("--out", type=Path, default=None, help=".zip (default results/<series>/report.zip) or .html")
    report.add_argument("--cores", default="1")
    export = command("export", _export, "write the built episodes' timelines (episode_NN.otio) for an editor: FCP 7 XML "
                     "(Premiere, Resolve), FCPXML, a CMX 3600 EDL, Kdenlive, MLT (Shotcut, melt) or OTIO")
    export_arguments(export)
    edit = command("import-edit", _import_edit, "an editor's timeline back as edit decisions (trims, order, removed "
                   "shots; review/<series>.edits.yaml) the next build applies to that episode", overrides=False)
    edit.add_argument("file", type=Path, help="the edited timeline: .otio, FCP 7 XML, FCPXML, EDL, Kdenlive")
    edit.add_argument("overrides", nargs="*", metavar="OVERRIDE")
    edit.add_argument("--episode", type=int, default=None, help="the episode it cuts (default: what the file says)")
    command("config", _config, "print the composed, validated configuration as YAML")
    schema = command("schema", _schema, "write JSON Schemas of the documents", overrides=False)
    schema.add_argument("out_dir", type=Path, help="where to write them (relative: to -d DIR, else here)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)  # a usage error exits 2 here (argparse)
    if rest:  # overrides after an option that follows the first positionals: `cache stats -d DIR cache.dir=x`
        if getattr(args, "overrides", None) is None or any(arg.startswith("-") for arg in rest):
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        args.overrides = [*args.overrides, *rest]
    try:
        return args.func(args)
    except (ConfigError, UsageError) as error:
        print(f"shortdrama: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ShortDramaError as error:
        print(f"shortdrama: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("shortdrama: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _workdir(args: argparse.Namespace, workflow_dir: Path) -> Path:
    return (args.directory or workflow_dir).resolve()


def _conf(workflow_dir: Path, overrides: list[str]):  # noqa: ANN202
    return load_config(overrides, workflow_dir / "conf")  # fails here, before Snakemake starts


# -- build ------------------------------------------------------------------------------------------

def _build(args: argparse.Namespace) -> int:
    workflow_dir = find_workflow_dir()
    cfg = _conf(workflow_dir, args.overrides)
    workdir = _workdir(args, workflow_dir)
    extra = [*args.snakemake_arg, *(["--dry-run"] if args.dry_run else [])]
    if not any(arg.startswith("--profile") or arg.startswith("--workflow-profile") for arg in extra):
        extra = ["--profile", str(workflow_dir / "profiles" / "local"), *extra]  # --cores on our line wins
    scheduling = scheduling_arguments(cfg, args.cores, profile_of(extra, workflow_dir), args.snakemake_arg)
    from .cost.ledger import utc_now
    from .cost.report import spent_since

    since, started = utc_now(), time.perf_counter()
    code = snakemake(workflow_dir, workdir, args.overrides, scheduling[1], [*extra, *scheduling[2:]]).returncode
    if args.dry_run:
        return code
    folder = workdir / output_folder(cfg)
    spent = spent_since(folder / "ledger.jsonl", since)
    took = time.perf_counter() - started
    if code == 0:
        finals = sorted(folder.glob("episode_*_final.mp4"))
        print(f"\n{len(finals)} episode(s) of {cfg.series.name!r} in {folder}:")
        for path in finals:
            print(f"  {path}")
        print(f"built in {took:.1f} s; {spent}")
    else:
        print(f"shortdrama: the build failed (Snakemake exit code {code}) after {took:.1f} s; {spent}; "
              f"the lines above and {workdir / 'logs'} say why", file=sys.stderr)
    return code


def snakemake(workflow_dir: Path, workdir: Path, overrides: list[str], cores: str, extra: list[str] = (),
              capture: bool = False, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Snakemake of this interpreter (`python -m snakemake`), on the checkout's Snakefile, in `workdir`."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(workflow_dir / "Snakefile"), "-d", str(workdir),
           "--cores", str(cores), *extra]
    if overrides:
        cmd += ["--config", f"overrides={json.dumps(list(overrides), ensure_ascii=False)}"]
    return subprocess.run(cmd, capture_output=capture, text=capture, env=env)


# -- plan, verify -----------------------------------------------------------------------------------

def _plan(args: argparse.Namespace) -> int:
    import tempfile

    from .plan import Planner, parse_dry_run, plan_json, plan_report

    wf = _series(args)  # composed here: a configuration mistake stops before Snakemake starts
    dry = snakemake(wf.checkout, wf.workdir, args.overrides, "1", ["--dry-run"], capture=True)
    if dry.returncode != 0:
        print(dry.stderr.strip().splitlines()[-1] if dry.stderr.strip() else "snakemake --dry-run failed", file=sys.stderr)
        return dry.returncode
    runtime = wf.runtime(wf.checkout)
    with tempfile.TemporaryDirectory(prefix="shortdrama-plan-") as scratch:
        planned = Planner(wf, runtime, Path(scratch)).plan(parse_dry_run(dry.stdout + dry.stderr))
    print(plan_json(planned) if args.json else plan_report(planned, wf, runtime))
    return EXIT_OK


def _series(args: argparse.Namespace):  # noqa: ANN202 - a shortdrama.workflow.Workflow
    """The series the command's overrides compose, in its work directory (-d)."""
    from .workflow import Workflow

    workflow_dir = find_workflow_dir()
    return Workflow(_conf(workflow_dir, args.overrides), list(args.overrides), checkout=workflow_dir,
                    workdir=_workdir(args, workflow_dir))


def _verify(args: argparse.Namespace) -> int:
    from .trust import verify_command

    return verify_command(_series(args), rehash=args.rehash)


def _qc(args: argparse.Namespace) -> int:
    from .qc.report import format_report, read_reports

    wf = _series(args)
    qc = read_reports(wf)
    print(format_report(qc, wf.paths.root))
    return EXIT_OK if qc.passed else EXIT_FAILURE


def _review(args: argparse.Namespace) -> int:
    from .review.server import review_command

    return review_command(_series(args), args.serve, args.host, args.port, args.overrides)


def _export(args: argparse.Namespace) -> int:
    from .timeline.export import export_command

    out = args.directory / args.out if args.directory and args.out else args.out  # an absolute --out stays
    return export_command(_series(args), args.format, args.episode, out)


def _import_edit(args: argparse.Namespace) -> int:
    from .cut.importer import import_command

    edited = args.file if args.file.is_absolute() or not args.directory else args.directory / args.file
    return import_command(_series(args), edited, args.episode)


# -- the other commands -----------------------------------------------------------------------------

def _check_references(args: argparse.Namespace) -> int:
    from .characters.references import check_cast_references

    workflow_dir = find_workflow_dir()
    failed = check_cast_references(_conf(workflow_dir, args.overrides), workflow_dir, args.min_count,
                                   args.min_short_side)
    return EXIT_FAILURE if failed else EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from .report_tables import make_report

    wf = _series(args)
    code, path = make_report(wf, args.out, lambda extra: snakemake(
        find_workflow_dir(), wf.workdir, args.overrides, args.cores, extra).returncode)
    if code == 0:
        print(path)
    return code


def _config(args: argparse.Namespace) -> int:
    import yaml

    cfg = _conf(find_workflow_dir(), args.overrides)
    print(yaml.safe_dump(cfg.model_dump(mode="json"), allow_unicode=True, sort_keys=False), end="")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from .schemas import export_json_schemas

    out_dir = args.directory / args.out_dir if args.directory else args.out_dir  # an absolute OUT_DIR stays
    for path in export_json_schemas(out_dir):
        print(path)
    return EXIT_OK


def _costs(args: argparse.Namespace) -> int:
    from .cost.ledger import Ledger
    from .cost.report import costs_report

    workflow_dir = find_workflow_dir()
    cfg = _conf(workflow_dir, args.overrides)
    path = _workdir(args, workflow_dir) / output_folder(cfg) / "ledger.jsonl"
    ledger = Ledger(path)
    if not ledger.exists():
        raise UsageError(f"no ledger at {path}: build the series first")
    entries = ledger.refresh_view()  # the file named in the report shows what the report counts
    print(costs_report(entries, cfg.series.episodes, cfg.budget.traditional_usd_per_episode, str(path)))
    return EXIT_OK


def _cache_dir(cfg, workflow_dir: Path, workdir: Path) -> Path:  # noqa: ANN001
    """The call cache a build in `workdir` uses: Runtime.from_config's choice (cache.dir, else
    $SHORTDRAMA_CACHE_DIR, else <checkout>/.cache/shortdrama), a relative one taken from the work dir
    as the build's jobs take it."""
    from .workflow import Workflow

    runtime = Workflow(cfg, []).runtime(workflow_dir)
    chosen = cfg.cache.dir or os.environ.get("SHORTDRAMA_CACHE_DIR")
    return (workdir / chosen).resolve() if chosen else runtime.cache_dir


def _cache(args: argparse.Namespace) -> int:
    from .cost.cache import CallCache

    workflow_dir = find_workflow_dir()
    cfg = _conf(workflow_dir, args.overrides)
    cache_dir = _cache_dir(cfg, workflow_dir, _workdir(args, workflow_dir))
    store = CallCache(cache_dir)
    if args.action == "prune":
        removed = store.prune(older_than_days=args.older_than_days, max_bytes=args.max_bytes)
        print(f"removed {removed} entr{'y' if removed == 1 else 'ies'} from {cache_dir}")
    stats = store.stats()
    print(f"{cache_dir}: {stats.entries} entries, {stats.total_bytes / 1e6:.1f} MB")
    for provider, count in sorted(stats.by_provider.items()):
        print(f"  {provider or '?'}: {count}")
    return EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    import uuid
    from dataclasses import replace

    from .cost.call import BUILD_ID_ENV
    from .media import write_text_atomic
    from .sweep import comparison_csv, comparison_markdown, expand_sweep, summarise_point

    workflow_dir = find_workflow_dir()
    workdir = _workdir(args, workflow_dir)
    fixed, points = expand_sweep(args.overrides)
    configs = [_conf(workflow_dir, [*fixed, *point.overrides]) for point in points]  # all compose before any build
    series_root = Path("results") / _conf(workflow_dir, fixed).series.slug  # inside the work dir, as Snakemake names it
    # One build for the whole sweep: a paid call that failed at one point is not bought again at the next.
    env = {**os.environ, BUILD_ID_ENV: os.environ.get(BUILD_ID_ENV) or uuid.uuid4().hex}
    results = []
    # Sequentially: the cache and the slots make later points cheap and safe.
    for point, point_cfg in zip(points, configs):
        output_dir = f"{series_root.as_posix()}/sweeps/{point.name}"
        print(f"\n== sweep point {point.name}: {' '.join(point.overrides)}", flush=True)
        started = time.perf_counter()
        scheduling = scheduling_arguments(point_cfg, args.cores, None, ())
        code = snakemake(workflow_dir, workdir, [*fixed, *point.overrides, f"output_dir={output_dir}"], scheduling[1],
                         scheduling[2:], env=env).returncode
        result = summarise_point(point, workdir / output_dir, code, time.perf_counter() - started)
        # The table names files as the builds do, relative to the work dir.
        results.append(replace(result, folder=Path(output_dir),
                               outputs=[path.relative_to(workdir) for path in result.outputs]))
    markdown, table = comparison_markdown(results), comparison_csv(results)
    write_text_atomic(workdir / series_root / "sweeps" / "comparison.md", markdown)
    write_text_atomic(workdir / series_root / "sweeps" / "comparison.csv", table)
    print("\n" + markdown)
    print(f"written to {workdir / series_root / 'sweeps' / 'comparison.md'} and comparison.csv")
    return EXIT_OK if all(r.exit_code == 0 for r in results) else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
