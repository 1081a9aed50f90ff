"""How many jobs of each kind a build runs at once, from the configuration, in Snakemake's own terms.

Snakemake runs a job when its `threads` fit in `--cores` and its `resources` fit in `--resources`, and
a local build never has more than `--cores` + 5 jobs running (its worker threads). A job that waits on
a hosted API holds no core (`threads: 0`, `cpu=0`, workflow.Workflow.cores_for) and one unit of its
API resource (`video_api`, `llm_api`); every other job holds one unit of `cpu`. So `shortdrama build
--cores N` (default: all of the machine's) passes Snakemake `--resources cpu=N` and API caps from the
chosen presets (`video.concurrency`, `llm.concurrency`, see `api_limits`), and `--cores` N plus those
caps, which only makes room for the waiting jobs: a preset with 8 slots gets its clips in flight on a
2-core laptop while keyframes, conforms and renders never run more than 2 at a time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .config import AppConfig
from .errors import ConfigError

if TYPE_CHECKING:
    from .cost.slots import ProviderSlots

# Snakemake resource name -> the config group whose preset's `concurrency` caps it.
API_RESOURCES = {"video_api": "video", "llm_api": "llm", "lipsync_api": "lipsync"}


def api_limits(cfg: AppConfig) -> dict[str, int]:
    """Each API resource's cap: the concurrency of the group's first model (the one every job tries first;
    a fallback's own slots, held inside the job, keep it within its own limit), doubled (at most 16
    more): a job spends seconds starting up before its request and conforming after its download, and
    the vendor's slots should not idle meanwhile, so as many jobs again start and wait, each for a slot,
    at the cost of an idle Python process (~80 MB) each. The vendor itself never sees more than
    `concurrency` requests: each job holds a provider slot (cost.slots) from submit to download."""
    return {resource: with_headroom(getattr(cfg, group).concurrency) for resource, group in API_RESOURCES.items()
            if group != "lipsync" or cfg.lipsync.enabled}  # no lip-sync jobs: no room made for them


def with_headroom(concurrency: int) -> int:
    return concurrency + min(concurrency, 16)


def profile_resources(profile: Path) -> dict[str, str]:
    """The `resources:` a Snakemake profile folder sets (`name=value` strings), {} if none."""
    import yaml

    path = profile / "config.yaml"
    if not path.is_file():
        return {}
    listed = (yaml.safe_load(path.read_text()) or {}).get("resources") or []
    if isinstance(listed, dict):
        return {str(k): str(v) for k, v in listed.items()}
    return dict(str(item).split("=", 1) for item in listed if "=" in str(item))


def machine_cores(cores: str | int) -> int:
    """`--cores` as a number: "all" is the cores this process may run on."""
    if str(cores) == "all":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        value = int(cores)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"--cores must be a positive whole number or 'all', not {cores!r}")
    return value


def scheduling_arguments(cfg: AppConfig, cores: str | int, profile: Path | None,
                         snakemake_args: Sequence[str]) -> list[str]:
    """`--cores` and `--resources` for a build of `cfg` on `cores` CPU cores: the profile's resources,
    `cpu` = the cores, the API caps from `cfg`, and room in `--cores` for the API jobs. When the user
    passes `--resources` to Snakemake themselves, theirs win, whole, and `--cores` is theirs as given."""
    if any(arg in ("--resources", "--res") or arg.startswith(("--resources=", "--res=")) for arg in snakemake_args):
        return ["--cores", str(cores)]
    cpu = machine_cores(cores)
    limits = api_limits(cfg)
    resources = profile_resources(profile) if profile is not None else {}
    resources.update({name: str(limit) for name, limit in limits.items()}, cpu=str(cpu))
    return ["--cores", str(cpu + sum(limits.values())),
            "--resources", *(f"{name}={value}" for name, value in resources.items())]


def profile_of(snakemake_args: Sequence[str], workflow_dir: Path) -> Path | None:
    """The profile folder named in `snakemake_args` (`--profile X` or `--profile=X`), else None."""
    for i, arg in enumerate(snakemake_args):
        if arg == "--profile" and i + 1 < len(snakemake_args):
            name = snakemake_args[i + 1]
        elif arg.startswith("--profile="):
            name = arg.split("=", 1)[1]
        else:
            continue
        path = Path(name)
        return path if path.is_absolute() or path.exists() else workflow_dir / path
    return None


# The local build's --cores, for the CPU work a core-less API job still does (a hosted clip's conform).
CPU_SLOTS_ENV = "SHORTDRAMA_CPU_SLOTS"


def cpu_slot(slots: "ProviderSlots"):  # noqa: ANN201
    """Hold one of the local build's cores (cross-process, `slots`) for a burst of CPU work inside a job
    that holds none: eight clips finishing together conform two at a time on two cores, not eight. No
    limit where the build is not local (a cluster job has its own CPUs) or the job runs outside one."""
    from contextlib import nullcontext

    try:
        limit = int(os.environ.get(CPU_SLOTS_ENV, ""))
    except ValueError:
        return nullcontext()
    return slots.acquire("cpu", limit) if limit > 0 else nullcontext()
