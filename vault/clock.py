"""Injectable time, so retention and caches are tested by time travel rather than sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pseudovault.vault.errors import InvalidInputError

__all__ = ["Clock", "SystemClock", "FrozenClock", "utcnow", "EARLIEST", "past_timestamp"]

#: the earliest moment a caller may say something happened (an event, a request received, a
#: provision): anything before is a typo, and an event time decides when data is destroyed
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def past_timestamp(value: object, field: str, now: datetime) -> datetime:
    """``value`` as a UTC timestamp if it is a timezone-aware datetime from :data:`EARLIEST` to
    ``now``; else :class:`vault.errors.InvalidInputError` naming ``field``."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInputError(field, "must be a timezone-aware timestamp")
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 has no UTC equivalent
        raise InvalidInputError(field, "is out of range") from None
    if value < EARLIEST:
        raise InvalidInputError(field, "must not be before 1970-01-01T00:00:00Z")
    if value > now:
        raise InvalidInputError(field, "must not be in the future")
    return value


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, at: datetime | None = None) -> None:
        at = at or datetime(2026, 1, 1, tzinfo=UTC)
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._at = at.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._at += delta
            return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = at.astimezone(UTC)

    def __repr__(self) -> str:
        return f"FrozenClock({self._at.isoformat()})"
