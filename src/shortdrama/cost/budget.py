"""The budget guard, checked before every paid call.

Money is in exactly one of two places: reserved (a call in flight, in `state_dir/reservations.json`)
or spent (a line in the ledger). Reserving, settling and releasing all happen under the ledger's
own lock, so no parallel job can see the money counted twice or not at all; the file is rewritten
by temp file + fsync + rename, so a reader (on any node) sees the old list or the new one, whole.

Reservations on a cluster. Each reservation records the host that made it (and its $SLURM_JOB_ID)
and a lease (`lease_s`, 6 h by default, renewable with `renew`). A reservation is dropped, giving its
money back to the pool, when

- it was made on this host and its process is gone (the pid probe only means something here), or
- its lease has run out, on whatever host it was made.

A reservation made on another node stays until that job settles or releases it, or its lease ends:
this node cannot tell whether the other one's process still runs. The trade-off: a node that dies
mid-call holds its reservation until the lease ends, which only ever makes the guard stricter
(calls are refused that would have fit), never lets it overspend. A call that runs longer than the
lease without `renew` loses its reservation, and the cap could then be overshot by its estimate,
so `lease_s` is set far above any one call. Reservations written before hosts were recorded are
taken as made on this host (the old behaviour) and their lease counts from their `time`.

The cap check reads the ledger and the reservations as one snapshot, which across nodes needs the
lock to be shared by the file system (see locking.py): on a mount where locks are node-local, two
nodes can each take the last dollar.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..errors import ShortDramaError
from .ledger import BILLED_OUTCOMES, Ledger, LedgerEntry, utc_now, write_atomic
from .locking import exclusive_lock, host_name, pid_alive, slurm_job_id

log = logging.getLogger(__name__)

# Float sums of cents drift by ~1e-16; a call that lands exactly on the cap must still fit.
TOLERANCE_USD = 1e-9
# How long a reservation lives without renewal: far longer than any one provider call.
DEFAULT_LEASE_S = 6 * 3600.0


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
    host: str = ""  # the node that made it
    slurm_job_id: str | None = None
    lease_until: str = ""  # ISO 8601 UTC; dropped after this unless renewed
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
    def __init__(self, ledger: Ledger, caps: Caps, state_dir: str | os.PathLike,
                 lease_s: float = DEFAULT_LEASE_S) -> None:
        self.ledger = ledger
        self.caps = caps
        self.state_dir = Path(state_dir)
        self.lease_s = _check_lease(lease_s)

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
            now = datetime.now(timezone.utc)
            reservation = Reservation(uuid.uuid4().hex, os.getpid(), float(estimate_usd), episode, label,
                                      _iso(now), host=host_name(), slurm_job_id=slurm_job_id(),
                                      lease_until=_iso(now + timedelta(seconds=self.lease_s)), guard=self)
            self._save(reservations + [reservation.to_dict()])
        return reservation

    def renew(self, reservation: Reservation, lease_s: float | None = None) -> Reservation:
        """Extend a reservation's lease to `lease_s` (default: the guard's) from now, for a call that
        runs long. Raises BudgetError if it is no longer held (settled, released or expired)."""
        if reservation.is_noop:
            return reservation
        lease_s = self.lease_s if lease_s is None else _check_lease(lease_s)
        until = _iso(datetime.now(timezone.utc) + timedelta(seconds=lease_s))
        with exclusive_lock(self.ledger.lock_path):
            reservations = self._live_reservations()
            held = [r for r in reservations if r.get("id") == reservation.id]
            if not held:
                raise BudgetError(f"budget: the reservation for {_one_line(reservation.label)} is no longer held "
                                  "(settled, released, or its lease ran out)")
            held[0]["lease_until"] = until
            self._save(reservations)
        return replace(reservation, lease_until=until)

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
        """Reservations still held (see the module docstring); a crashed job's money goes back to the pool."""
        try:
            data = json.loads(self.reservations_path.read_text(encoding="utf-8"))
            reservations = list(data["reservations"])
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError) as exc:
            # Written atomically, so this takes outside meddling; in-flight calls are forgotten.
            log.warning("%s is unreadable (%s); starting with no reservations", self.reservations_path, exc)
            return []
        now, here = datetime.now(timezone.utc), host_name()
        live = [r for r in reservations if isinstance(r, dict) and self._held(r, now, here)]
        if len(live) != len(reservations):
            log.info("dropping %d reservation(s) of processes that are gone or whose lease ran out",
                     len(reservations) - len(live))
            self._save(live)
        return live

    def _held(self, reservation: dict, now: datetime, here: str) -> bool:
        until = _parse_time(reservation.get("lease_until"))
        if until is None:  # written before leases existed: the lease counts from when it was made
            made = _parse_time(reservation.get("time"))
            until = made + timedelta(seconds=self.lease_s) if made else None
        if until is None or now >= until:
            return False
        if (reservation.get("host") or here) != here:
            return True  # another node's process: only its lease can tell us it is gone
        try:
            return pid_alive(int(reservation.get("pid", 0)))
        except (TypeError, ValueError):
            return False

    def _drop(self, reservation_id: str) -> None:
        reservations = self._live_reservations()
        remaining = [r for r in reservations if r.get("id") != reservation_id]
        if len(remaining) != len(reservations):
            self._save(remaining)

    def _save(self, reservations: list[dict]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.reservations_path, json.dumps({"reservations": reservations}, indent=1) + "\n")


def _total(reservations: list[dict], episode: int | None) -> float:
    return sum(float(r["estimate_usd"]) for r in reservations if episode is None or r.get("episode") == episode)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _check_lease(lease_s: float) -> float:
    if isinstance(lease_s, bool) or not isinstance(lease_s, (int, float)) or not (math.isfinite(lease_s) and lease_s > 0):
        raise BudgetError(f"budget: a reservation lease must be a positive number of seconds, not {lease_s!r}")
    return float(lease_s)


def _check_estimate(estimate: float) -> None:
    if isinstance(estimate, bool) or not isinstance(estimate, (int, float)) or not math.isfinite(estimate) or estimate < 0:
        raise BudgetError(f"budget: an estimate must be a non-negative amount, not {estimate!r}")


def _one_line(text: str) -> str:
    return " ".join(text.split())
