"""What the call cache saves: a build of the demo in a fresh folder with a cold cache, then the same
build in another fresh folder with the cache warm (every provider call a hit), and a third with
the cache disabled, each as a ratio of the cold build measured in the same run.

    .venv/bin/python bench/cache.py [--series demo] [--cores 2]
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rebuild import bench_arguments, build, print_ratios


def main() -> None:
    args, config = bench_arguments()
    with tempfile.TemporaryDirectory(prefix="shortdrama-bench-cache-") as tmp:
        os.environ["SHORTDRAMA_CACHE_DIR"] = str(Path(tmp) / "cache")
        rows = [("cold cache", *build(Path(tmp) / "a", args.cores, config)),
                ("warm cache, fresh folder", *build(Path(tmp) / "b", args.cores, config)),
                ("cache disabled", *build(Path(tmp) / "c", args.cores, [*config, "cache__enabled=false"]))]
    print_ratios(rows, f"series={args.series} cores={args.cores}  (ratios against the cold-cache build of this run)")


if __name__ == "__main__":
    main()
