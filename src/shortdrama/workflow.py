"""What rules/common.smk needs from the library: the composed config, target paths, and each rule's spec.

One `Workflow` is built per Snakemake invocation from Snakemake's `config` dictionary (the
`--config` pairs), so `snakemake --config video=still` and `shortdrama build video=still` compose
the same configuration.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from . import provenance, specs
from .config import AppConfig, load_config, overrides_from_snakemake
from .cost.call import Runtime
from .errors import SchemaError, ShortDramaError
from .paths import SeriesPaths
from .provenance import ExpectedJob, Finding, ManifestStore
from .schemas import EpisodeScript
from .steps import read_script_checked


@dataclass
class Workflow:
    cfg: AppConfig
    overrides: list[str]
    # The folder holding the Snakefile: reference photos are named relative to it, and the `script:`
    # files whose mtimes Snakemake compares live there.
    checkout: Path | None = None
    _scripts: dict[str, tuple[float, EpisodeScript]] = field(default_factory=dict)
    _reconciled: set = field(default_factory=set)

    @classmethod
    def from_snakemake_config(cls, config: Mapping[str, Any], conf_dir: str | None = None,
                              checkout: str | os.PathLike | None = None) -> "Workflow":
        overrides = overrides_from_snakemake(config)
        return cls(load_config(overrides, Path(conf_dir) if conf_dir else None), overrides,
                   Path(checkout) if checkout else None)

    # -- names -----------------------------------------------------------------------------
    @property
    def series(self) -> str:
        """The `{series}` wildcard: the output folder under results/ (`demo`, or `demo/sweeps/<point>`)."""
        return output_folder(self.cfg).removeprefix("results/")

    def runtime(self, checkout: str | os.PathLike) -> Runtime:
        """Operational settings for the jobs (ledger, budget, cache): not params, so changing them reruns nothing."""
        return Runtime.from_config(self.cfg, Path(output_folder(self.cfg)), Path(checkout) / ".cache" / "shortdrama")

    @property
    def episodes(self) -> list[str]:
        return [f"{n:02d}" for n in range(1, self.cfg.series.episodes + 1)]

    @property
    def paths(self) -> SeriesPaths:
        return SeriesPaths(f"results/{self.series}")

    @property
    def manifests(self) -> ManifestStore:
        return ManifestStore(self.paths.root)

    def final_targets(self) -> list[str]:
        return [self.paths.config] + [self.paths.final(ep) for ep in self.episodes]

    def episode_outputs(self, script_path: str | os.PathLike) -> list[str]:
        """Every file the episode's jobs make, intermediates included: rule all asks for them all, so
        one that was deleted (or removed by a failed job) is made again even while the final exists."""
        return [output for job in self._episode_jobs(script_path) for output in job.outputs]

    # -- documents read back from checkpoints (cached per path and mtime) --------------------
    def script(self, path: str | os.PathLike) -> EpisodeScript:
        return self._cached(self._scripts, path, self._read_checked)

    def _read_checked(self, path: str) -> EpisodeScript:
        episode = int(Path(path).parent.name.removeprefix("ep"))
        try:
            return read_script_checked(path, [c.name for c in self.cfg.series.cast.values()],
                                       language=self.cfg.series.language, episode=episode)
        except ShortDramaError as error:
            message = str(error)
            raise SchemaError(message if message.startswith(str(path)) else f"{path}: {message}") from None

    def check_existing_documents(self) -> None:
        """Before Snakemake builds its graph: stop on a hand-edited document the writer is about to
        rewrite (keeping a copy), and validate the outline and scripts this run keeps (perhaps edited
        by hand), where an input function that raises would bury the message under a traceback."""
        findings = provenance.check(self._writing_jobs(), self.manifests)
        outline_job = self._outline_job()
        if os.path.exists(self.paths.outline) and not _stale(findings, outline_job):
            from .calls import check_outline

            try:
                check_outline(outline_job.spec, Path(self.paths.outline))
            except ShortDramaError as error:
                message = str(error)
                raise SchemaError(message if message.startswith(self.paths.outline)
                                  else f"{self.paths.outline}: {message}") from None
        self.protect_hand_edits(findings)
        for ep in self.episodes:
            path = self.paths.script(ep)
            if os.path.exists(path) and not _stale(findings, self._script_job(ep)):
                self.script(path)

    def protect_hand_edits(self, findings: Mapping[ExpectedJob, Finding] | None = None) -> None:
        """No rerun may destroy a document a person edited. A hand-edited outline or script that the
        writer is about to rewrite (its settings or its outline changed) is copied beside itself as
        `name.edited-<time>.json` and the build stops with one line naming the copies (reruns for a
        timestamp alone are defused later, see `defuse_timestamp_reruns`)."""
        if findings is None:
            findings = provenance.check(self._writing_jobs(), self.manifests)
        edited, copies, reasons = [], [], []
        for job in self._writing_jobs():
            finding = findings.get(job)
            path = job.outputs[0]
            if finding is None or not os.path.exists(path) or not any(finding.edited.values()):
                continue
            if finding.stale:
                edited.append(path)
                copies.append(str(provenance.keep_copy(path)))
                if finding.reason not in reasons:
                    reasons.append(finding.reason)
        if edited:
            many = len(edited) > 1
            raise ShortDramaError(
                f"{' and '.join(edited)} {'were' if many else 'was'} edited by hand and the writer is about to "
                f"rewrite {'them' if many else 'it'} ({'; '.join(reasons)}); your "
                f"{'edits are' if many else 'edit is'} kept as {', '.join(copies)}: to accept the rewrite, delete "
                f"{'those files' if many else edited[0]} and build again; to keep your "
                f"{'edits' if many else 'edit'}, undo the change that asks for the rewrite")

    def defuse_timestamp_reruns(self, benchmark: Callable[[ExpectedJob], str | None]) -> None:
        """Snakemake also reruns a job whose input is newer than its output or its benchmark file (when
        .snakemake/metadata cannot vouch for the input's checksum), or whose `script:` file is newer:
        for a hand-edited document whose settings and inputs did not change, such a rerun would only
        overwrite what the person wrote. Touching the document (and its benchmark) prevents it."""
        findings = provenance.check(self._writing_jobs(), self.manifests)
        for job in self._writing_jobs():
            finding = findings.get(job)
            if finding is None or finding.stale or not any(finding.edited.values()):
                continue
            made = [job.outputs[0], benchmark(job)]
            made = [p for p in made if p and os.path.exists(p)]
            triggers = [*job.inputs, *([str(self.checkout / "scripts" / f"{job.rule}.py")] if self.checkout else [])]
            oldest = min(os.stat(p).st_mtime for p in made)
            if any(os.path.exists(p) and os.stat(p).st_mtime >= oldest for p in triggers):
                for path in made:
                    os.utime(path)

    # -- provenance: what each output should have been made from -----------------------------------
    def _outline_job(self) -> ExpectedJob:
        return ExpectedJob("write_outline", (self.paths.outline,), self.outline_spec(), editable=True,
                           wildcards=(("series", self.series),))

    def _script_job(self, ep: str) -> ExpectedJob:
        return ExpectedJob("write_episode_script", (self.paths.script(ep),), self.script_spec(ep),
                           (self.paths.outline,), editable=True, wildcards=(("series", self.series), ("ep", ep)))

    def _writing_jobs(self) -> list[ExpectedJob]:
        return [self._outline_job(), *(self._script_job(ep) for ep in self.episodes)]

    def readable_scripts(self) -> dict[str, str]:
        """The episodes whose script.json is on disk and valid: only their scenes can be checked."""
        readable = {}
        for ep in self.episodes:
            path = self.paths.script(ep)
            try:
                if os.path.exists(path):
                    self.script(path)
                    readable[ep] = path
            except ShortDramaError:
                continue
        return readable

    def expected_jobs(self, scripts: Mapping[str, str] | None = None) -> list[ExpectedJob]:
        """Every job of the series as the current configuration and scripts define it, in dependency order."""
        scripts = self.readable_scripts() if scripts is None else scripts
        jobs = [ExpectedJob("record_config", (self.paths.config,), self.config_spec()), *self._writing_jobs()]
        jobs += self._character_jobs(list(scripts.values()))
        for path in scripts.values():
            jobs += self._episode_jobs(path)
        return jobs

    def _character_jobs(self, script_paths: list[str]) -> list[ExpectedJob]:
        if not self.cfg.lora.enabled:
            return []
        jobs = []
        for cid in self._characters_on_screen(script_paths):
            if not self.cfg.series.cast[cid].references:
                count = self.cfg.lora.reference_count
                jobs.append(ExpectedJob(
                    "generate_character_references",
                    tuple(self.paths.reference_image(cid, i) for i in range(count))
                    + tuple(self.paths.reference_caption(cid, i) for i in range(count)),
                    self.references_spec(cid)))
            references = self.character_references(cid, self.checkout or Path.cwd())
            jobs.append(ExpectedJob("train_character_lora", (self.paths.lora(cid),), self.lora_spec(cid),
                                    tuple(references)))
            jobs.append(ExpectedJob("draw_contact_sheet", (self.paths.contact_sheet(cid),),
                                    self.contact_sheet_spec(cid), (self.paths.lora(cid),)))
        return jobs

    def _episode_jobs(self, script_path: str | os.PathLike) -> list[ExpectedJob]:
        script_path = str(script_path)
        ep = Path(script_path).parent.name.removeprefix("ep")
        scenes = self.scene_ids(script_path)
        p = self.paths
        jobs = []
        for sc in scenes:
            jobs += [
                ExpectedJob("generate_keyframe", (p.keyframe(ep, sc),), self.keyframe_spec(script_path, sc),
                            tuple(self.keyframe_loras(script_path, sc))),
                ExpectedJob("generate_clip", (p.clip(ep, sc),), self.clip_spec(script_path, sc),
                            (p.keyframe(ep, sc),)),
                ExpectedJob("speak_dialogue", (p.dialogue(ep, sc), p.cues(ep, sc)),
                            self.dialogue_spec(script_path, sc)),
            ]
        jobs += [
            ExpectedJob("mix_episode_audio", (p.mix(ep),), self.mix_spec(script_path),
                        tuple(p.dialogue(ep, sc) for sc in scenes)),
            ExpectedJob("write_subtitles", (p.subtitles(ep),), self.subtitles_spec(script_path),
                        tuple(p.cues(ep, sc) for sc in scenes)),
            ExpectedJob("render_episode", (p.final(ep),), self.render_spec(script_path),
                        (*(p.clip(ep, sc) for sc in scenes), p.mix(ep), p.subtitles(ep)), deliverable=True),
        ]
        return jobs

    def verify(self, trust_stat: bool = True) -> dict[ExpectedJob, Finding]:
        """Every job whose outputs do not match what they should be made from now (`shortdrama verify`).
        Episodes whose script is missing or unreadable are reported through their script."""
        jobs = self.expected_jobs()
        findings = provenance.check(jobs, self.manifests, trust_stat)
        scripts = self.readable_scripts()
        for ep in self.episodes:
            if ep not in scripts and os.path.exists(self.paths.script(ep)):
                job = self._script_job(ep)
                if not _stale(findings, job):
                    findings[job] = Finding(job, "unreadable (invalid JSON or schema): fix it by hand or delete it")
        return findings

    def reconcile(self, act: bool, benchmark: Callable[[ExpectedJob], str | None] = lambda job: None,
                  force: Callable[[list[str]], None] = lambda outputs: None) -> list[str]:
        """Before Snakemake decides what to run: remove every output that does not match what it
        should be made from (see provenance.remove_stale), so it is made again. Characters and
        writing are checked once per run; each episode again whenever its script changed (after the
        writer rewrote it), never while its jobs may run. With `act` False (a dry run) nothing is
        removed: `force` is given the outputs a real run would make again, to show their jobs."""
        scripts = self.readable_scripts()
        jobs = []
        if "series" not in self._reconciled:
            self.defuse_timestamp_reruns(benchmark)
            jobs += [ExpectedJob("record_config", (self.paths.config,), self.config_spec()), *self._writing_jobs(),
                     *self._character_jobs(list(scripts.values()))]
        scopes = []
        for ep, path in scripts.items():
            scope = (ep, provenance.stamp(path, trust_stat=False).sha256)
            if scope not in self._reconciled:
                scopes.append(scope)
                jobs += self._episode_jobs(path)
        findings = {job: f for job, f in provenance.check(jobs, self.manifests).items() if f.stale}
        if act:
            lines = provenance.remove_stale(findings, self.manifests)
        else:
            stale = provenance.to_rebuild(findings)
            force([output for output, _ in stale])
            lines = [f"{finding.line(output)} (a real run rebuilds it)" for output, finding in stale]
        self._reconciled.update(["series", *scopes])
        for line in lines:
            print(f"shortdrama: {line}", file=sys.stderr)
        return lines

    @staticmethod
    def _cached(cache: dict, path: str | os.PathLike, read):  # noqa: ANN001, ANN205
        key = str(path)
        mtime = os.stat(key).st_mtime
        hit = cache.get(key)
        if hit is None or hit[0] != mtime:
            hit = cache[key] = (mtime, read(key))
        return hit[1]

    # -- character LoRAs -------------------------------------------------------------------
    def lora_path(self, character_id: str) -> str:
        return self.paths.lora(character_id)

    def character_references(self, character_id: str, checkout: str | os.PathLike) -> list[str]:
        """The photos given in the cast entry (with any caption sidecars), else the generated set."""
        from .characters.generated import caption_sidecar
        from .characters.references import expand_references

        entries = self.cfg.series.cast[character_id].references
        if not entries:
            images = self.generated_references(character_id)
            return images + [str(caption_sidecar(Path(p))) for p in images]
        images = [Path(p) for p in expand_references(entries, Path(checkout))]
        return [str(p) for p in images] + [str(caption_sidecar(p)) for p in images if caption_sidecar(p).is_file()]

    def uses_gpu(self, group: str) -> int:
        """1 when the group's model runs locally on a GPU: the `gpu` resource a profile caps and a cluster places."""
        return int(getattr(self.cfg, group).provider == "diffusers")

    def generated_references(self, character_id: str) -> list[str]:
        return [self.paths.reference_image(character_id, i) for i in range(self.cfg.lora.reference_count)]

    def contact_sheets(self, script_paths: list[str]) -> list[str]:
        """One sheet per character with a LoRA, i.e. per character on screen in the given scripts."""
        if not self.cfg.lora.enabled:
            return []
        return [self.paths.contact_sheet(cid) for cid in self._characters_on_screen(script_paths)]

    def character_outputs(self, script_paths: list[str]) -> list[str]:
        """Adapters, generated references and sheets of the characters on screen (rule all asks for them)."""
        return [output for job in self._character_jobs(script_paths) for output in job.outputs]

    def _characters_on_screen(self, script_paths: list[str]) -> list[str]:
        on_screen = {name for path in script_paths for scene in self.script(path).scenes for name in scene.characters}
        return [cid for cid, c in self.cfg.series.cast.items() if c.name in on_screen]

    def keyframe_loras(self, script_path: str | os.PathLike, sc: str) -> list[str]:
        """The adapters of the characters on screen: retraining one reruns only the shots it is in."""
        if not self.cfg.lora.enabled:
            return []
        ids = {c.name: cid for cid, c in self.cfg.series.cast.items()}
        return [self.lora_path(ids[name]) for name in self.scene(script_path, sc).characters if name in ids]

    def lora_spec(self, character_id: str) -> str:
        return specs.lora_spec(self.cfg, character_id)

    def references_spec(self, character_id: str) -> str:
        return specs.references_spec(self.cfg, character_id)

    def contact_sheet_spec(self, character_id: str) -> str:
        return specs.contact_sheet_spec(self.cfg, character_id)

    def scene_ids(self, script_path: str | os.PathLike) -> list[str]:
        return [f"{n:02d}" for n in range(1, len(self.script(script_path).scenes) + 1)]

    def scene(self, script_path: str | os.PathLike, sc: str):  # noqa: ANN201
        scenes = self.script(script_path).scenes
        index = int(sc) - 1
        if not 0 <= index < len(scenes):
            raise SchemaError(f"{script_path} has {len(scenes)} scenes; there is no scene {sc}")
        return scenes[index]

    # -- specs (params) ----------------------------------------------------------------------
    def config_spec(self) -> str:
        return specs.config_spec(self.cfg)

    def outline_spec(self) -> str:
        return specs.outline_spec(self.cfg)

    def script_spec(self, ep: str) -> str:
        return specs.script_spec(self.cfg, int(ep))

    def keyframe_spec(self, script_path: str, sc: str) -> str:
        return specs.keyframe_spec(self.cfg, self.scene(script_path, sc))

    def clip_spec(self, script_path: str, sc: str) -> str:
        return specs.clip_spec(self.cfg, self.scene(script_path, sc))

    def dialogue_spec(self, script_path: str, sc: str) -> str:
        return specs.dialogue_spec(self.cfg, self.scene(script_path, sc))

    def subtitles_spec(self, script_path: str) -> str:
        return specs.subtitles_spec(self.cfg, self.script(script_path))

    def mix_spec(self, script_path: str) -> str:
        return specs.mix_spec(self.cfg, self.script(script_path))

    def render_spec(self, script_path: str) -> str:
        return specs.render_spec(self.cfg, self.script(script_path))


def _stale(findings: Mapping[ExpectedJob, Finding], job: ExpectedJob) -> bool:
    return job in findings and findings[job].stale


def output_folder(cfg: AppConfig) -> str:
    return cfg.output_dir or f"results/{cfg.series.slug}"

