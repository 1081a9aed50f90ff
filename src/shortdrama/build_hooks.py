"""What a real build does around its jobs: rules/hooks.smk calls one function per Snakemake handler.

- `on_start` runs once the DAG is built and only when jobs will run (never in a dry run, `shortdrama
  plan`, or when nothing is out of date; spawned cluster jobs run with --no-hooks): every API key the
  configuration needs is checked before the first job, so a missing one costs nothing; the voice
  casting is written down (results/<series>/voices.json, shortdrama.voice.casting).
- `on_success` and `on_error` rewrite `results/<series>/ledger.jsonl`, the merged view of every
  node's ledger lines (cost/ledger.py), so the obvious file shows what the build spent, also when it failed.
- `on_success` of a whole build (rule all) then checks every output against its manifest
  (shortdrama.provenance), so a build that ends green has vouched that each file matches what it
  should have been made from; one that does not is an error, listed.

A ShortDramaError ends the build with one line, `shortdrama: error: ...`, and exit code 2.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

from .credentials import check_credentials
from .errors import ShortDramaError
from .workflow import Workflow


def on_start(wf: Workflow, checkout: str | os.PathLike) -> None:
    from .voice.casting import record_casting

    with _one_line():
        check_credentials(wf.cfg)
        if wf.cfg.render.subtitles.font:  # a font libass cannot find: one line now, not after the clips are bought
            from .fonts import font_file

            font_file(wf.cfg.render.subtitles.font, wf.cfg.series.language)
        # The castings the jobs were just given (from the record, where it holds them) are written down,
        # so a later change of the cast never moves anyone to another voice.
        record_casting(wf.at(wf.paths.voices), wf.cfg.voice, wf.cfg)


def on_success(wf: Workflow, checkout: str | os.PathLike, whole_series: bool = True) -> None:
    with _one_line():
        _refresh_ledger_views(wf, checkout)
        if whole_series:
            _verify_what_was_built(wf)


def _verify_what_was_built(wf: Workflow) -> None:
    from .trust import verify

    stale = {job: finding for job, finding in verify(wf).items() if finding.stale}
    wf.manifests.save_known_stamps()  # the next build's checks need hash only what changes in between
    for job, finding in stale.items():
        for output in job.outputs:
            print(f"shortdrama: {finding.line(output)}", file=sys.stderr)
    if stale:
        count = sum(len(job.outputs) for job in stale)
        raise ShortDramaError(f"the build finished, but {count} output(s) listed above do not match what they "
                              f"should have been made from: build again (`shortdrama verify` lists them too)")


def on_error(wf: Workflow, checkout: str | os.PathLike) -> None:
    with _one_line():
        _refresh_ledger_views(wf, checkout)


def _refresh_ledger_views(wf: Workflow, checkout: str | os.PathLike) -> None:
    runtime = wf.runtime(checkout)
    for ledger in {runtime.ledger.path: runtime.ledger, runtime.spend_ledger.path: runtime.spend_ledger}.values():
        ledger.refresh_view()  # a sweep point's own ledger, and the sweep's purse


@contextmanager
def _one_line() -> Iterator[None]:
    try:
        yield
    except ShortDramaError as error:
        print(f"shortdrama: error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
