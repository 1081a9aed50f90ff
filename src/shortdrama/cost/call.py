"""Every provider call goes through `provider_call`: cache, budget, concurrency slot, ledger.

    key  = sha256(step, code version, provider's result fields, request, input file digests)
    hit  -> restore the cached files, ledger a $0 hit
    miss -> refuse at once if this build already paid for this key and failed (see below),
            reserve the estimate under the budget lock (or downgrade to the fallback model),
            take a provider slot, produce into temporary files, store them in the cache,
            restore them to the outputs, settle the reservation into the ledger

A call that fails after it was billed (a writer whose agents answered before it gave up raises
`PaidFailure`; an answer that fails `validate` was billed too) is ledgered as `failed` with that
cost, and remembered in `<cache>/.failures/<key>.json` with the build's id ($SHORTDRAMA_BUILD_ID).
The same call in the same build (Snakemake's `retries`) then fails at once, naming the first failure
and its cost, instead of buying the same failure again; the next build tries again for real, and a
success forgets the record. A failure that cost nothing (no answer was billed) is retried freely.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from ..config import PROVIDER_GROUPS, AppConfig, BudgetConfig, ProviderConfig
from ..errors import ProviderError, ShortDramaError
from .budget import BudgetExceeded, BudgetGuard, Caps, format_usd
from .cache import CallCache, file_digest, request_key
from .ledger import Ledger, LedgerEntry, write_atomic
from .locking import exclusive_lock
from .slots import ProviderSlots

log = logging.getLogger(__name__)
RUNTIME_ENV = "SHORTDRAMA_RUNTIME"
BUILD_ID_ENV = "SHORTDRAMA_BUILD_ID"  # one per snakemake invocation (rules/common.smk); jobs inherit it
FAILURES_DIR = ".failures"  # in the cache folder: the paid failures of recent builds, one file per call key


@dataclass(frozen=True)
class Runtime:
    """Where a build keeps its ledger, budget state and cache: operational settings that must not
    be rule params (raising the budget or moving the cache must not rerun anything)."""

    output_dir: Path
    cache_dir: Path
    cache_enabled: bool
    budget: BudgetConfig
    providers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    budget_dir: Path | None = None  # where the money is counted; a sweep counts all its points together
    approvals: Path | None = None  # approved takes' records (shortdrama.review.approvals); None: not respected

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.output_dir / "ledger.jsonl")

    @property
    def spend_ledger(self) -> Ledger:
        return Ledger((self.budget_dir or self.output_dir) / "ledger.jsonl")

    @property
    def guard(self) -> BudgetGuard:
        return BudgetGuard(self.spend_ledger, Caps(self.budget.series_usd, self.budget.episode_usd),
                           (self.budget_dir or self.output_dir) / ".budget")

    @property
    def cache(self) -> CallCache | None:
        return CallCache(self.cache_dir) if self.cache_enabled else None

    @property
    def slots(self) -> ProviderSlots:
        return ProviderSlots(self.cache_dir / ".slots")

    def provider(self, group: str) -> dict[str, Any]:
        return self.providers[group]

    @classmethod
    def from_config(cls, cfg: AppConfig, output_dir: Path, default_cache_dir: Path) -> "Runtime":
        cache_dir = Path(cfg.cache.dir or os.environ.get("SHORTDRAMA_CACHE_DIR") or default_cache_dir)
        # A sweep point (results/<series>/sweeps/<point>) spends from the sweep's purse: the series cap
        # bounds the whole sweep, not each point.
        budget_dir = output_dir.parent if output_dir.parent.name == "sweeps" else None
        return cls(output_dir=output_dir.resolve(), cache_dir=cache_dir.resolve(), cache_enabled=cfg.cache.enabled,
                   budget=cfg.budget,
                   providers={g: getattr(cfg, g).model_dump(mode="json") for g in PROVIDER_GROUPS},
                   budget_dir=budget_dir.resolve() if budget_dir else None)

    def to_json(self) -> str:
        return json.dumps({"output_dir": str(self.output_dir), "cache_dir": str(self.cache_dir),
                           "cache_enabled": self.cache_enabled, "budget": self.budget.model_dump(mode="json"),
                           "providers": dict(self.providers),
                           "budget_dir": str(self.budget_dir) if self.budget_dir else None,
                           "approvals": str(self.approvals) if self.approvals else None}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Runtime":
        data = json.loads(text)
        return cls(output_dir=Path(data["output_dir"]), cache_dir=Path(data["cache_dir"]),
                   cache_enabled=data["cache_enabled"], budget=BudgetConfig.model_validate(data["budget"]),
                   providers=data["providers"],
                   budget_dir=Path(data["budget_dir"]) if data.get("budget_dir") else None,
                   approvals=Path(data["approvals"]) if data.get("approvals") else None)

    @classmethod
    def from_env(cls) -> "Runtime":
        text = os.environ.get(RUNTIME_ENV)
        if not text:
            from ..errors import ShortDramaError

            raise ShortDramaError(f"${RUNTIME_ENV} is not set: run steps through Snakemake or shortdrama build")
        return cls.from_json(text)


@dataclass(frozen=True)
class Call:
    """One provider request, described by what changes its result."""

    rule: str
    step: str
    version: int  # bump when the step's code changes what it produces for the same request
    request: Mapping[str, Any]
    inputs: Mapping[str, Path] = field(default_factory=dict)
    episode: int | None = None
    scene: int | None = None
    take: int | None = None  # which take of the scene (a clip); every take is its own request
    # Input digests that stand in for the files' own: an approved take is asked with the keyframe it
    # was made from (shortdrama.review.approvals), whatever the keyframe is now.
    pinned: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        where = "".join(f" {k}{v:02d}" for k, v in (("ep", self.episode), ("sc", self.scene), ("take", self.take))
                        if v is not None)
        return f"{self.rule}{where}"


def call_key(call: Call, provider: ProviderConfig, digests: Mapping[str, str] | None = None) -> str:
    """`digests` stands in for input files that do not exist yet (a plan predicting cache hits)."""
    known = {**call.pinned, **(digests or {})}
    return request_key({
        "step": call.step, "version": call.version, "provider": provider.result_fields(), "request": call.request,
        "inputs": {name: known.get(str(path)) or file_digest(path) for name, path in sorted(call.inputs.items())},
    })


@dataclass(frozen=True)
class Billing:
    """What a provider reported for one call: its cost and, for LLMs, the tokens."""

    cost_usd: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    model: str | None = None  # the model that really answered, when a provider fell back by itself
    note: str = ""  # where the cost figure came from, when not from the price table ("kling reported 5 units")
    characters: int = 0  # characters billed (speech)
    seconds: float = 0.0  # seconds of video billed (clips, lip-sync)


class PaidFailure(ProviderError):
    """A provider call that failed after it was billed (a writer whose agent calls were answered, and
    paid for, before it gave up): `billing` is what the failed attempt cost."""

    def __init__(self, message: str, billing: Billing):
        super().__init__(message)
        self.billing = billing


class AlreadyFailed(ProviderError):
    """The same call already failed in this build after costing money; it is not bought again."""


Estimate = Callable[[ProviderConfig], float]
Produce = Callable[[ProviderConfig, dict[str, Path]], "float | Billing | None"]


def provider_call(runtime: Runtime, call: Call, provider: ProviderConfig, estimate: Estimate, produce: Produce,
                  outputs: Mapping[str, Path], validate: Callable[[Mapping[str, Path]], None] | None = None) -> LedgerEntry:
    """Run (or replay from the cache) one provider call and write its `outputs`; returns its ledger entry.

    `validate` checks the outputs (a fresh answer before it is cached, a cached one before it is used):
    an answer that fails it is never stored, and a stored one that fails it is forgotten."""
    while True:
        key = call_key(call, provider)
        # One request at a time per key: two jobs (or builds) asking the same thing pay once.
        with exclusive_lock(runtime.cache_dir / ".locks" / f"{key}.lock"):
            result = _call_once(runtime, call, provider, key, estimate, produce, outputs, validate)
        if result is not None:
            return result
        provider = provider.fallback  # refused at the cap with on_cap=downgrade


def _call_once(runtime: Runtime, call: Call, provider: ProviderConfig, key: str, estimate: Estimate, produce: Produce,
               outputs: Mapping[str, Path], validate: Callable[[Mapping[str, Path]], None] | None) -> LedgerEntry | None:
    ledger, guard, cache = runtime.ledger, runtime.guard, runtime.cache
    estimated = round(estimate(provider), 6)
    entry = cache.get(key) if cache else None
    if entry is not None:
        for name, dest in outputs.items():
            cache.restore(entry, name, Path(dest))
        try:
            if validate:
                validate(outputs)
        except ShortDramaError as problem:
            log.warning("cached answer %s fails its checks (%s): asking the provider again", key[:12], problem)
            cache.forget(key)
        else:
            hit = _entry(call, provider, key, "hit", estimated, 0.0, 0.0, "ok")
            ledger.append(hit)
            _forget_failure(runtime, key)
            return hit
    _refuse_repeated_failure(runtime, call, key)
    try:
        reservation = guard.reserve(estimated, call.episode, call.label)
    except BudgetExceeded as refusal:
        ledger.append(_entry(call, provider, key, "miss", estimated, 0.0, 0.0, "refused", str(refusal)))
        fallback = getattr(provider, "fallback", None)
        if runtime.budget.on_cap == "downgrade" and fallback is not None:
            log.warning("%s; downgrading %s to %s", refusal, _model(provider), _model(fallback))
            return None
        raise
    return _run_miss(runtime, call, provider, key, estimated, reservation, produce, outputs, validate)


def _run_miss(runtime: Runtime, call: Call, provider: ProviderConfig, key: str, estimated: float, reservation: Any,
              produce: Produce, outputs: Mapping[str, Path],
              validate: Callable[[Mapping[str, Path]], None] | None) -> LedgerEntry:
    guard, cache = runtime.guard, runtime.cache
    slot_name = f"{getattr(provider, 'provider', 'provider')}-{_model(provider)}".replace("/", "_")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".call-", dir=_scratch_dir(outputs)) as scratch:
        produced = {name: Path(scratch) / Path(dest).name for name, dest in outputs.items()}
        answered = False  # produce returned: what it reports was billed, even if the answer fails `validate`
        actual: float | Billing | None = None
        try:
            with runtime.slots.acquire(slot_name, provider.concurrency):
                actual = produce(provider, produced)
            answered = True
            if validate:
                validate(produced)
        except BaseException as error:
            billing = _billing(actual, estimated) if answered else getattr(error, "billing", None)
            billing = billing if isinstance(billing, Billing) else Billing(cost_usd=0.0)
            cost = round(max(billing.cost_usd or 0.0, 0.0), 6)
            message = _first_line(error)
            failed = _entry(call, provider, key, "miss", estimated, cost, time.perf_counter() - started, "failed",
                            message[:300], model=billing.model, tokens=(billing.tokens_in, billing.tokens_out),
                            billed=(billing.characters, billing.seconds))
            guard.settle(reservation, failed)
            if runtime.spend_ledger.path != runtime.ledger.path:
                runtime.ledger.append(failed)
            if cost > 0 and isinstance(error, Exception):
                _remember_failure(runtime, call, key, cost, message)
            raise
        duration = time.perf_counter() - started
        billing = _billing(actual, estimated)
        cost = round(billing.cost_usd, 6)
        if cache is not None:
            stored = cache.put(key, produced, {"provider": getattr(provider, "provider", ""), "model": _model(provider),
                                               "step": call.step, "rule": call.rule, "cost_usd": cost})
            for name, dest in outputs.items():
                cache.restore(stored, name, Path(dest))
        else:
            for name, dest in outputs.items():
                Path(dest).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(produced[name], dest)
    entry = _entry(call, provider, key, "miss", estimated, cost, duration, "ok", billing.note, model=billing.model,
                   tokens=(billing.tokens_in, billing.tokens_out), billed=(billing.characters, billing.seconds))
    guard.settle(reservation, entry)
    _forget_failure(runtime, key)
    if runtime.spend_ledger.path != runtime.ledger.path:
        runtime.ledger.append(entry)  # a sweep point's own ledger, for its row of the comparison
    return entry


def _billing(actual: "float | Billing | None", estimated: float) -> Billing:
    """What produce reported; no figure means the price table's estimate."""
    billing = actual if isinstance(actual, Billing) else Billing(cost_usd=actual)
    if billing.cost_usd is None:
        billing = replace(billing, cost_usd=estimated)
    return billing


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# -- paid failures: a retry in the same build does not buy the same failure again ----------------

def current_build() -> str | None:
    """The id of the `snakemake` invocation this process belongs to ($SHORTDRAMA_BUILD_ID), if any."""
    return os.environ.get(BUILD_ID_ENV) or None


def failure_path(runtime: Runtime, key: str) -> Path:
    return runtime.cache_dir / FAILURES_DIR / f"{key}.json"


def _remember_failure(runtime: Runtime, call: Call, key: str, cost: float, message: str) -> None:
    build = current_build()
    if build is None:
        return  # outside a build (a step run by hand): nothing can tell a retry from a new attempt
    path = failure_path(runtime, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps({"build": build, "call": call.label, "cost_usd": cost, "message": message,
                                       "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds")},
                                      ensure_ascii=False, indent=1) + "\n")
    except OSError as problem:  # the failure itself is what the user must see
        log.warning("could not record the failure of %s in %s: %s", call.label, path, problem)


def _refuse_repeated_failure(runtime: Runtime, call: Call, key: str) -> None:
    """Fail at once when this build already paid for this call and it failed (Snakemake's retry)."""
    build = current_build()
    if build is None:
        return
    path = failure_path(runtime, key)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        cost = float(record["cost_usd"])
        same_build = record["build"] == build
        reason = " ".join(str(record.get("message", "")).split())
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError) as problem:
        log.warning("ignoring an unreadable failure record %s: %s", path, problem)
        return
    if not same_build or cost <= 0:
        return
    short = reason if len(reason) <= 80 else reason[:77] + "..."
    raise AlreadyFailed(f"{call.label} already failed in this build after costing {format_usd(cost)} "
                        f"({short}); not paid for again: fix the cause and run the build again")


def _forget_failure(runtime: Runtime, key: str) -> None:
    try:
        failure_path(runtime, key).unlink(missing_ok=True)
    except OSError as problem:
        log.warning("could not remove the failure record of %s: %s", key[:12], problem)


def _scratch_dir(outputs: Mapping[str, Path]) -> str:
    """Scratch space next to the outputs, so finished files move into place by rename."""
    first = Path(next(iter(outputs.values())))
    first.parent.mkdir(parents=True, exist_ok=True)
    return str(first.parent)


def _model(provider: Any) -> str:
    return str(getattr(provider, "model", "") or getattr(provider, "provider", ""))


def _entry(call: Call, provider: ProviderConfig, key: str, cache: str, estimate: float, cost: float, duration: float,
           outcome: str, message: str = "", model: str | None = None, tokens: tuple[int, int] = (0, 0),
           billed: tuple[int, float] = (0, 0.0)) -> LedgerEntry:
    return LedgerEntry(
        time=datetime.now(timezone.utc).isoformat(timespec="milliseconds"), rule=call.rule, step=call.step,
        provider=str(getattr(provider, "provider", "")), model=model or _model(provider), key=key, cache=cache,
        estimate_usd=estimate, cost_usd=cost, duration_s=round(duration, 3), outcome=outcome,
        episode=call.episode, scene=call.scene, take=call.take, message=message, tokens_in=tokens[0], tokens_out=tokens[1],
        characters=billed[0], seconds=round(billed[1], 3),
    )
