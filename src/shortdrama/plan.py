"""`shortdrama plan`: the jobs Snakemake would run and why, and what their provider calls would cost,
minus what the cache already holds, with nothing spent.

Jobs come from a real `snakemake --dry-run`; prices come from the same provider calls the jobs
make (each rule's `price` in its stage module, through stages.registry). Scene jobs of episodes
whose scripts are not written yet cannot be listed before the writer runs, so they are projected
from the series config and marked as such.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .cost.cache import file_digest
from .cost.call import Call, Runtime, call_key
from .cost.report import usd
from .stages.base import Job, Rule
from .stages.registry import RULES, rule
from .workflow import Workflow

# Rules that call no provider: nothing to price, nothing to cache.
FREE_RULES = {name for name, r in RULES.items() if type(r).price is Rule.price} | {"all"}
REASONS = [("Missing output files", "new"), ("Params have changed", "changed params"),
           ("Updated input files", "changed input"), ("Input files updated by another job", "upstream rerun"),
           ("Set of input files has changed", "changed inputs"), ("Code has changed", "changed code"),
           ("Forced execution", "out of date"), ("Software environment", "changed software")]


@dataclass
class PlannedJob:
    rule: str
    episode: int | None
    scene: int | None
    why: str
    estimate_usd: float
    cached: bool
    projected: bool = False
    worst_case: bool = False  # retakes: bought only if every take of the scene fails its checks
    awaiting: bool = False  # held by review.gate: bought only once the script or keyframe is approved

    @property
    def to_pay(self) -> float:
        return 0.0 if self.cached or self.worst_case or self.awaiting else self.estimate_usd

    @property
    def at_worst(self) -> float:
        return 0.0 if self.cached or self.awaiting else self.estimate_usd

    @property
    def on_approval(self) -> float:
        return self.estimate_usd if self.awaiting and not self.cached else 0.0


def parse_dry_run(text: str) -> list[dict[str, Any]]:
    """Job blocks of Snakemake's dry-run output: rule, wildcards, output and reason."""
    jobs, current = [], None
    for line in text.splitlines():
        header = re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line)
        if header:
            current = {"rule": header[1], "wildcards": {}, "reason": "", "output": []}
            jobs.append(current)
            continue
        if current is None:
            continue
        field = re.match(r"^\s+(\w+): (.*)$", line)
        if not field:
            continue
        name, value = field.groups()
        if name == "wildcards":
            current["wildcards"] = dict(pair.split("=", 1) for pair in value.split(", ") if "=" in pair)
        elif name == "reason":
            current["reason"] = value
        elif name == "output":
            current["output"] = [v.strip() for v in value.split(",")]
    return [job for job in jobs if job["rule"] != "all"]


def summarise_reason(reason: str) -> str:
    found = [label for needle, label in REASONS if needle in reason]
    return ", ".join(dict.fromkeys(found)) or (reason.split(";")[0][:40] if reason else "?")


RULE_ORDER = list(RULES)  # the order the stages run: a job is priced after the jobs whose outputs it reads


class Planner:
    """Prices jobs in dependency order. A job the cache will answer passes its cached files' digests
    on to the jobs that read them, so a chain of hits (a revert, a fresh folder) is priced at $0."""

    def __init__(self, wf: Workflow, runtime: Runtime, scratch: Path):
        self.wf, self.runtime, self.cache, self.scratch = wf, runtime, runtime.cache, scratch
        self.predicted: dict[str, str] = {}  # output path -> digest of the cached file that will land there
        self.rerun: set[str] = set()

    def plan(self, jobs: list[dict[str, Any]]) -> list[PlannedJob]:
        self.rerun = {out for job in jobs for out in job["output"]}
        pending = {job["wildcards"]["ep"] for job in jobs if job["rule"] == "write_episode_script"}
        # Jobs behind a script that is about to be (re)written are priced from the new script instead:
        # what the dry run lists for them comes from a script that will not be the one used.
        listed = [job for job in jobs if job["rule"] in RULES and not (
            rule(job["rule"]).reads_script and job["wildcards"].get("ep") in pending)]
        listed.sort(key=lambda job: RULE_ORDER.index(job["rule"]))
        planned: list[PlannedJob] = []
        for listing in listed:
            job = self._job(listing["rule"], listing["wildcards"])
            planned.append(self._price(job, summarise_reason(listing["reason"])))
            planned += self._retakes(job)
            if job.rule == "write_episode_script":
                planned += self._scene_jobs(listing["wildcards"]["ep"], hit=planned[-1].cached)
        return planned + self._awaiting_approval()

    def _awaiting_approval(self) -> list[PlannedJob]:
        """What approving would buy where review.gate holds it: an episode's paid jobs past its
        script (gate=script), a scene's takes (gate=keyframes)."""
        if self.wf.cfg.review.gate == "none":
            return []
        jobs: list[tuple[Job, str]] = []
        for ep, script in self.wf.readable_scripts().items():
            if not self.wf.episode_open(ep):
                jobs += [(job, "if the script is approved") for job in self.wf.episode_jobs(script)
                         if job.rule not in FREE_RULES]
                continue
            jobs += [(rule("generate_clip").job(self.wf, {"ep": ep, "sc": sc, "take": str(take)}, script),
                      "if the keyframe is approved") for sc in self.wf.scene_ids(script)
                     if not self.wf.keyframe_open(ep, sc) for take in self.wf.take_numbers]
        rows = []
        for job, why in jobs:
            row = self._price(job, why)
            row.awaiting = True
            rows.append(row)
        return rows

    def _job(self, name: str, wc: dict[str, str]) -> Job:
        """The job a dry-run listing names, as its stage module defines it (from the script it will read)."""
        r = rule(name)
        script = self._script(wc["ep"]) if r.reads_script else None
        return r.job(self.wf, {k: v for k, v in wc.items() if k != "series"}, script)

    def _script(self, ep: str) -> str:
        cached_copy = self.scratch / f"ep{ep}" / "script.json"
        return str(cached_copy if cached_copy.exists() else self.wf.at(self.wf.paths.script(ep)))

    def _lookup(self, call: Call, provider: Any, outputs: dict[str, str]) -> bool:
        """Is this call a cache hit? If so, remember the digests of the files it will write."""
        if self.cache is None:
            return False
        digests = {}
        for path in map(str, call.inputs.values()):
            if path in self.predicted:
                digests[path] = self.predicted[path]
            elif path in self.rerun or not self.wf.at(path).exists():
                return False  # produced by a job that really runs: its content is unknown
            else:
                digests[path] = file_digest(self.wf.at(path))
        entry = self.cache.get(call_key(call, provider, digests))
        if entry is None:
            return False
        for name, path in outputs.items():
            if name in entry.sha256:
                self.predicted[path] = entry.sha256[name]
        if "script" in outputs:  # read the cached script to price the scene jobs it implies
            copy = self.scratch / Path(outputs["script"]).parent.name / "script.json"
            copy.parent.mkdir(parents=True, exist_ok=True)
            self.cache.restore(entry, "script", copy)
        return True

    def _price(self, job: Job, why: str) -> PlannedJob:
        priced = rule(job.rule).price(job, self.runtime)
        if priced is None:
            return PlannedJob(job.rule, job.episode, job.scene, why, 0.0, False)
        hit = self._lookup(priced.call, priced.provider, dict(job.outputs))
        return PlannedJob(job.rule, job.episode, job.scene, why, round(priced.estimate_usd, 6), hit)

    def _retakes(self, job: Job) -> list[PlannedJob]:
        """A scene whose takes are chosen again may buy qc.retakes more: priced as the worst case."""
        if job.rule != "choose_take" or not self.wf.cfg.qc.enabled:
            return []
        from .stages.takes import retake_jobs

        planned = []
        for priced in retake_jobs(job, self.wf.cfg.qc.retakes, self.runtime):
            hit = self._lookup(priced.call, priced.provider, {})
            planned.append(PlannedJob("retake (if needed)", job.episode, job.scene, f"take {priced.call.take} if all fail",
                                      round(priced.estimate_usd, 6), hit, worst_case=True))
        return planned

    def _scene_jobs(self, ep: str, hit: bool) -> list[PlannedJob]:
        """The jobs behind a script being written: exact when the script comes from the cache,
        projected from the series config otherwise."""
        if not hit:
            return self._projected_scene_jobs(int(ep))
        script = self._script(ep)
        planned = []
        for job in self.wf.episode_jobs(script):
            if job.rule not in FREE_RULES:
                planned.append(self._price(job, "new script (from cache)"))
            planned += self._retakes(job)
        return planned

    def _projected_scene_jobs(self, episode: int) -> list[PlannedJob]:
        """Before its script exists, an episode is priced at the middle of the config's ranges."""
        from .config import ImageConfig, MusicConfig, VideoConfig, VoiceConfig
        from .cost import pricing

        s, r, rt = self.wf.cfg.series, self.wf.cfg.render, self.runtime
        scenes = round((s.scenes_per_episode.min + s.scenes_per_episode.max) / 2)
        seconds = (s.scene_duration.min + s.scene_duration.max) / 2
        image = ImageConfig.model_validate(rt.provider("image"))
        video = VideoConfig.model_validate(rt.provider("video"))
        voice = VoiceConfig.model_validate(rt.provider("voice"))
        music = MusicConfig.model_validate(rt.provider("music"))
        clip = pricing.video_cost(video.pricing, seconds, r.width, r.height)
        takes, retakes = self.wf.cfg.takes, self.wf.cfg.qc.retakes if self.wf.cfg.qc.enabled else 0
        per_scene = [("generate_keyframe", pricing.image_cost(image.pricing), 1, False),
                     ("generate_clip", clip, takes, False), ("retake (if needed)", clip, retakes, True),
                     ("speak_dialogue", pricing.speech_cost(voice.pricing, round(seconds * 12)), 1, False)]
        jobs = [PlannedJob(rule, episode, n, "new (projected)", round(cost, 6), False, True, worst_case)
                for n in range(1, scenes + 1) for rule, cost, times, worst_case in per_scene for _ in range(times)]
        jobs.append(PlannedJob("mix_episode_audio", episode, None, "new (projected)",
                               round(pricing.audio_cost(music.pricing, scenes * seconds), 6), False, True))
        return jobs


def plan_report(planned: list[PlannedJob], wf: Workflow, runtime: Runtime) -> str:
    lines = [f"shortdrama plan: {sum(1 for j in planned if not j.projected)} jobs would run for "
             f"results/{wf.series}" + (f", plus {sum(1 for j in planned if j.projected)} projected" if any(j.projected for j in planned) else ""),
             "", f"{'rule':<22} {'ep':>3} {'sc':>3}  {'why':<28} {'estimate':>9}  cache"]
    for j in planned:
        cache = "hit" if j.cached else ("-" if j.estimate_usd == 0 and j.rule in FREE_RULES else "miss")
        lines.append(f"{j.rule:<22} {j.episode or '-':>3} {j.scene or '-':>3}  {j.why:<28} {usd(j.estimate_usd):>9}  {cache}")
    by_step: dict[str, float] = defaultdict(float)
    by_episode: dict[str, float] = defaultdict(float)
    for j in planned:
        by_step[j.rule] += j.to_pay
        by_episode[f"ep{j.episode:02d}" if j.episode else "series"] += j.to_pay
    lines += ["", "to pay by step:    " + ", ".join(f"{k} {usd(v)}" for k, v in sorted(by_step.items()) if v),
              "to pay by episode: " + ", ".join(f"{k} {usd(v)}" for k, v in sorted(by_episode.items()) if v)]
    total, served = plan_total(planned), sum(j.estimate_usd for j in planned if j.cached)
    worst = plan_worst_case(planned)
    projected = sum(j.to_pay for j in planned if j.projected)
    spent = runtime.ledger.spent() if runtime.ledger.path.exists() else 0.0
    cap = runtime.budget.series_usd
    verdict = "no cap" if cap is None else ("fits" if spent + total <= cap + 1e-9 else "EXCEEDS the cap")
    if cap is not None and spent + total <= cap + 1e-9 < spent + worst:
        verdict += (f" (with every retake {usd(spent + worst)} would not: the budget guard then stops buying "
                    "retakes and flags those scenes)")
    lines += ["", f"total to pay: {usd(total)} (of it {usd(projected)} projected); the cache serves {usd(served)}",
              f"worst case with every retake (qc.retakes): {usd(worst)}"]
    if any(j.awaiting for j in planned):
        by_scene = wf.cfg.review.gate == "keyframes"
        held = {(j.episode, j.scene if by_scene else None) for j in planned if j.awaiting}
        lines.append(f"awaiting approval (review.gate={wf.cfg.review.gate}): approving buys "
                     f"{usd(plan_on_approval(planned))} more ({len(held)} {'scene' if by_scene else 'episode'}(s))")
    lines += [f"budget: spent so far {usd(spent)} + this plan {usd(total)} against series cap "
              f"{'none' if cap is None else usd(cap)}: {verdict}"]
    return "\n".join(lines)


def plan_total(planned: list[PlannedJob]) -> float:
    return round(sum(j.to_pay for j in planned), 6)


def plan_on_approval(planned: list[PlannedJob]) -> float:
    """What approving every gated script or keyframe would buy (review.gate)."""
    return round(sum(j.on_approval for j in planned), 6)


def plan_worst_case(planned: list[PlannedJob]) -> float:
    """What the plan costs if every scene's takes all fail QC and each retake is bought."""
    return round(sum(j.at_worst for j in planned), 6)


def plan_json(planned: list[PlannedJob]) -> str:
    return json.dumps({"total_usd": plan_total(planned), "worst_case_usd": plan_worst_case(planned),
                       "awaiting_approval_usd": plan_on_approval(planned),
                       "jobs": [asdict(j) for j in planned]}, indent=1)
