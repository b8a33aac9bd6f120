"""Time as a parameter: everything time-dependent takes a Clock so tests can set exact instants."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FrozenClock:
    """A clock that only moves when told to."""

    instant: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __post_init__(self) -> None:
        if self.instant.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")

    def now(self) -> datetime:
        return self.instant

    def advance(self, delta: timedelta) -> datetime:
        self.instant += delta
        return self.instant

    def set(self, instant: datetime) -> None:
        self.instant = instant


def utc(value: datetime) -> datetime:
    """Stores may hand back naive datetimes (SQLite); they are UTC by convention here."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def duration_text(value: timedelta) -> str:
    """ "2h", "1h 30m", "12m", "3d 8h": how people write a span, not Python's "2:00:00"; the
    one formatter for every message, page and finding that names a span."""
    minutes = int(value.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours and rest:
        return f"{hours}h {rest}m"
    return f"{hours}h" if hours else f"{rest}m"
