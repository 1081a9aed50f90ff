"""The boundary between a Snakemake `script:` job and the library: log file, timing, one-line errors."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, Callable

from .errors import ShortDramaError


def run_step(smk: Any, step: Callable[..., Any], *args: Any) -> None:
    log_path = smk.log[0] if smk.log else None
    handlers: list[logging.Handler] = [logging.FileHandler(log_path, mode="w", encoding="utf-8")] if log_path else []
    logging.basicConfig(level=logging.INFO, handlers=handlers or None, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs full URLs, signed download links included
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    log = logging.getLogger(f"shortdrama.{step.__name__}")
    started = time.perf_counter()
    log.info("start %s %s", step.__name__, dict(smk.wildcards.items()))
    try:
        _refuse_unresolved(args)
        store, record, outputs = _begin_record(smk)
        step(*args)
        store.finish(record, outputs)
    except ShortDramaError as error:
        log.error("%s", error)
        print(f"shortdrama: {smk.rule}{dict(smk.wildcards.items())}: {error}", file=sys.stderr)
        sys.exit(1)
    log.info("done in %.2f s", time.perf_counter() - started)


def _begin_record(smk: Any) -> tuple[Any, Any, list[str]]:
    """The job's manifest (shortdrama.provenance), marked unfinished until the step returns: what it
    reads (every input but the ordering-only ones) and the spec it runs with."""
    from .provenance import ORDERING_INPUTS, ManifestStore

    ordering = {str(path) for name, value in smk.input.items() if name in ORDERING_INPUTS
                for path in ([value] if isinstance(value, str) else value)}
    inputs = [str(path) for path in smk.input if str(path) not in ordering]
    outputs = [str(path) for path in smk.output]
    store = ManifestStore(f"results/{smk.wildcards['series']}")
    return store, store.begin(smk.rule, smk.params.spec, inputs, outputs), outputs


def _refuse_unresolved(args: tuple[Any, ...]) -> None:
    """Snakemake may start a job whose checkpoint-dependent inputs are still placeholders (seen with
    -R/--forcerun on a rule behind a checkpoint); running it would fail obscurely or write garbage."""
    for arg in args:
        values = [arg] if isinstance(arg, str) else list(arg) if isinstance(arg, (list, tuple)) else [str(arg)]
        if any("<TBD>" in str(value) for value in values):
            raise ShortDramaError(
                "Snakemake started this job before the scripts it depends on were known "
                "(-R/--forcerun on a rule behind a checkpoint does that); to rebuild something, "
                "delete its output file and run snakemake again")
