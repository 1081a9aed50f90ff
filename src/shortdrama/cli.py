"""`shortdrama`: compose and check the configuration, then let Snakemake build what is out of date.

    shortdrama build [--cores N] [--dry-run] [HYDRA_OVERRIDE ...]
    shortdrama config [HYDRA_OVERRIDE ...]      print the composed, validated configuration
    shortdrama schema OUT_DIR                   write the JSON Schemas of outline.json and script.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from .errors import ShortDramaError


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
    from .config import load_config

    if args.command == "schema":
        from .schemas import export_json_schemas

        for path in export_json_schemas(args.out_dir):
            print(path)
        return 0
    workflow_dir = find_workflow_dir()
    cfg = load_config(args.overrides, workflow_dir / "conf")  # fail here, before Snakemake starts
    if args.command == "config":
        import yaml

        print(yaml.safe_dump(cfg.model_dump(mode="json"), allow_unicode=True, sort_keys=False), end="")
        return 0
    workdir = (args.directory or workflow_dir).resolve()
    cmd = [str(Path(sys.executable).with_name("snakemake")), "-s", str(workflow_dir / "Snakefile"), "-d", str(workdir),
           "--cores", str(args.cores), *args.snakemake_arg]
    if args.dry_run:
        cmd.append("--dry-run")
    if args.overrides:
        cmd += ["--config", f"overrides={json.dumps(args.overrides, ensure_ascii=False)}"]
    code = subprocess.call(cmd)
    if code == 0 and not args.dry_run:
        finals = sorted((workdir / "results" / cfg.series.slug).glob("episode_*_final.mp4"))
        print(f"\n{len(finals)} episode(s) of {cfg.series.name!r} in {workdir / 'results' / cfg.series.slug}:")
        for path in finals:
            print(f"  {path}")
    return code


if __name__ == "__main__":
    sys.exit(main())
