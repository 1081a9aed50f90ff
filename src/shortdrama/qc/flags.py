"""What a check found: a flag (a measured value past its limit, with where it is) or a skipped check
(with why). Plain data, written into the QC JSON files and read back by `shortdrama qc` and the
review page; `severity` orders the worst first."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Flag:
    check: str  # black, freeze, cut, duration, format, blur, keyframe_drift, silent_line, ...
    value: float | str  # what was measured
    limit: float | str  # what it may be
    message: str  # one line a producer understands
    at: float | None = None  # seconds into the take (take checks) or the episode (episode checks)
    severity: float = 1.0  # how far past the limit (1 = just past); orders the report
    episode: int | None = None
    scene: int | None = None
    take: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Flag":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def placed(self, **where: int | None) -> "Flag":
        """The same flag with its episode/scene/take filled in."""
        values = self.to_dict()
        values.update({k: v for k, v in where.items() if v is not None})
        return Flag(**values)


@dataclass(frozen=True)
class Skipped:
    check: str
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def past(value: float, limit: float) -> float:
    """Severity of `value` over an upper `limit`: 1 at the limit, growing with the excess."""
    if limit <= 0:
        return 1.0 + abs(value - limit)
    return max(1.0, value / limit)


def short_of(value: float, limit: float) -> float:
    """Severity of `value` under a lower `limit`."""
    if value <= 0:
        return 1.0 + limit
    return max(1.0, limit / value)


def timecode(seconds: float | None) -> str:
    """HH:MM:SS.mmm, as editors and players show it."""
    if seconds is None:
        return "-"
    millis = round(max(seconds, 0.0) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest / 1000:06.3f}"
