"""Retention periods: a strict grammar and calendar arithmetic (standard library only).

Grammar (a period is a string; anything else is refused)::

    period = short | iso
    short  = [n "y"] [n ("mo" | "m")] [n "w"] [n "d"]      lower case, parts in this order
    iso    = "P" [n "Y"] [n "M"] [n "W"] [n "D"]             ISO 8601, upper case
    n      = a decimal number from 1 to 9999 without leading zeros

At least one part is present; there are no spaces, signs, fractions or time parts. ``m`` and
``mo`` both mean months (a retention period has no minutes). Examples: ``5y``, ``3m``, ``6mo``,
``1y6mo``, ``90d``, ``2w``, ``P5Y``, ``P1Y6M``. A negative (``-5y``), zero (``0d``) or
unreadable period is refused with a reason saying which. Weeks are kept as days (``2w`` is
``14d``). The longest accepted period is 200 years.

Arithmetic (:func:`add_period`): years and months move the calendar month, and a day past the end
of the target month is clamped to its last day (one year after 29 February is 28 February, one
month after 31 January is the last day of February); days are then added.

When data becomes due (:func:`due_at`): the civil-law reckoning (Korean Civil Act Art. 157 and
160; the German BGB §§ 187-188 is the same): the day of the event is not counted, and a period
ends at the end of the day before the corresponding day. So data whose period of ``5y`` starts
with an event on 15 January 2026, at any time of day, is kept through 15 January 2031 and due
from 16 January 2031 00:00 in the policy's time zone. That is ``add_period(event date, period)
+ 1 day`` at midnight: nothing is due a day early, and everything is due on its day whatever
hour a daily sweep runs.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import TypeVar

__all__ = ["MAX_YEARS", "Period", "PeriodError", "add_period", "due_at", "parse_period"]

MAX_YEARS = 200

_NUMBER = r"[1-9][0-9]{0,3}"
_SHORT = re.compile(rf"(?:(?P<years>{_NUMBER})y)?(?:(?P<months>{_NUMBER})mo?)?(?:(?P<weeks>{_NUMBER})w)?(?:(?P<days>{_NUMBER})d)?")
_ISO = re.compile(rf"P(?:(?P<years>{_NUMBER})Y)?(?:(?P<months>{_NUMBER})M)?(?:(?P<weeks>{_NUMBER})W)?(?:(?P<days>{_NUMBER})D)?")
_LOOKS_ZERO = re.compile(r"P?(?:0+[a-zA-Z]+)+")

_D = TypeVar("_D", date, datetime)


class PeriodError(ValueError):
    """A string that is not a period; the message says why (it never quotes more than the text)."""


@dataclass(frozen=True)
class Period:
    """A calendar period of whole years, months and days (weeks are stored as days)."""

    years: int = 0
    months: int = 0
    days: int = 0

    def __post_init__(self) -> None:
        for name in ("years", "months", "days"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Period.{name} must be a non-negative int")
        if not (self.years or self.months or self.days):
            raise ValueError("a Period must not be empty")
        if self.years * 12 + self.months > MAX_YEARS * 12 or self.days > MAX_YEARS * 366:
            raise ValueError(f"a Period is at most {MAX_YEARS} years")

    def iso(self) -> str:
        """The ISO 8601 form: ``P5Y``, ``P1Y6M``, ``P90D``."""
        parts = [f"{v}{u}" for v, u in ((self.years, "Y"), (self.months, "M"), (self.days, "D")) if v]
        return "P" + "".join(parts)

    def short(self) -> str:
        """The short form used in policy files: ``5y``, ``1y6mo``, ``90d``."""
        return "".join(f"{v}{u}" for v, u in ((self.years, "y"), (self.months, "mo"), (self.days, "d")) if v)

    def __str__(self) -> str:
        return self.iso()


def parse_period(text: object) -> Period:
    """The :class:`Period` that ``text`` writes (see the module docstring); PeriodError otherwise."""
    if not isinstance(text, str):
        raise PeriodError('a period is a string such as "5y", "6mo", "90d" or "P5Y"')
    if text.startswith("-"):
        raise PeriodError("a period must be positive, not negative")
    match = (_ISO if text.startswith("P") else _SHORT).fullmatch(text)
    if match is None or not any(match.groupdict().values()):
        if _LOOKS_ZERO.fullmatch(text):
            raise PeriodError("a period must be positive, not zero")
        raise PeriodError('not a period: write e.g. "5y", "3m" (months), "6mo", "1y6mo", "90d", "2w" or "P5Y"')
    parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
    days = parts.get("days", 0) + 7 * parts.get("weeks", 0)
    try:
        return Period(years=parts.get("years", 0), months=parts.get("months", 0), days=days)
    except ValueError as exc:
        raise PeriodError(str(exc)) from None


def add_period(at: _D, period: Period) -> _D:
    """``at`` (a date or a datetime) plus ``period`` in calendar terms; see the module docstring."""
    month_index = at.month - 1 + period.months + 12 * period.years
    year = at.year + month_index // 12
    month = month_index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day) + timedelta(days=period.days)


def due_at(event_at: datetime, period: Period, zone: tzinfo = UTC) -> datetime:
    """When data whose ``period`` starts with an event at ``event_at`` becomes due, in UTC.

    The start of the day after ``add_period(event date, period)`` in ``zone`` (the event's date
    is taken in ``zone`` too); see the module docstring.
    """
    if event_at.tzinfo is None or event_at.utcoffset() is None:
        raise ValueError("event_at must be timezone-aware")
    return _due_after(event_at.astimezone(zone).date(), period, zone)


@lru_cache(maxsize=4096)
def _due_after(local_day: date, period: Period, zone: tzinfo) -> datetime:
    """:func:`due_at` of an event on ``local_day`` (in ``zone``): one computation per day,
    period and zone (the entries a sweep batch or an import schedules mostly share their day)."""
    last_day = add_period(local_day, period)
    start = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC)
