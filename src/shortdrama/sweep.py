"""`shortdrama sweep video=a,b render=720p,1080p`: one build per combination, each in its own
results/<series>/sweeps/<point>/, sharing every provider result that does not depend on the swept
keys through the call cache, and a comparison table at the end.

Concurrency caps are file-lock slots in the shared cache folder, so they hold across every point
and every job, even with points built in parallel.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .cost.ledger import Ledger
from .cost.report import usd
from .errors import ConfigError


@dataclass(frozen=True)
class SweepPoint:
    overrides: tuple[str, ...]  # the swept choices of this point, e.g. ("video=still", "render=720p")

    @property
    def name(self) -> str:
        """`video-still_render-720p`: readable, and one safe path component."""
        parts = [re.sub(r"[^A-Za-z0-9.+-]+", "-", o.replace("=", "-")).strip("-") for o in self.overrides]
        return "_".join(parts) or "base"


@dataclass
class PointResult:
    point: SweepPoint
    folder: Path
    exit_code: int
    seconds: float
    cost_usd: float
    clips_generated: int
    outputs: list[Path]


def expand_sweep(overrides: Sequence[str]) -> tuple[list[str], list[SweepPoint]]:
    """Split Hydra overrides into fixed ones and the cartesian product of the swept ones."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise ConfigError(f"cannot parse the sweep: {str(error).splitlines()[0]}") from None
    fixed, axes = [], []
    for override, text in zip(parsed, overrides):
        if override.is_sweep_override():
            key = override.get_key_element()
            axes.append([f"{key}={value}" for value in override.sweep_string_iterator()])
        else:
            fixed.append(text)
    if not axes:
        raise ConfigError("nothing to sweep: give at least one key with several values, e.g. video=animatic,still")
    return fixed, [SweepPoint(tuple(combo)) for combo in itertools.product(*axes)]


def summarise_point(point: SweepPoint, folder: Path, exit_code: int, seconds: float) -> PointResult:
    ledger = Ledger(folder / "ledger.jsonl")
    entries = ledger.entries()
    spent = ledger.spent()
    clips = sum(1 for e in entries if e.step == "clip" and e.cache == "miss" and e.outcome == "ok")
    return PointResult(point, folder, exit_code, seconds, round(spent, 6), clips,
                       sorted(folder.glob("episode_*_final.mp4")))


def run_sweep(points: Sequence[SweepPoint], series_root: Path,
              build: Callable[[SweepPoint, str], int]) -> list[PointResult]:
    """Build each point (sequentially: the cache and the slots make later points cheap and safe)."""
    results = []
    for point in points:
        output_dir = f"{series_root.as_posix()}/sweeps/{point.name}"
        started = time.perf_counter()
        code = build(point, output_dir)
        results.append(summarise_point(point, Path(output_dir), code, time.perf_counter() - started))
    return results


def comparison_markdown(results: Sequence[PointResult]) -> str:
    lines = ["| point | status | cost | clips generated | wall time | outputs |", "|---|---|---|---|---|---|"]
    for r in results:
        status = "ok" if r.exit_code == 0 else f"failed ({r.exit_code})"
        outputs = "<br>".join(str(p) for p in r.outputs) or "-"
        lines.append(f"| {' '.join(r.point.overrides)} | {status} | {usd(r.cost_usd)} | {r.clips_generated} | "
                     f"{r.seconds:.1f} s | {outputs} |")
    total = sum(r.cost_usd for r in results)
    lines.append(f"\nTotal paid across the sweep: {usd(total)}")
    return "\n".join(lines) + "\n"


def comparison_csv(results: Sequence[PointResult]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["point", "overrides", "exit_code", "cost_usd", "clips_generated", "wall_seconds", "outputs"])
    for r in results:
        writer.writerow([r.point.name, " ".join(r.point.overrides), r.exit_code, f"{r.cost_usd:.6f}",
                         r.clips_generated, f"{r.seconds:.2f}", ";".join(str(p) for p in r.outputs)])
    return buffer.getvalue()
