"""The series as the DAG side sees it: the composed config, its scripts, and every job of every rule.

One `Workflow` is built per Snakemake invocation from Snakemake's `config` dictionary (the
`--config` pairs), so `snakemake --config video=still` and `shortdrama build video=still` compose
the same configuration. The jobs themselves (spec, outputs, inputs) come from the stage modules
through `stages.registry`; this module only knows which jobs a series has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from .config import AppConfig, load_config, overrides_from_snakemake
from .cost.call import Runtime
from .errors import SchemaError, ShortDramaError
from .paths import SeriesPaths
from .provenance import ManifestStore
from .schemas import EpisodeScript, Scene, read_script_checked
from .stages.base import Job
from .stages.registry import RULES, rule

if TYPE_CHECKING:
    from .review.approvals import Approval
    from .cut.decisions import Shot
    from .review.decisions import Decision, Decisions
    from .stages.clips import ClipSpec


@dataclass
class Workflow:
    cfg: AppConfig
    overrides: list[str]
    # The folder holding the Snakefile: reference photos are named relative to it, and the `script:`
    # files whose mtimes Snakemake compares live there.
    checkout: Path | None = None
    # The folder the build runs in (Snakemake's working directory): outputs are named relative to it.
    workdir: Path = Path(".")
    _scripts: dict[str, tuple[float, EpisodeScript]] = field(default_factory=dict)
    _manifests: ManifestStore | None = field(default=None, repr=False, compare=False)
    _decisions: "Decisions | None" = field(default=None, repr=False, compare=False)
    _approvals: "dict[str, Approval] | None" = field(default=None, repr=False, compare=False)
    _voices: "tuple[int, dict] | None" = field(default=None, repr=False, compare=False)
    _edits: "tuple[int, dict] | None" = field(default=None, repr=False, compare=False)

    @classmethod
    def from_snakemake_config(cls, config: Mapping[str, Any], conf_dir: str | None = None,
                              checkout: str | os.PathLike | None = None) -> "Workflow":
        overrides = overrides_from_snakemake(config)
        return cls(load_config(overrides, Path(conf_dir) if conf_dir else None), overrides,
                   Path(checkout) if checkout else None)

    # -- names ----------------------------------------------------------------------------------------
    @property
    def series(self) -> str:
        """The `{series}` wildcard: the output folder under results/ (`demo`, or `demo/sweeps/<point>`)."""
        return output_folder(self.cfg).removeprefix("results/")

    @property
    def paths(self) -> SeriesPaths:
        return SeriesPaths(self.series)

    @property
    def manifests(self) -> ManifestStore:
        """One store per workflow: the digests one check computes serve the next (KNOWN_STAMPS)."""
        if self._manifests is None or self._manifests.base != Path(self.workdir):
            self._manifests = ManifestStore(self.paths.root, self.workdir)
        return self._manifests

    def at(self, path: str | os.PathLike) -> Path:
        """A path named as the rules name it (relative to the work dir), on this machine."""
        return self.workdir / path

    def runtime(self, checkout: str | os.PathLike) -> Runtime:
        """Operational settings for the jobs (ledger, budget, cache, where approvals are recorded): not
        params, so changing them reruns nothing."""
        from dataclasses import replace

        from .review.approvals import approvals_path

        runtime = Runtime.from_config(self.cfg, self.at(output_folder(self.cfg)), Path(checkout) / ".cache" / "shortdrama")
        return replace(runtime, approvals=approvals_path(self.decisions_file).resolve()
                       if self.cfg.review.respect_approvals else None)

    @property
    def episodes(self) -> list[str]:
        return [f"{n:02d}" for n in range(1, self.cfg.series.episodes + 1)]

    @property
    def decisions_file(self) -> Path:
        from .review.decisions import decisions_path

        return decisions_path(self.checkout or Path.cwd(), self.cfg.review.decisions, self.cfg.series.slug)

    @property
    def decisions(self) -> "Decisions":
        """The producer's decisions (review/<series>.yaml in the checkout), read once per workflow."""
        if self._decisions is None:
            from .review.decisions import load_decisions

            shown = self.cfg.review.decisions or f"review/{self.cfg.series.slug}.yaml"
            self._decisions = load_decisions(self.decisions_file, shown)
        return self._decisions

    def decision(self, ep: str | int, sc: str | int) -> "Decision | None":
        return self.decisions.of(int(ep), int(sc))

    def approval(self, ep: str | int, sc: str | int) -> "Approval | None":
        """The recorded approval of the scene's picked take, while the pick stands and approvals are
        respected (shortdrama.review.approvals)."""
        decision = self.decision(ep, sc)
        if not self.cfg.review.respect_approvals or decision is None or decision.take is None:
            return None
        if self._approvals is None:
            from .review.approvals import approvals_path, load_approvals

            self._approvals = load_approvals(approvals_path(self.decisions_file))
        from .review.approvals import shot_key

        approval = self._approvals.get(shot_key(int(ep), int(sc)))
        return approval if approval is not None and approval.take == decision.take else None

    # -- gates ------------------------------------------------------------------------------------------
    def episode_open(self, ep: str | int) -> bool:
        """Whether the episode is built past its script (review.gate=script holds it until approved)."""
        return self.cfg.review.gate != "script" or self.decisions.script_approved(int(ep))

    @property
    def open_episodes(self) -> list[str]:
        return [ep for ep in self.episodes if self.episode_open(ep)]

    def keyframe_open(self, ep: str | int, sc: str | int) -> bool:
        """Whether the scene's clips may be bought (review.gate=keyframes holds them until approved)."""
        if self.cfg.review.gate != "keyframes":
            return True
        decision = self.decision(ep, sc)
        return decision is not None and decision.approves_keyframe

    def check_decisions(self, script_paths: list[str] | None = None) -> None:
        """Every decision names an episode, scene and take the series has (one error line otherwise)."""
        from .review.decisions import check_decisions

        paths = self.readable_scripts() if script_paths is None else {
            Path(p).parent.name.removeprefix("ep"): p for p in script_paths}
        scenes_of = {int(ep): len(self.script(path).scenes) for ep, path in paths.items()}
        check_decisions(self.decisions, scenes_of, self.cfg.takes, self.cfg.series.episodes)
        self._check_approvals(paths)
        self._check_edits(paths)

    def _check_edits(self, scripts: Mapping[str, str]) -> None:
        """Every editor's cut fits its episode's script (a scene it has, no shot past its take), and names
        an episode the series has: one error line before any job, never an error inside the DAG."""
        from .cut.decisions import EditError, load_edits

        for ep in load_edits(self.edits_file):
            if ep not in self.episodes:
                raise EditError(f"{self.edits_file}: episode {ep} is not one of the series' {len(self.episodes)}")
            if ep in scripts:
                self.episode_cut(ep, scripts[ep])

    def _check_approvals(self, scripts: Mapping[str, str]) -> None:
        """An approved take made at another episode encoding cannot be reused: one line, before any job."""
        from .review.approvals import encoding_change
        from .review.decisions import ReviewError

        for ep, path in scripts.items():
            for index, scene in enumerate(self.script(path).scenes, 1):
                approval = self.approval(ep, index)
                if approval is None:
                    continue
                live = self._live_clip(ep, index, scene, approval.take).to_dict()
                change = encoding_change(approval, live) if approval.same_shot(live) else None
                if change:
                    raise ReviewError(
                        f"{self.decisions.path}: ep{ep} sc{index:02d}: take {approval.take} is approved but {change}: "
                        "remove the pick, or build with review.respect_approvals=false to remake approved takes")

    @property
    def take_numbers(self) -> range:
        """The takes a build buys for a scene with no decision (1-based); see takes_of."""
        return range(1, self.cfg.takes + 1)

    def takes_of(self, ep: str, sc: str) -> tuple[int, ...]:
        """The takes a scene's clip is chosen from: `takes`, then one per retake note asked in review;
        only the picked one where approvals are respected (the others are not bought again); none while
        its keyframe awaits approval (review.gate=keyframes)."""
        if not self.keyframe_open(ep, sc):
            return ()
        decision = self.decision(ep, sc)
        if decision is None:
            return tuple(self.take_numbers)
        if decision.take is not None and self.cfg.review.respect_approvals:
            return (decision.take,)
        return tuple(range(1, self.cfg.takes + len(decision.retakes) + 1))

    def retake_note(self, ep: str | int, sc: str | int, take: int) -> str:
        """The review note a take beyond `takes` was asked with ('' for the configured takes)."""
        decision = self.decision(ep, sc)
        index = take - self.cfg.takes - 1
        return decision.retakes[index] if decision is not None and 0 <= index < len(decision.retakes) else ""

    def _live_clip(self, ep: str | int, sc: int, scene: Scene, take: int) -> "ClipSpec":
        from .stages.clips import ClipSpec

        return ClipSpec.of(self.cfg, scene, take, self.retake_note(ep, sc, take))

    def clip_spec(self, ep: str, sc: str, scene: Scene, take: int) -> "ClipSpec":
        """What take `take` of the scene asks: as the config and script say, or, for an approved take
        whose shot is unchanged, what it was made from (shortdrama.review.approvals)."""
        from .stages.clips import ClipSpec

        live = self._live_clip(ep, int(sc), scene, take)
        approval = self.approval(ep, sc)
        if approval is not None and approval.take == take and approval.same_shot(live.to_dict()):
            return ClipSpec(**approval.clip)
        return live

    def take_is_approved(self, ep: str, sc: str, take: int) -> bool:
        decision = self.decision(ep, sc)
        return (self.cfg.review.respect_approvals and decision is not None and decision.take == take)

    @property
    def edits_file(self) -> Path:
        """The editor's cuts (review/<series>.edits.yaml beside the decisions file; shortdrama.cut)."""
        from .cut.decisions import edits_path

        return edits_path(self.decisions_file)

    def episode_cut(self, ep: str | int, script: str | os.PathLike) -> "list[Shot] | None":
        """The episode's shots from the editor's cut, checked against its script; None: the full cut."""
        from .cut.decisions import episode_shots, load_edits
        from .stages.audio import scene_durations

        path = self.edits_file
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        if self._edits is None or self._edits[0] != stamp:
            self._edits = (stamp, load_edits(path))
        entry = self._edits[1].get(f"{int(ep):02d}")
        if entry is None:
            return None
        return episode_shots(path, f"{int(ep):02d}", entry, scene_durations(self.cfg, self.script(script)),
                             self.cfg.render.fps)

    def shot_ids(self, ep: str, script: str) -> list[str]:
        shots = self.episode_cut(ep, script)
        return [f"{n:02d}" for n in range(1, len(shots) + 1)] if shots else []

    def voice_record(self) -> dict:
        """The series' voice casting record (shortdrama.voice.casting), {} before the first build."""
        from .voice.casting import read_record

        path = self.at(self.paths.voices)
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._voices is None or self._voices[0] != stamp:
            self._voices = (stamp, read_record(path))
        return self._voices[1]

    def cores_for(self, group: str) -> int:
        """The cores a job of this group holds while it runs: 0 when its model is a hosted API (the job
        waits on the vendor, so its concurrency is bounded by the `video_api`/`llm_api` resource and the
        preset's `concurrency`, never by the machine's cores), else 1."""
        model = getattr(self.cfg, group)
        return 0 if model.provider in type(model).HOSTED_PROVIDERS else 1

    def uses_gpu(self, group: str) -> int:
        """1 when the group's model runs locally on a GPU: the `gpu` resource a profile caps and a cluster places."""
        return int(getattr(self.cfg, group).provider == "diffusers")

    # -- scripts (read back from the checkpoint, cached per path and mtime) ----------------------------
    def script(self, path: str | os.PathLike) -> EpisodeScript:
        key = str(path)
        mtime = os.stat(self.at(key)).st_mtime
        hit = self._scripts.get(key)
        if hit is None or hit[0] != mtime:
            hit = self._scripts[key] = (mtime, self._read_checked(key))
        return hit[1]

    def _read_checked(self, path: str) -> EpisodeScript:
        episode = int(Path(path).parent.name.removeprefix("ep"))
        try:
            return read_script_checked(self.at(path), [c.name for c in self.cfg.series.cast.values()],
                                       language=self.cfg.series.language, episode=episode)
        except ShortDramaError as error:
            message = str(error).replace(str(self.at(path)), path)
            raise SchemaError(message if message.startswith(path) else f"{path}: {message}") from None

    def readable_scripts(self) -> dict[str, str]:
        """The episodes whose script.json is on disk and valid: only their scenes can be listed."""
        readable = {}
        for ep in self.episodes:
            path = self.paths.script(ep)
            try:
                if self.at(path).exists():
                    self.script(path)
                    readable[ep] = path
            except ShortDramaError:
                continue
        return readable

    def scene_ids(self, script_path: str | os.PathLike) -> list[str]:
        return [f"{n:02d}" for n in range(1, len(self.script(script_path).scenes) + 1)]

    def scene(self, script_path: str | os.PathLike, sc: str) -> Scene:
        scenes = self.script(script_path).scenes
        index = int(sc) - 1
        if not 0 <= index < len(scenes):
            raise SchemaError(f"{script_path} has {len(scenes)} scenes; there is no scene {sc}")
        return scenes[index]

    # -- characters -----------------------------------------------------------------------------------
    def character_references(self, character_id: str) -> list[str]:
        """The photos given in the cast entry (with any caption sidecars), else the generated set."""
        from .characters.generated import caption_sidecar
        from .characters.references import expand_references

        entries = self.cfg.series.cast[character_id].references
        if not entries:
            images = [self.paths.reference_image(character_id, i) for i in range(self.cfg.lora.reference_count)]
            return images + [str(caption_sidecar(Path(p))) for p in images]
        images = [Path(p) for p in expand_references(entries, self.checkout or Path.cwd())]
        return [str(p) for p in images] + [str(caption_sidecar(p)) for p in images if caption_sidecar(p).is_file()]

    def characters_on_screen(self, script_paths: list[str]) -> list[str]:
        """The ids of the cast members seen in the given scripts: the characters that get a LoRA."""
        if not self.cfg.lora.enabled:
            return []
        on_screen = {name for path in script_paths for scene in self.script(path).scenes for name in scene.characters}
        return [cid for cid, c in self.cfg.series.cast.items() if c.name in on_screen]

    def keyframe_loras(self, script_path: str | os.PathLike, sc: str) -> list[str]:
        """The adapters of the characters on screen: retraining one reruns only the shots it is in."""
        if not self.cfg.lora.enabled:
            return []
        ids = {c.name: cid for cid, c in self.cfg.series.cast.items()}
        return [self.paths.lora(ids[name]) for name in self.scene(script_path, sc).characters if name in ids]

    # -- jobs -----------------------------------------------------------------------------------------
    def job(self, rule_name: str, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        """One job of a rule: what its params spec and inputs are (for Snakemake), and its outputs."""
        return rule(rule_name).job(self, wildcards, script)

    def jobs(self, scripts: Mapping[str, str] | None = None, scopes: tuple[str, ...] = ("series", "episode",
             "scene", "take", "shot", "character")) -> list[Job]:
        """Every job of the series as the configuration and the given scripts (default: the valid ones on
        disk) define it, in the order the stages run: a job comes after every job whose output it reads."""
        scripts = self.readable_scripts() if scripts is None else dict(scripts)
        # An episode whose script awaits approval (review.gate=script) has no job past its script.
        scripts = {ep: path for ep, path in scripts.items() if self.episode_open(ep)}
        return [job for r in RULES.values() if r.scope in scopes for job in self._jobs_of(r, scripts)]

    def episode_jobs(self, script_path: str) -> list[Job]:
        """The jobs of one episode that its script defines (scenes, mix, subtitles, final)."""
        ep = Path(script_path).parent.name.removeprefix("ep")
        return [job for r in RULES.values() if r.reads_script for job in self._jobs_of(r, {ep: script_path})]

    def _jobs_of(self, r, scripts: Mapping[str, str]) -> Iterator[Job]:  # noqa: ANN001 - a stages.base.Rule
        if r.scope == "series":
            yield r.job(self, {})
        elif r.scope == "episode" and not r.reads_script:
            yield from (r.job(self, {"ep": ep}) for ep in self.episodes)
        elif r.scope == "episode":
            yield from (r.job(self, {"ep": ep}, path) for ep, path in scripts.items()
                        if r.wanted(self, {"ep": ep}, path))
        elif r.scope == "scene":
            yield from (r.job(self, {"ep": ep, "sc": sc}, path) for ep, path in scripts.items()
                        for sc in self.scene_ids(path) if r.wanted(self, {"ep": ep, "sc": sc}, path))
        elif r.scope == "shot":
            yield from (r.job(self, {"ep": ep, "shot": shot}, path) for ep, path in scripts.items()
                        for shot in self.shot_ids(ep, path))
        elif r.scope == "take":
            yield from (r.job(self, {"ep": ep, "sc": sc, "take": str(take)}, path) for ep, path in scripts.items()
                        for sc in self.scene_ids(path) for take in self.takes_of(ep, sc))
        elif r.scope == "character":
            yield from (r.job(self, {"character": cid}) for cid in self.characters_on_screen(list(scripts.values()))
                        if r.wanted(self, {"character": cid}))

    # -- targets (rule all) ---------------------------------------------------------------------------
    def final_targets(self) -> list[str]:
        """The config and the finals of the episodes built past their script (all, unless gated)."""
        return [self.paths.config] + [self.paths.final(ep) for ep in self.episodes if self.episode_open(ep)]

    def every_output(self, script_paths: list[str]) -> list[str]:
        """Every file the characters' and the episodes' jobs make, intermediates included: rule all asks
        for them all, so one deleted (or removed by a failed job) is made again while the final exists.
        An episode whose script awaits approval (review.gate=script) makes nothing past its script."""
        scripts = {Path(p).parent.name.removeprefix("ep"): p for p in script_paths}
        return [out for job in self.jobs(scripts, ("character", "scene", "take", "shot", "episode")) if job.rule != "write_episode_script"
                for out in job.outputs.values()]


def output_folder(cfg: AppConfig) -> str:
    return cfg.output_dir or f"results/{cfg.series.slug}"
