"""The period grammar and the calendar arithmetic of due dates (vault.retention.periods)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pseudovault.vault.retention.periods import (
    Period,
    PeriodError,
    add_period,
    due_at,
    parse_period,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5y", Period(years=5)),
        ("3m", Period(months=3)),
        ("6mo", Period(months=6)),
        ("1y6mo", Period(years=1, months=6)),
        ("90d", Period(days=90)),
        ("2w", Period(days=14)),
        ("1y2mo3w4d", Period(years=1, months=2, days=25)),
        ("P5Y", Period(years=5)),
        ("P3M", Period(months=3)),
        ("P1Y6M", Period(years=1, months=6)),
        ("P2W", Period(days=14)),
        ("P10D", Period(days=10)),
    ],
)
def test_valid_periods(text: str, expected: Period) -> None:
    assert parse_period(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("-5y", "negative"),
        ("-P5Y", "negative"),
        ("0y", "zero"),
        ("P0D", "zero"),
        ("0d", "zero"),
        ("", "not a period"),
        ("five years", "not a period"),
        ("5", "not a period"),
        ("5Y", "not a period"),  # upper case is the ISO form, which starts with P
        ("p5y", "not a period"),
        ("5y ", "not a period"),
        (" 5y", "not a period"),
        ("5y3y", "not a period"),
        ("3mo5y", "not a period"),  # parts in order only
        ("05y", "not a period"),  # no leading zeros
        ("1.5y", "not a period"),
        ("5h", "not a period"),
        ("PT5H", "not a period"),
        ("P", "not a period"),
        ("10000y", "not a period"),
        ("201y", "at most 200 years"),
    ],
)
def test_invalid_periods_say_why(text: str, reason: str) -> None:
    with pytest.raises(PeriodError) as info:
        parse_period(text)
    assert reason in str(info.value)


@pytest.mark.parametrize("value", [5, 5.0, None, b"5y", ["5y"]])
def test_a_period_is_a_string(value: object) -> None:
    with pytest.raises(PeriodError, match="a period is a string"):
        parse_period(value)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 199), st.integers(0, 11), st.integers(0, 400))
def test_short_and_iso_forms_round_trip(years: int, months: int, days: int) -> None:
    if not (years or months or days):
        return
    period = Period(years=years, months=months, days=days)
    assert parse_period(period.short()) == period
    assert parse_period(period.iso()) == period


@pytest.mark.parametrize(
    ("start", "period", "expected"),
    [
        (date(2024, 2, 29), Period(years=1), date(2025, 2, 28)),  # no 29 February: the last day
        (date(2024, 2, 29), Period(years=4), date(2028, 2, 29)),
        (date(2026, 1, 31), Period(months=1), date(2026, 2, 28)),
        (date(2028, 1, 31), Period(months=1), date(2028, 2, 29)),
        (date(2026, 3, 31), Period(months=1), date(2026, 4, 30)),
        (date(2026, 11, 30), Period(months=3), date(2027, 2, 28)),
        (date(2026, 1, 15), Period(years=5), date(2031, 1, 15)),
        (date(2026, 12, 31), Period(days=1), date(2027, 1, 1)),
        (date(2026, 1, 31), Period(months=1, days=1), date(2026, 3, 1)),
    ],
)
def test_calendar_arithmetic(start: date, period: Period, expected: date) -> None:
    assert add_period(start, period) == expected
    as_time = datetime.combine(start, datetime.min.time(), tzinfo=UTC).replace(hour=13)
    assert add_period(as_time, period) == datetime.combine(expected, as_time.timetz())


def test_due_is_midnight_after_the_last_day_whatever_the_hour_of_the_event() -> None:
    five_years = Period(years=5)
    for hour in (0, 10, 23):
        event = datetime(2026, 1, 15, hour, 59, tzinfo=UTC)
        assert due_at(event, five_years) == datetime(2031, 1, 16, tzinfo=UTC)
    # 29 February + 1 year: kept through 28 February, due on 1 March
    assert due_at(datetime(2024, 2, 29, 12, tzinfo=UTC), Period(years=1)) == datetime(2025, 3, 1, tzinfo=UTC)
    # 31 January + 1 month: kept through the end of February
    assert due_at(datetime(2026, 1, 31, 8, tzinfo=UTC), Period(months=1)) == datetime(2026, 3, 1, tzinfo=UTC)


def test_days_are_counted_in_the_policy_time_zone() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    # 20:00 UTC on 14 January is already 15 January in Seoul
    event = datetime(2026, 1, 14, 20, 0, tzinfo=UTC)
    due = due_at(event, Period(years=1), seoul)
    assert due == datetime(2027, 1, 16, tzinfo=seoul).astimezone(UTC)
    assert due.tzinfo == UTC
    assert due_at(event, Period(years=1)) == datetime(2027, 1, 15, tzinfo=UTC)


def test_due_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2026, 1, 1), Period(days=1))


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.integers(0, 20),
    st.integers(0, 24),
    st.integers(0, 400),
)
def test_due_is_never_before_the_period_has_run(event: datetime, years: int, months: int, days: int) -> None:
    if not (years or months or days):
        return
    period = Period(years=years, months=months, days=days)
    due = due_at(event, period)
    assert due.time() == datetime.min.time()
    assert due > add_period(event, period) >= event + timedelta(days=days)
    assert due - add_period(event, period) <= timedelta(days=1)
