"""The boundary between a Snakemake `script:` job and the library: log file, timing, one-line errors,
and what the job shows on the terminal.

The job's log (`log:` of its rule) gets everything the library logs. The terminal (Snakemake passes
every job's stderr through) gets little, so that many jobs side by side stay readable:

- one line when the job ends: `shortdrama: done generate_clip ep01 sc02 in 12.3 s, $0.50`, the dollars
  being the ledger entries this job appended (cost.ledger.Ledger.append, watched for the job's duration);
- one line if it fails: `shortdrama: generate_clip{...}: <the error>`;
- what the library sends to the `shortdrama.progress` logger while the job runs (LoRA training steps
  with loss and ETA, hosted video jobs' state changes), prefixed with the job's name. Those senders
  throttle themselves; outside a Snakemake job nothing listens to that logger, so nothing is printed.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from .errors import ShortDramaError

PROGRESS_LOGGER = "shortdrama.progress"  # the terminal channel: lora.train and video.jobs log to children of it


def run_step(smk: Any, step: Callable[..., Any], *args: Any) -> None:
    log_path = smk.log[0] if smk.log else None
    handlers: list[logging.Handler] = [logging.FileHandler(log_path, mode="w", encoding="utf-8")] if log_path else []
    logging.basicConfig(level=logging.INFO, handlers=handlers or None, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs full URLs, signed download links included
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    log = logging.getLogger(f"shortdrama.{step.__name__}")
    label = job_label(smk.rule, dict(smk.wildcards.items()))
    started = time.perf_counter()
    log.info("start %s %s", step.__name__, dict(smk.wildcards.items()))
    with _terminal_progress(label), _ledger_entries() as entries:
        try:
            _refuse_unresolved(args)
            store, record, outputs = _begin_record(smk)
            step(*args)
            store.finish(record, outputs)
        except ShortDramaError as error:
            log.error("%s", error)
            print(f"shortdrama: {smk.rule}{dict(smk.wildcards.items())}: {error}", file=sys.stderr)
            sys.exit(1)
    took = time.perf_counter() - started
    # The CPU this job's process and its finished children (FFmpeg, eSpeak) used since the process
    # started, Python's start-up included: what a job costs the machine, for scheduling and benchmarks.
    log.info("done in %.2f s (cpu %.2f s)", took, _cpu_seconds())
    print(done_line(label, took, entries), file=sys.stderr, flush=True)


def _cpu_seconds() -> float:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def job_label(rule: str, wildcards: dict[str, str]) -> str:
    """`generate_clip ep01 sc02`, `train_character_lora xiaoyu`: the rule and its wildcards but the series."""
    parts = [f"{name}{value}" if name in ("ep", "sc", "take", "shot") else str(value)
             for name, value in wildcards.items() if name != "series"]
    return " ".join([rule, *parts])


def done_line(label: str, seconds: float, entries: list[Any]) -> str:
    """The job's one line on the terminal: its name, wall time and, where it called a provider, the
    dollars billed ("$0.00 from the cache" when every call was answered by the cache)."""
    from .cost.budget import format_usd
    from .cost.ledger import BILLED_OUTCOMES

    line = f"shortdrama: done {label} in {seconds:.1f} s"
    if not entries:
        return line
    cost = sum(e.cost_usd for e in entries if e.outcome in BILLED_OUTCOMES)
    cached = all(e.cache == "hit" for e in entries)
    return f"{line}, {format_usd(cost)}" + (" from the cache" if cached else "")


@contextmanager
def _ledger_entries() -> Iterator[list[Any]]:
    """The ledger entries this process appends while the block runs (each once: a sweep point's entry is
    also appended to the sweep's ledger). A hook on Ledger.append, removed on the way out."""
    from .cost.ledger import Ledger

    seen: list[Any] = []
    original = Ledger.append

    def append(self: Ledger, entry: Any) -> None:
        original(self, entry)
        if not any(known is entry for known in seen):
            seen.append(entry)

    Ledger.append = append  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        Ledger.append = original  # type: ignore[method-assign]


@contextmanager
def _terminal_progress(label: str) -> Iterator[None]:
    """Send the `shortdrama.progress` logger to stderr, one line per record, prefixed with the job's label;
    not into the job's log (what those lines say is logged there in full by their senders)."""
    progress = logging.getLogger(PROGRESS_LOGGER)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"shortdrama: {label}: %(message)s"))
    before = (progress.level, progress.propagate)
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    progress.propagate = False
    try:
        yield
    finally:
        progress.removeHandler(handler)
        progress.setLevel(before[0])
        progress.propagate = before[1]


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
