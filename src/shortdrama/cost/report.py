"""`shortdrama costs`: the ledger broken down by step, episode and provider, and the seed's comparison
against a traditionally produced series."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .ledger import BILLED_OUTCOMES, LedgerEntry


@dataclass
class Tally:
    calls: int = 0
    hits: int = 0
    misses: int = 0
    refused: int = 0
    failed: int = 0
    spent: float = 0.0
    saved: float = field(default=0.0, metadata={"doc": "estimates of the calls the cache served"})

    def add(self, entry: LedgerEntry) -> None:
        self.calls += 1
        if entry.outcome == "refused":
            self.refused += 1
        elif entry.outcome == "failed":
            self.failed += 1
        elif entry.cache == "hit":
            self.hits += 1
            self.saved += entry.estimate_usd
        else:
            self.misses += 1
        if entry.outcome in BILLED_OUTCOMES:
            self.spent += entry.cost_usd


def tally(entries: Iterable[LedgerEntry], key: Callable[[LedgerEntry], str]) -> dict[str, Tally]:
    groups: dict[str, Tally] = defaultdict(Tally)
    for entry in entries:
        groups[key(entry)].add(entry)
    return dict(sorted(groups.items()))


def usd(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else f"${amount:,.4f}"


def _table(title: str, groups: dict[str, Tally]) -> list[str]:
    lines = [f"{title:<24} {'calls':>6} {'hits':>5} {'made':>5} {'refused':>7} {'spent':>10} {'saved':>10}"]
    for name, t in groups.items():
        lines.append(f"{name:<24} {t.calls:>6} {t.hits:>5} {t.misses:>5} {t.refused:>7} {usd(t.spent):>10} {usd(t.saved):>10}")
    return lines


def costs_report(entries: Sequence[LedgerEntry], episodes: int, traditional_per_episode: float, source: str) -> str:
    total = Tally()
    for entry in entries:
        total.add(entry)
    lines = [f"{source}: {total.calls} provider calls, {total.hits} served by the cache, {total.misses} made, "
             f"{total.refused} refused, {total.failed} failed", ""]
    lines += _table("by step", tally(entries, lambda e: e.step)) + [""]
    lines += _table("by episode", tally(entries, lambda e: f"ep{e.episode:02d}" if e.episode else "series")) + [""]
    lines += _table("by provider/model", tally(entries, lambda e: f"{e.provider}/{e.model}")) + [""]
    traditional = episodes * traditional_per_episode
    lines.append(f"spent {usd(total.spent)}; the cache saved {usd(total.saved)}")
    if traditional > 0:
        share = total.spent / traditional
        cheaper = f", {traditional / total.spent:,.0f}x cheaper" if total.spent > 0 else ""
        lines.append(f"traditional production of {episodes} episode(s) at {usd(traditional_per_episode)} each: "
                     f"{usd(traditional)}; this build: {usd(total.spent)} ({share:.2%} of it{cheaper})")
    return "\n".join(lines)


def spent_since(path: Path, since: str) -> str:
    """What the ledger says a build bought: "spent $0.75 on 3 provider calls, 9 answered by the cache"."""
    from ..errors import ShortDramaError
    from .budget import format_usd
    from .ledger import Ledger

    try:
        entries = [e for e in Ledger(path).entries() if e.time >= since]  # ISO 8601 UTC strings sort by time
    except (OSError, ShortDramaError) as problem:
        return f"the ledger {path} is unreadable ({problem})"
    cost = sum(e.cost_usd for e in entries if e.outcome in BILLED_OUTCOMES)
    bought = sum(1 for e in entries if e.cache == "miss" and e.outcome in BILLED_OUTCOMES)
    hits = sum(1 for e in entries if e.cache == "hit")
    return f"spent {format_usd(cost)} on {bought} provider call(s), {hits} answered by the cache (ledger: {path})"
