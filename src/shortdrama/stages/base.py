"""What every stage module is made of: a typed spec, the jobs of its rules, and their provider calls.

A stage module (`stages/<stage>.py`, mirroring `rules/<stage>.smk`) holds, for each of its rules:

- the **spec**: a frozen dataclass of exactly what the rule's outputs depend on. Its `to_json()` is
  the rule's `params.spec` (Snakemake reruns a job when that string changes) and the job's only
  configuration; its `request()` is what the provider is asked, so the cache key is computed from
  the same object: a field can only be left out of the key by naming it in `OPERATIONAL`, with why.
  The provider's own settings are one field named after its config group (`PROVIDER_GROUP`): they
  enter the key through the provider's result fields.
- a **Rule** object: the rule's jobs as the DAG side sees them (spec, output paths, the input files
  it reads), and, for a rule that calls a provider, that call and its price (for `shortdrama plan`).
- the **step**: the function its `scripts/<rule>.py` adapter calls with the spec's JSON.

`stages.registry` collects the rules; rules/common.smk, workflow.py and plan.py read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol, Sequence

if TYPE_CHECKING:
    from ..config import AppConfig, CharacterConfig, ProviderConfig
    from ..cost.call import Call, Runtime
    from ..paths import SeriesPaths
    from ..provenance import ExpectedJob
    from ..schemas import EpisodeScript, Scene


def canonical(data: Any) -> str:
    """The one JSON form of a spec: sorted keys, no spaces, UTF-8 text as is."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class Spec:
    """Base of every stage's spec (a frozen dataclass)."""

    PROVIDER_GROUP: ClassVar[str | None] = None  # the field holding the provider's result fields, e.g. "video"
    OPERATIONAL: ClassVar[Mapping[str, str]] = {}  # fields left out of the request, each with the reason

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def to_json(self) -> str:
        return canonical(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "Spec":
        return cls(**json.loads(text))

    def request(self) -> dict[str, Any]:
        """What the provider is asked (and the cache key holds): every field but the provider's own
        settings and the deliberately operational ones."""
        return {k: v for k, v in self.to_dict().items() if k != self.PROVIDER_GROUP and k not in self.OPERATIONAL}

    def provider(self, model: type["ProviderConfig"], runtime: "Runtime") -> Any:
        """The provider config a job runs with: the spec's result fields (what Snakemake tracks) over the
        runtime's full config of the group (pricing, concurrency, fallback: what it does not)."""
        group = self.PROVIDER_GROUP
        assert group is not None, f"{type(self).__name__} calls no provider"
        return model.model_validate({**runtime.provider(group), **getattr(self, group)})


class Series(Protocol):
    """What a rule needs to know of the series to list its jobs (shortdrama.workflow.Workflow is one)."""

    cfg: "AppConfig"

    @property
    def series(self) -> str: ...

    @property
    def paths(self) -> "SeriesPaths": ...

    def script(self, path: str) -> "EpisodeScript": ...

    def scene(self, script_path: str, sc: str) -> "Scene": ...

    def scene_ids(self, script_path: str) -> list[str]: ...

    def character_references(self, character_id: str) -> list[str]: ...

    def keyframe_loras(self, script_path: str, sc: str) -> list[str]: ...

    @property
    def take_numbers(self) -> range: ...

    # Review (shortdrama.review): decisions, gates and approvals.
    def decision(self, ep: str, sc: str) -> Any: ...  # shortdrama.review.decisions.Decision | None

    def takes_of(self, ep: str, sc: str) -> tuple[int, ...]: ...

    def clip_spec(self, ep: str, sc: str, scene: "Scene", take: int) -> Any: ...  # stages.clips.ClipSpec

    def keyframe_open(self, ep: str, sc: str) -> bool: ...

    def take_is_approved(self, ep: str, sc: str, take: int) -> bool: ...

    def voice_record(self) -> Any: ...  # the voice casting record (shortdrama.voice.casting), {} if none

    def episode_cut(self, ep: str, script: str) -> Any: ...  # list[cut.decisions.Shot] | None: the editor's cut


@dataclass(frozen=True)
class Job:
    """One job of a rule, as the DAG side sees it."""

    rule: str
    wildcards: Mapping[str, str]
    spec: Spec
    outputs: Mapping[str, str]  # output name (as the rule names it) -> path
    # The input files the outputs are made from (the rule's inputs but the ordering-only script).
    inputs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    editable: bool = False  # a document a person may edit (outline, script): see provenance
    deliverable: bool = False  # an episode's final: see provenance.remove_stale
    # Inputs (by name) read as Snakemake's `ancient`: a newer or changed file there does not make the
    # outputs out of date (an approved take's keyframe: shortdrama.review.approvals).
    ancient: tuple[str, ...] = ()

    @property
    def episode(self) -> int | None:
        return int(self.wildcards["ep"]) if "ep" in self.wildcards else None

    @property
    def scene(self) -> int | None:
        return int(self.wildcards["sc"]) if "sc" in self.wildcards else None

    @property
    def take(self) -> int | None:
        return int(self.wildcards["take"]) if "take" in self.wildcards else None

    def input_paths(self) -> tuple[str, ...]:
        return tuple(path for paths in self.inputs.values() for path in paths)

    def expected(self) -> "ExpectedJob":
        """The job as provenance checks it against the manifests its outputs carry."""
        from ..provenance import ExpectedJob

        return ExpectedJob(self.rule, tuple(self.outputs.values()), self.spec.to_json(), self.input_paths(),
                           editable=self.editable, deliverable=self.deliverable,
                           wildcards=tuple(self.wildcards.items()),
                           ancient=tuple(path for name in self.ancient for path in self.inputs.get(name, ())))


@dataclass(frozen=True)
class Priced:
    """A job's provider call as `shortdrama plan` prices it."""

    call: "Call"
    provider: Any
    estimate_usd: float


class Rule:
    """A rule of the workflow (rules/<stage>.smk) seen from the library. `scope` says which wildcards
    its jobs have: series, episode (ep), scene (ep, sc), take (ep, sc, take), shot (ep, shot: a shot of an
    editor's cut), character (character)."""

    name: ClassVar[str]
    scope: ClassVar[str]
    # Episode and scene rules read the episode's script; its path comes from the checkpoint.
    reads_script: ClassVar[bool] = False

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        raise NotImplementedError

    def wanted(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> bool:
        """Whether the series has this job at all (a character given photos needs no generated set, a
        scene without on-screen dialogue no lip-sync)."""
        return True

    def price(self, job: Job, runtime: "Runtime") -> Priced | None:
        """The provider call a job makes and its estimated price; None for a rule that calls none."""
        return None


def paths_of(values: Sequence[str | Path]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def cast_by_name(cfg: "AppConfig") -> dict[str, tuple[int, str, "CharacterConfig"]]:
    """Cast name -> (its position in the cast, its id, its config)."""
    return {c.name: (index, cid, c) for index, (cid, c) in enumerate(cfg.series.cast.items())}


def encoding(cfg: "AppConfig") -> dict[str, Any]:
    """The one H.264 encoding every clip and final shares (so episodes concatenate by copy)."""
    r = cfg.render
    return {"width": r.width, "height": r.height, "fps": r.fps, "crf": r.crf, "preset": r.preset}
