"""What makes a build's word true (see provenance for the manifests it reads).

- `check_existing_documents` (when Snakemake parses the Snakefile): a broken outline or script stops
  the build with one line.
- `Reconciler.before_planning` (when `rule all`'s inputs are first listed, and again per episode
  after its script is rewritten): a hand-edited document the writer is about to rewrite is kept and
  the build stops (`protect_hand_edits`); outputs that do not match what they should be made from are
  taken out of the way so Snakemake makes them again. A dry run changes no file: it only says so.
- `verify`: the same check, reported (`shortdrama verify`, and after a whole build).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from . import provenance
from .errors import SchemaError, ShortDramaError
from .provenance import ExpectedJob, Finding
from .workflow import Workflow


def _writing_jobs(wf: Workflow) -> list[ExpectedJob]:
    """The outline's and the scripts' jobs (with no script given, the episode rules that read one list nothing)."""
    return [job.expected() for job in wf.jobs({}, ("series", "episode")) if job.editable]


def _stale(findings: Mapping[ExpectedJob, Finding], job: ExpectedJob) -> bool:
    return job in findings and findings[job].stale


def check_existing_documents(wf: Workflow) -> None:
    """Before Snakemake builds its graph: validate the outline and the scripts this run keeps (perhaps
    edited by hand), where an input function that raises would bury the message under a traceback."""
    from .stages.writing import OutlineSpec, check_outline

    jobs = _writing_jobs(wf)
    findings = provenance.check(jobs, wf.manifests)
    outline = next(job for job in jobs if job.rule == "write_outline")
    path = outline.outputs[0]
    if wf.at(path).exists() and not _stale(findings, outline):
        try:
            check_outline(OutlineSpec.from_json(outline.spec), wf.at(path))
        except ShortDramaError as error:
            message = str(error).replace(str(wf.at(path)), path)
            raise SchemaError(message if message.startswith(path) else f"{path}: {message}") from None
    for job in jobs:
        if job.rule == "write_episode_script" and wf.at(job.outputs[0]).exists() and not _stale(findings, job):
            wf.script(job.outputs[0])


def protect_hand_edits(wf: Workflow, keep: bool = True) -> None:
    """No rerun may destroy a document a person edited. A hand-edited outline or script that the
    writer is about to rewrite (its settings or its outline changed) is copied beside itself as
    `name.edited-<time>.json` and the build stops with one line naming the copies; with `keep` False
    (a dry run) nothing is copied, the line only says so. Reruns for a timestamp alone are defused
    instead, see `defuse_timestamp_reruns`."""
    jobs = _writing_jobs(wf)
    findings = provenance.check(jobs, wf.manifests)
    edited, copies, reasons = [], [], []
    for job in jobs:
        finding = findings.get(job)
        path = job.outputs[0]
        if finding is None or not finding.stale or not wf.at(path).exists() or not any(finding.edited.values()):
            continue
        edited.append(path)
        if keep:
            copies.append(str(Path(path).with_name(provenance.keep_copy(wf.at(path)).name)))
        if finding.reason not in reasons:
            reasons.append(finding.reason)
    if edited:
        many = len(edited) > 1
        edits = "edits are" if many else "edit is"
        kept = (f"your {edits} kept as {', '.join(copies)}" if keep else
                f"a real build keeps your {'edits' if many else 'edit'} beside {'them' if many else 'it'} as "
                f"{'script' if 'script' in edited[0] else 'outline'}.edited-<time>.json and stops here")
        raise ShortDramaError(
            f"{' and '.join(edited)} {'were' if many else 'was'} edited by hand and the writer is about to "
            f"rewrite {'them' if many else 'it'} ({'; '.join(reasons)}); {kept}: to accept the rewrite, "
            f"delete {'those files' if many else edited[0]} and build again; to keep your "
            f"{'edits' if many else 'edit'}, undo the change that asks for the rewrite")


def defuse_timestamp_reruns(wf: Workflow, benchmark: Callable[[ExpectedJob], str | None]) -> None:
    """Snakemake also reruns a job whose input is newer than its output or its benchmark file (when
    .snakemake/metadata cannot vouch for the input's checksum), or whose `script:` file is newer:
    for a hand-edited document whose settings and inputs did not change, such a rerun would only
    overwrite what the person wrote. Touching the document (and its benchmark) prevents it."""
    jobs = _writing_jobs(wf)
    findings = provenance.check(jobs, wf.manifests)
    for job in jobs:
        finding = findings.get(job)
        if finding is None or finding.stale or not any(finding.edited.values()):
            continue
        made = [wf.at(p) for p in (job.outputs[0], benchmark(job)) if p and wf.at(p).exists()]
        triggers = [wf.at(p) for p in job.inputs]
        if wf.checkout is not None:
            triggers.append(wf.checkout / "scripts" / f"{job.rule}.py")
        oldest = min(os.stat(p).st_mtime for p in made)
        if any(p.exists() and os.stat(p).st_mtime >= oldest for p in triggers):
            for path in made:
                os.utime(path)


@dataclass
class Reconciler:
    """Before Snakemake decides what to run, removes every output that does not match what it should
    be made from (provenance.remove_stale), so it is made again. Characters and writing are checked
    once per run; each episode again whenever its script changed (after the writer rewrote it),
    never while its jobs may run."""

    wf: Workflow
    _done: set = field(default_factory=set)

    def before_planning(self, act: bool, benchmark: Callable[[ExpectedJob], str | None] = lambda job: None,
                        force: Callable[[list[str]], None] = lambda outputs: None) -> list[str]:
        """With `act` False (a dry run) nothing is removed: `force` is given the outputs a real run
        would make again, to show their jobs. Returns the lines printed."""
        wf = self.wf
        scripts = wf.readable_scripts()
        jobs = []
        if "series" not in self._done:
            protect_hand_edits(wf, keep=act)
            defuse_timestamp_reruns(wf, benchmark)
            jobs += wf.jobs({}, ("series", "episode")) + wf.jobs(scripts, ("character",))
        scopes = []
        for ep, path in scripts.items():
            scope = (ep, provenance.stamp(wf.at(path), trust_stat=False).sha256)
            if scope not in self._done:
                scopes.append(scope)
                jobs += wf.episode_jobs(path)
        expected = [job.expected() for job in jobs]
        findings = {job: f for job, f in provenance.check(expected, wf.manifests).items() if f.stale}
        if act:
            lines = provenance.remove_stale(findings, wf.manifests)
            wf.manifests.save_known_stamps()
        else:
            stale = provenance.to_rebuild(findings, wf.manifests)
            force([output for output, _ in stale])
            lines = [f"{finding.line(output)} (a real run rebuilds it)" for output, finding in stale]
        self._done.update(["series", *scopes])
        for line in lines:
            print(f"shortdrama: {line}", file=sys.stderr)
        return lines


def verify(wf: Workflow, trust_stat: bool = True) -> dict[ExpectedJob, Finding]:
    """Every job whose outputs do not match what they should be made from now (`shortdrama verify`).
    Episodes whose script is missing or unreadable are reported through their script."""
    scripts = wf.readable_scripts()
    findings = provenance.check([job.expected() for job in wf.jobs(scripts)], wf.manifests, trust_stat)
    for job in _writing_jobs(wf):
        path = job.outputs[0]
        if job.rule == "write_episode_script" and path not in scripts.values() and wf.at(path).exists():
            if not _stale(findings, job):
                findings[job] = Finding(job, "unreadable (invalid JSON or schema): fix it by hand or delete it")
    return findings


def verify_command(wf: Workflow, rehash: bool = False) -> int:
    """`shortdrama verify`: each output out of date or noted, one line each; 1 when any is out of date."""
    outputs = sum(len(job.outputs) for job in wf.jobs())
    stale = 0
    for job, finding in verify(wf, trust_stat=not rehash).items():
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
