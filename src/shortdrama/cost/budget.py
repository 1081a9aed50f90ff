"""The budget guard, checked before every paid call.

Money is in exactly one of two places: reserved (a call in flight, in `state_dir/reservations.json`)
or spent (a line in the ledger). Reserving, settling and releasing all happen under the ledger's
own lock, so no parallel job can see the money counted twice or not at all.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ShortDramaError
from ..media import write_text_atomic
from .ledger import BILLED_OUTCOMES, Ledger, LedgerEntry, utc_now
from .locking import exclusive_lock, pid_alive

log = logging.getLogger(__name__)

# Float sums of cents drift by ~1e-16; a call that lands exactly on the cap must still fit.
TOLERANCE_USD = 1e-9


class BudgetError(ShortDramaError):
    """The budget was asked something that makes no sense (a negative cap or estimate)."""


class BudgetExceeded(BudgetError):
    """A call would push the spend past a cap; it was not made."""


@dataclass(frozen=True)
class Caps:
    series_usd: float | None  # None = no cap
    episode_usd: float | None

    def __post_init__(self) -> None:
        for name, cap in (("series", self.series_usd), ("episode", self.episode_usd)):
            if cap is not None and not (math.isfinite(cap) and cap >= 0):
                raise BudgetError(f"budget: the {name} cap must be a non-negative amount, not {cap!r}")


@dataclass(frozen=True)
class Reservation:
    """Money set aside for one call in flight. A reservation with an empty id is a no-op (a free call).

    As a context manager it releases itself if the block raises; on a clean exit it stays reserved
    until settled, so a forgotten settle errs on the side of not spending.
    """

    id: str
    pid: int
    estimate_usd: float
    episode: int | None
    label: str
    time: str
    guard: "BudgetGuard | None" = field(default=None, repr=False, compare=False)

    @property
    def is_noop(self) -> bool:
        return not self.id

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["guard"]
        return data

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:  # noqa: ANN001
        if exc_type is not None and self.guard is not None:
            self.guard.release(self)
        return False


def format_usd(amount: float) -> str:
    """$1.50 for whole cents; sub-cent prices keep up to four decimals ($0.0035) so they do not read as $0.00."""
    if abs(amount - round(amount, 2)) < TOLERANCE_USD:
        return f"${amount:.2f}"
    return f"${amount:.4f}".rstrip("0")


class BudgetGuard:
    def __init__(self, ledger: Ledger, caps: Caps, state_dir: str | os.PathLike) -> None:
        self.ledger = ledger
        self.caps = caps
        self.state_dir = Path(state_dir)

    @property
    def reservations_path(self) -> Path:
        return self.state_dir / "reservations.json"

    def reserve(self, estimate_usd: float, episode: int | None, label: str) -> Reservation:
        """Set `estimate_usd` aside for one call, or raise BudgetExceeded naming the cap it would break."""
        _check_estimate(estimate_usd)
        if estimate_usd == 0:
            return Reservation("", os.getpid(), 0.0, episode, label, utc_now(), guard=self)
        with exclusive_lock(self.ledger.lock_path):
            reservations = self._live_reservations()
            refusal = self._refusal(estimate_usd, episode, label, reservations)
            if refusal:
                raise BudgetExceeded(refusal)
            reservation = Reservation(uuid.uuid4().hex, os.getpid(), float(estimate_usd), episode, label, utc_now(), guard=self)
            self._save(reservations + [reservation.to_dict()])
        return reservation

    def would_fit(self, estimate_usd: float, episode: int | None = None) -> bool:
        """Whether a call of this estimate would be allowed now (for planning; reserves nothing)."""
        _check_estimate(estimate_usd)
        if estimate_usd == 0:
            return True
        with exclusive_lock(self.ledger.lock_path):
            return self._refusal(estimate_usd, episode, "", self._live_reservations()) is None

    def settle(self, reservation: Reservation, entry: LedgerEntry) -> None:
        """Record the call's ledger entry and drop its reservation, in one step under the lock."""
        with exclusive_lock(self.ledger.lock_path):
            self.ledger.append(entry)
            if not reservation.is_noop:
                self._drop(reservation.id)

    def release(self, reservation: Reservation) -> None:
        """Give the money back without a ledger entry (the call was never made). Idempotent."""
        if reservation.is_noop:
            return
        with exclusive_lock(self.ledger.lock_path):
            self._drop(reservation.id)

    def reserved(self, episode: int | None = None) -> float:
        """Dollars set aside by calls in flight, for the series or one episode."""
        with exclusive_lock(self.ledger.lock_path):
            return _total(self._live_reservations(), episode)

    # -- under the lock -------------------------------------------------------------------------

    def _refusal(self, estimate: float, episode: int | None, label: str, reservations: list[dict]) -> str | None:
        entries = self.ledger.entries()
        checks = [("series", self.caps.series_usd, None)]
        if episode is not None:
            checks.append((f"episode {episode}", self.caps.episode_usd, episode))
        for name, cap, scope in checks:
            if cap is None:
                continue
            spent = sum(e.cost_usd for e in entries if e.outcome in BILLED_OUTCOMES and (scope is None or e.episode == scope))
            held = _total(reservations, scope)
            if spent + held + estimate > cap + TOLERANCE_USD:
                where = f" ({_one_line(label)})" if label else ""
                return (f"budget: {name} cap {format_usd(cap)} reached: spent {format_usd(spent)}"
                        f" + reserved {format_usd(held)} + this call {format_usd(estimate)}{where}")
        return None

    def _live_reservations(self) -> list[dict]:
        """Reservations whose process still runs; a crashed job's money goes back to the pool."""
        try:
            data = json.loads(self.reservations_path.read_text(encoding="utf-8"))
            reservations = list(data["reservations"])
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError) as exc:
            # Written atomically, so this takes outside meddling; in-flight calls are forgotten.
            log.warning("%s is unreadable (%s); starting with no reservations", self.reservations_path, exc)
            return []
        live = [r for r in reservations if isinstance(r, dict) and pid_alive(int(r.get("pid", 0)))]
        if len(live) != len(reservations):
            log.info("dropping %d reservation(s) of processes that are gone", len(reservations) - len(live))
            self._save(live)
        return live

    def _drop(self, reservation_id: str) -> None:
        reservations = self._live_reservations()
        remaining = [r for r in reservations if r.get("id") != reservation_id]
        if len(remaining) != len(reservations):
            self._save(remaining)

    def _save(self, reservations: list[dict]) -> None:
        write_text_atomic(self.reservations_path, json.dumps({"reservations": reservations}, indent=1) + "\n")


def _total(reservations: list[dict], episode: int | None) -> float:
    return sum(float(r["estimate_usd"]) for r in reservations if episode is None or r.get("episode") == episode)


def _check_estimate(estimate: float) -> None:
    if isinstance(estimate, bool) or not isinstance(estimate, (int, float)) or not math.isfinite(estimate) or estimate < 0:
        raise BudgetError(f"budget: an estimate must be a non-negative amount, not {estimate!r}")


def _one_line(text: str) -> str:
    return " ".join(text.split())
