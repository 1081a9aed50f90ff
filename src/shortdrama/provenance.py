"""What every output was made from, recorded by the job that made it and checked without Snakemake.

Each job writes, for each of its outputs, a manifest under `results/<series>/.manifests/` (the
output's path below the series folder, plus `.json`): the rule, the spec string it ran with (its
`params.spec`, the same string Snakemake compares), the sha256 of every input file it read and of
every file it wrote. The manifest is written as "started" before the step runs and completed after,
so a job killed between its rename and its record is seen as unfinished, never as finished.

`check` compares manifests with what the current configuration and the files on disk say each output
should have been made from. It does not read `.snakemake/metadata`, so it catches what Snakemake
cannot see: an intermediate deleted while the final that used it exists, an output replaced by hand,
a final made before its script was edited, edits made while the metadata was lost. `shortdrama
verify` prints the findings; the build removes the outputs they name before Snakemake plans its jobs
(`reconcile`), so they are made again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .cost.cache import file_digest
from .media import write_text_atomic

log = logging.getLogger(__name__)

MANIFESTS = ".manifests"
# Digests the main process computed, by path, size and mtime (a cache, like git's index): Snakemake
# touches every output after its job, so the mtime a manifest records is never the file's final one;
# without this every check would hash every file again.
KNOWN_STAMPS = ".known-stamps"  # JSON; not *.json: every *.json there is one output's manifest
# Inputs a rule takes only for ordering, as ancient(): the scene's slice of the script is in the spec,
# so the script's own digest must not make every scene stale. Every rule names such an input `script`.
ORDERING_INPUTS = frozenset({"script"})


@dataclass(frozen=True)
class Stamp:
    """A file's content digest, with the size and mtime it had when hashed (to skip rehashing)."""

    sha256: str
    size: int
    mtime_ns: int

    def to_dict(self) -> dict:
        return {"sha256": self.sha256, "size": self.size, "mtime_ns": self.mtime_ns}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Stamp":
        return cls(str(data["sha256"]), int(data["size"]), int(data["mtime_ns"]))


def stamp(path: str | os.PathLike, known: Stamp | None = None, trust_stat: bool = True) -> Stamp | None:
    """The file's stamp, or None when it does not exist. With `trust_stat`, a file whose size and
    mtime equal a known stamp's is taken to have that stamp's digest (as `make` and git do)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    if trust_stat and known is not None and (info.st_size, info.st_mtime_ns) == (known.size, known.mtime_ns):
        return known
    return Stamp(file_digest(path), info.st_size, info.st_mtime_ns)


@dataclass
class Manifest:
    rule: str
    spec: str
    inputs: dict[str, Stamp]
    outputs: dict[str, Stamp] | None  # None: the job started and has not finished
    started: str
    finished: str | None = None

    def to_json(self) -> str:
        return json.dumps({
            "rule": self.rule, "spec": self.spec, "started": self.started, "finished": self.finished,
            "inputs": {p: s.to_dict() for p, s in self.inputs.items()},
            "outputs": None if self.outputs is None else {p: s.to_dict() for p, s in self.outputs.items()},
        }, indent=1, ensure_ascii=False, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        data = json.loads(text)
        outputs = data.get("outputs")
        return cls(rule=str(data["rule"]), spec=str(data["spec"]), started=str(data["started"]),
                   finished=data.get("finished"),
                   inputs={p: Stamp.from_dict(s) for p, s in data["inputs"].items()},
                   outputs=None if outputs is None else {p: Stamp.from_dict(s) for p, s in outputs.items()})


class ManifestStore:
    """The manifests of one series folder (`results/<series>`), in the work dir `base` the outputs are
    named relative to (where Snakemake runs)."""

    def __init__(self, root: str | os.PathLike, base: str | os.PathLike = ".") -> None:
        self.root = Path(root)
        self.base = Path(base)
        self._known: dict[str, Stamp] | None = None
        self._learned = False

    def current(self, path: str, recorded: Stamp | None = None, trust_stat: bool = True) -> Stamp | None:
        """The stamp of `path` now (None: missing). With `trust_stat`, a size and mtime equal to the
        recorded stamp's or to a digest computed earlier (KNOWN_STAMPS) is taken to have its digest."""
        full = self.at(path)
        try:
            info = os.stat(full)
        except FileNotFoundError:
            return None
        if trust_stat:
            for known in (recorded, self._known_stamps().get(str(path))):
                if known is not None and (info.st_size, info.st_mtime_ns) == (known.size, known.mtime_ns):
                    return known
        found = Stamp(file_digest(full), info.st_size, info.st_mtime_ns)
        self._known_stamps()[str(path)] = found
        self._learned = True
        return found

    def save_known_stamps(self) -> None:
        """Keep the digests computed since the store was opened (a real build's main process only: a dry
        run, `plan` and `verify` write nothing)."""
        if not self._learned:
            return
        data = {path: {"sha256": s.sha256, "size": s.size, "mtime_ns": s.mtime_ns} for path, s in self._known_stamps().items()
                if self.at(path).exists()}
        write_text_atomic(self.base / self.root / MANIFESTS / KNOWN_STAMPS, json.dumps(data, sort_keys=True))
        self._learned = False

    def _known_stamps(self) -> dict[str, Stamp]:
        if self._known is None:
            try:
                data = json.loads((self.base / self.root / MANIFESTS / KNOWN_STAMPS).read_text(encoding="utf-8"))
                self._known = {str(path): Stamp.from_dict(value) for path, value in data.items()}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):  # none yet, or damaged: hash again
                self._known = {}
        return self._known

    def at(self, path: str | os.PathLike) -> Path:
        """A path as the rules name it, on this machine (an absolute one, a reference photo, stays as is)."""
        return self.base / path

    def path_for(self, output: str | os.PathLike) -> Path:
        relative = Path(output).relative_to(self.root)
        return self.base / self.root / MANIFESTS / f"{relative}.json"

    def read(self, output: str | os.PathLike) -> Manifest | None:
        try:
            return Manifest.from_json(self.path_for(output).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as problem:  # a damaged record is no record
            log.warning("unreadable manifest %s (%s)", self.path_for(output), problem)
            return None

    def write(self, manifest: Manifest, outputs: Iterable[str]) -> None:
        text = manifest.to_json()
        for output in outputs:
            write_text_atomic(self.path_for(output), text)

    def begin(self, rule: str, spec: str, inputs: Sequence[str], outputs: Sequence[str]) -> Manifest:
        """Record that a job starts: what it reads, with what settings. Its outputs are not vouched for yet."""
        manifest = Manifest(rule=rule, spec=spec, inputs=_stamps(inputs, self), outputs=None, started=_now())
        self.write(manifest, outputs)
        return manifest

    def finish(self, manifest: Manifest, outputs: Sequence[str]) -> None:
        stamps = {path: stamp(self.at(path), trust_stat=False) for path in outputs}
        missing = [path for path, s in stamps.items() if s is None]
        if missing:
            raise FileNotFoundError(f"{manifest.rule} did not write {', '.join(missing)}")
        manifest.outputs, manifest.finished = stamps, _now()
        self.write(manifest, outputs)

    def forget(self, output: str | os.PathLike) -> None:
        self.path_for(output).unlink(missing_ok=True)


def _stamps(paths: Sequence[str], store: ManifestStore) -> dict[str, Stamp]:
    """Input stamps, reusing the producing job's record of a file that has not changed since."""
    result = {}
    for path in paths:
        produced = _produced_stamp(store, path)
        current = stamp(store.at(path), produced)
        if current is None:
            raise FileNotFoundError(f"input {path} does not exist")
        result[path] = current
    return result


def _produced_stamp(store: ManifestStore, path: str) -> Stamp | None:
    try:
        manifest = store.read(path)
    except ValueError:  # not below the series folder (a reference photo): no producer
        return None
    return (manifest.outputs or {}).get(path) if manifest else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


# ------------------------------------------------------------------------------------ checking


@dataclass(frozen=True)
class ExpectedJob:
    """One job as the current configuration and scripts say it should have run."""

    rule: str
    outputs: tuple[str, ...]
    spec: str
    inputs: tuple[str, ...] = ()
    # A document a person may edit (outline, scripts): a hand edit is the new source, not damage.
    editable: bool = False
    # A deliverable (an episode's final): out of date, it is moved aside rather than deleted, so an
    # episode stays watchable under a name that says what it is until its rebuild succeeds.
    deliverable: bool = False
    wildcards: tuple[tuple[str, str], ...] = ()  # as the rule's wildcards name them
    ancient: tuple[str, ...] = ()  # inputs whose changes do not date the outputs (Snakemake's `ancient`)


@dataclass(frozen=True)
class Finding:
    """Why one job's outputs do not match what they should have been made from."""

    job: ExpectedJob
    reason: str
    stale: bool = True  # the outputs must be made again
    edited: dict[str, bool] = field(default_factory=dict)  # output -> differs from what its job wrote
    missing: tuple[str, ...] = ()

    def line(self, output: str) -> str:
        return f"{output}: {'missing' if output in self.missing else self.reason}"


def check(jobs: Sequence[ExpectedJob], store: ManifestStore, trust_stat: bool = True) -> dict[ExpectedJob, Finding]:
    """The jobs whose outputs are missing, unrecorded, changed by hand, or made from other settings or
    inputs than the current ones. `jobs` come in dependency order: an input that is itself out of date
    makes its readers out of date. Edited documents are reported with stale=False unless their writer's
    settings or inputs changed."""
    findings: dict[ExpectedJob, Finding] = {}
    stale_outputs: dict[str, str] = {}
    for job in jobs:
        finding = _check_job(job, store, stale_outputs, trust_stat)
        if finding is None:
            continue
        findings[job] = finding
        if finding.stale:
            stale_outputs.update({output: finding.reason for output in job.outputs})
    return findings


def _check_job(job: ExpectedJob, store: ManifestStore, stale_outputs: Mapping[str, str],
               trust_stat: bool) -> Finding | None:
    records = {output: store.read(output) for output in job.outputs}
    present = {output: store.current(output, _recorded(records[output], output), trust_stat) for output in job.outputs}
    missing = [output for output, s in present.items() if s is None]
    if missing:
        return Finding(job, f"{', '.join(missing)}, made by the same job, is missing", missing=tuple(missing))
    edited = {output: _recorded(records[output], output) is None or
              _recorded(records[output], output).sha256 != present[output].sha256 for output in job.outputs}
    manifest = records[job.outputs[0]]
    if manifest is None or any(records[o] is None or records[o].started != manifest.started for o in job.outputs):
        if job.editable:
            return Finding(job, "written or edited by hand (no record of the writer making it)", stale=False,
                           edited=edited)
        return Finding(job, f"no record of how it was made: {job.rule} did not write it", edited=edited)
    if manifest.outputs is None:
        return Finding(job, f"{job.rule} started making it and did not finish", edited=edited)
    if manifest.spec != job.spec:
        return Finding(job, f"made with other settings ({describe_spec_change(manifest.spec, job.spec)})",
                       edited=edited)
    if set(manifest.inputs) != set(job.inputs):
        added = sorted(set(job.inputs) - set(manifest.inputs))
        removed = sorted(set(manifest.inputs) - set(job.inputs))
        change = "; ".join(filter(None, (f"now also {', '.join(added)}" if added else "",
                                         f"no longer {', '.join(removed)}" if removed else "")))
        return Finding(job, f"made from other input files ({change})", edited=edited)
    for path in job.inputs:
        if path in job.ancient:
            continue
        if path in stale_outputs:
            return Finding(job, f"its input {path} is out of date", edited=edited)
        current = store.current(path, manifest.inputs[path], trust_stat)
        if current is None:
            return Finding(job, f"its input {path} is missing", edited=edited)
        if current.sha256 != manifest.inputs[path].sha256:
            return Finding(job, f"its input {path} changed since it was made", edited=edited)
    if any(edited.values()):
        changed = [output for output, flag in edited.items() if flag]
        if job.editable:
            return Finding(job, "edited by hand since the writer made it", stale=False, edited=edited)
        return Finding(job, f"changed since {job.rule} made it ({', '.join(changed)} replaced or edited by hand)",
                       edited=edited)
    return None


def _recorded(manifest: Manifest | None, output: str) -> Stamp | None:
    return (manifest.outputs or {}).get(output) if manifest else None


def describe_spec_change(old: str, new: str, limit: int = 4) -> str:
    """The top-level (and second-level) keys whose values differ between two JSON specs."""
    try:
        before, after = json.loads(old), json.loads(new)
    except ValueError:
        return "spec changed"
    changed = _changed_keys(before, after, "")
    if not changed:
        return "spec changed"
    shown = ", ".join(changed[:limit]) + (f" and {len(changed) - limit} more" if len(changed) > limit else "")
    return f"changed: {shown}"


def _changed_keys(before: object, after: object, prefix: str, depth: int = 2) -> list[str]:
    if before == after:
        return []
    if depth == 0 or not (isinstance(before, dict) and isinstance(after, dict)):
        return [prefix or "everything"]
    keys = sorted(set(before) | set(after))
    return [key for name in keys
            for key in _changed_keys(before.get(name), after.get(name), f"{prefix}.{name}" if prefix else name,
                                     depth - 1)]


# ----------------------------------------------------------------------------------- reconciling


def set_aside(path: str | os.PathLike, when: datetime | None = None) -> Path:
    """Move a hand-made file out of the way of a rebuild: `name.edited-<UTC time>.ext` beside it."""
    source = Path(path)
    moment = (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    target = source.with_name(f"{source.stem}.edited-{moment}{source.suffix}")
    os.replace(source, target)
    return target


def keep_copy(path: str | os.PathLike, when: datetime | None = None) -> Path:
    """Copy a hand-edited document beside itself as `name.edited-<UTC time>.ext`, once per content."""
    source = Path(path)
    digest = file_digest(source)
    for existing in sorted(source.parent.glob(f"{source.stem}.edited-*{source.suffix}")):
        if file_digest(existing) == digest:
            return existing
    moment = (when or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    target = source.with_name(f"{source.stem}.edited-{moment}{source.suffix}")
    shutil.copy2(source, target)
    return target


def to_rebuild(findings: Mapping[ExpectedJob, Finding], store: ManifestStore) -> list[tuple[str, Finding]]:
    """The outputs on disk that must be made again: those of stale jobs, except a document a person
    edited (outline, script), which is never removed (the build stops before: see
    trust.protect_hand_edits)."""
    return [(output, finding) for job, finding in findings.items()
            if finding.stale and not (job.editable and any(finding.edited.values()))
            for output in job.outputs if store.at(output).exists()]


def outdated_name(path: str | os.PathLike) -> Path:
    """Where an out-of-date deliverable waits for its rebuild: `episode_01_final.outdated.mp4`."""
    source = Path(path)
    return source.with_name(f"{source.stem}.outdated{source.suffix}")


def remove_stale(findings: Mapping[ExpectedJob, Finding], store: ManifestStore) -> list[str]:
    """Take out of the way every output that must be made again, so Snakemake makes it: an output
    someone replaced by hand is kept beside as `.edited-<time>`, an out-of-date final as
    `.outdated` (until the new one is made), the rest is deleted. Returns one line per output."""
    lines = []
    for output, finding in to_rebuild(findings, store):
        job = finding.job
        if finding.edited.get(output) and store.read(output) is not None:
            kept = Path(output).with_name(set_aside(store.at(output)).name)
            lines.append(f"{output}: {finding.reason}; the file found there is kept as {kept}, rebuilding")
        elif job.deliverable:
            os.replace(store.at(output), store.at(outdated_name(output)))
            lines.append(f"{finding.line(output)}; it waits as {outdated_name(output)} until the new one is "
                         f"made, rebuilding")
        else:
            os.unlink(store.at(output))
            lines.append(f"{finding.line(output)}; rebuilding")
        store.forget(output)
    return lines
