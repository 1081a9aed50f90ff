"""Writing (rules/script.smk): the composed config (provenance), the series outline, one script per episode.

The writer sees the series brief (`SeriesBrief`: theme, cast names and roles, ranges, seed), never
the looks, so a look edit rewrites no script. The outline is a file input of the scripts: a new
outline rewrites them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

from ..config import AppConfig, LLMConfig
from ..cost import pricing as price
from ..cost.cache import canonical_json
from ..cost.call import Billing, Call, Estimate, PaidFailure, Produce, Runtime, provider_call
from ..errors import SchemaError, ShortDramaError
from ..fake_paid import count_fake_call
from ..media import write_text_atomic
from ..schemas import EpisodeScript, read_outline, read_script, write_document
from ..writers.base import SeriesBrief
from .base import Job, Priced, Rule, Series, Spec


# Expected size of a writer's answer, for token-priced LLMs; the ledger records the real size.
EXPECTED_OUTLINE_CHARS = 3000
EXPECTED_SCRIPT_CHARS = 6000


# -- specs --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConfigSpec(Spec):
    """The whole composed configuration: record_config writes it out as provenance."""

    config: dict

    def to_dict(self) -> dict[str, Any]:
        return self.config

    @classmethod
    def from_json(cls, text: str) -> "ConfigSpec":
        return cls(json.loads(text))

    @classmethod
    def of(cls, cfg: AppConfig) -> "ConfigSpec":
        return cls(cfg.model_dump(mode="json"))


@dataclass(frozen=True)
class OutlineSpec(Spec):
    brief: dict
    llm: dict
    PROVIDER_GROUP: ClassVar[str] = "llm"

    @classmethod
    def of(cls, cfg: AppConfig) -> "OutlineSpec":
        return cls(SeriesBrief.from_config(cfg).to_dict(), cfg.llm.result_fields())

    @property
    def series(self) -> SeriesBrief:
        return SeriesBrief.from_dict(self.brief)


@dataclass(frozen=True)
class ScriptSpec(Spec):
    """The brief and the writer; the outline itself is a file input, so a new outline rewrites the scripts."""

    brief: dict
    llm: dict
    episode: int
    PROVIDER_GROUP: ClassVar[str] = "llm"

    @classmethod
    def of(cls, cfg: AppConfig, episode: int) -> "ScriptSpec":
        return cls(SeriesBrief.from_config(cfg).to_dict(), cfg.llm.result_fields(), episode)

    @property
    def series(self) -> SeriesBrief:
        return SeriesBrief.from_dict(self.brief)


# -- rules --------------------------------------------------------------------------------------------

class RecordConfig(Rule):
    name, scope = "record_config", "series"

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        return Job(self.name, {"series": wf.series}, ConfigSpec.of(wf.cfg), {"config": wf.paths.config})


class WriteOutline(Rule):
    name, scope = "write_outline", "series"

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        return Job(self.name, {"series": wf.series}, OutlineSpec.of(wf.cfg), {"outline": wf.paths.outline},
                   editable=True)

    def price(self, job: Job, runtime: Runtime) -> Priced:
        call, llm = outline_call(job.spec, runtime)
        return Priced(call, llm, outline_estimate(call)(llm))


class WriteEpisodeScript(Rule):
    name, scope = "write_episode_script", "episode"

    def job(self, wf: Series, wildcards: Mapping[str, str], script: str | None = None) -> Job:
        ep = wildcards["ep"]
        return Job(self.name, {"series": wf.series, "ep": ep}, ScriptSpec.of(wf.cfg, int(ep)),
                   {"script": wf.paths.script(ep)}, {"outline": (wf.paths.outline,)}, editable=True)

    def price(self, job: Job, runtime: Runtime) -> Priced:
        call, llm = script_call(job.spec, Path(job.inputs["outline"][0]), job.episode, runtime)
        return Priced(call, llm, script_estimate(call)(llm))


RULES = (RecordConfig(), WriteOutline(), WriteEpisodeScript())


# -- provider calls -------------------------------------------------------------------------------------

def outline_call(spec: OutlineSpec, runtime: Runtime) -> tuple[Call, LLMConfig]:
    return Call(rule="write_outline", step="outline", version=1, request=spec.request()), \
        spec.provider(LLMConfig, runtime)


def outline_estimate(call: Call) -> Estimate:
    prompt = len(canonical_json(call.request))
    return lambda llm: price.llm_cost(llm.pricing, prompt, EXPECTED_OUTLINE_CHARS)


def script_call(spec: ScriptSpec, outline: Path, episode: int, runtime: Runtime) -> tuple[Call, LLMConfig]:
    call = Call(rule="write_episode_script", step="episode_script", version=1, request=spec.request(),
                inputs={"outline": outline}, episode=episode)
    return call, spec.provider(LLMConfig, runtime)


def script_estimate(call: Call) -> Estimate:
    prompt = len(canonical_json(call.request)) + EXPECTED_OUTLINE_CHARS
    return lambda llm: price.llm_cost(llm.pricing, prompt, EXPECTED_SCRIPT_CHARS)


def _writer_billing(writer: Any, llm: LLMConfig) -> Billing | None:
    """A hosted writer reports the tokens of every agent call it made; they are what is billed."""
    usage = getattr(writer, "usage", None)
    if usage is None or not (usage.prompt_tokens or usage.completion_tokens):
        return None  # no usage reported: the caller falls back to an estimate from the text sizes
    return Billing(cost_usd=price.token_cost(llm.pricing, usage.prompt_tokens, usage.completion_tokens, usage.calls),
                   tokens_in=usage.prompt_tokens, tokens_out=usage.completion_tokens)


def _schema_checked(write: Any, what: str, writer: Any, llm: LLMConfig) -> Any:
    """A writer's answer that breaks the schema is the writer's error, reported as one line. A writer
    that fails after its agents were answered (and billed) says what that cost (`PaidFailure`), so the
    ledger counts it and a retry in the same build does not buy the same failure again."""
    from pydantic import ValidationError

    try:
        try:
            return write()
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise SchemaError(f"the writer's {what} is invalid at {where}: {first['msg']}") from None
    except ShortDramaError as error:
        billing = _writer_billing(writer, llm)
        if billing is None or isinstance(error, PaidFailure):
            raise
        raise PaidFailure(str(error), billing) from None


def _count_if_fake(llm: LLMConfig, step: str, **details: Any) -> None:
    if llm.provider == "fake_paid":
        count_fake_call(step, llm.model, **details)


def produce_outline(spec: OutlineSpec) -> Produce:
    def produce(llm: LLMConfig, outputs: dict[str, Path]) -> float | Billing:
        from ..writers import make_writer

        writer = make_writer(llm)
        outline = _schema_checked(lambda: writer.write_outline(spec.series), "outline", writer, llm)
        write_document(outline, outputs["outline"])
        _count_if_fake(llm, "outline")
        return _writer_billing(writer, llm) or price.llm_cost(llm.pricing, len(spec.to_json()),
                                                              outputs["outline"].stat().st_size)

    return produce


def produce_script(spec: ScriptSpec, outline_path: Path, episode: int) -> Produce:
    def produce(llm: LLMConfig, outputs: dict[str, Path]) -> float | Billing:
        from ..writers import make_writer

        outline = read_outline(outline_path)
        writer = make_writer(llm)
        script = _schema_checked(lambda: writer.write_episode(spec.series, outline, outline.episodes[episode - 1]),
                                 f"episode {episode} script", writer, llm)
        write_document(script, outputs["script"])
        _count_if_fake(llm, "episode_script", episode=episode)
        return _writer_billing(writer, llm) or price.llm_cost(
            llm.pricing, len(spec.to_json()) + outline_path.stat().st_size, outputs["script"].stat().st_size)

    return produce


def check_outline(spec: OutlineSpec | ScriptSpec, path: Path) -> None:
    """Everything an outline must satisfy, checked before it is cached and again before a cached one is used."""
    series, outline = spec.series, read_outline(path)
    if len(outline.episodes) != series.episodes:
        raise SchemaError(f"the writer planned {len(outline.episodes)} episodes; the series asks for {series.episodes}")
    if outline.language != series.language:
        raise SchemaError(f"the outline is in {outline.language!r}; the series language is {series.language!r}")


def check_episode_script(spec: ScriptSpec, episode: int, path: Path) -> None:
    from ..schemas import check_script

    series = spec.series
    check_script(read_script(path), series.cast_names, language=series.language, episode=episode)


# -- steps (what scripts/<rule>.py call) ------------------------------------------------------------------

def record_config(spec: str, out: str | Path) -> None:
    """Provenance: the composed, validated configuration this build ran with."""
    import yaml

    write_text_atomic(out, yaml.safe_dump(json.loads(spec), allow_unicode=True, sort_keys=False))


def write_outline(spec: str, out: str | Path, runtime: Runtime | None = None) -> None:
    runtime = runtime or Runtime.from_env()
    outline = OutlineSpec.from_json(spec)
    call, llm = outline_call(outline, runtime)
    provider_call(runtime, call, llm, outline_estimate(call), produce_outline(outline), {"outline": Path(out)},
                  validate=lambda files: check_outline(outline, files["outline"]))


def write_episode_script(spec: str, outline_path: str | Path, episode: int, out: str | Path,
                         runtime: Runtime | None = None) -> EpisodeScript:
    runtime = runtime or Runtime.from_env()
    script = ScriptSpec.from_json(spec)
    call, llm = script_call(script, Path(outline_path), episode, runtime)
    provider_call(runtime, call, llm, script_estimate(call), produce_script(script, Path(outline_path), episode),
                  {"script": Path(out)}, validate=lambda files: check_episode_script(script, episode, files["script"]))
    return read_script(out)


