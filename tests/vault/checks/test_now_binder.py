"""A check binds ``now`` for ``records.expires_at`` with its own fast form on SQLite: exactly the
text SQLAlchemy's processor gives, or the expiry comparison (a string comparison there) would
move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine

from pseudovault.vault.checks.service import now_binder
from pseudovault.vault.records.repository import expires_at_type

_OFFSETS = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))
)
_TIMES = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.one_of(st.just(UTC), _OFFSETS)
)


def _processor(engine_url: str) -> object:
    engine = create_engine(engine_url)
    return expires_at_type().dialect_impl(engine.dialect).bind_processor(engine.dialect)


@given(_TIMES)
def test_the_sqlite_fast_form_is_sqlalchemys_text(now: datetime) -> None:
    engine = create_engine("sqlite://")
    fast = now_binder(expires_at_type(), engine)
    processor = _processor("sqlite://")
    assert fast is not processor  # the fast form is in use (else the figure it buys is gone)
    assert fast is not None and callable(processor)
    assert fast(now) == processor(now)


def test_a_naive_time_is_refused_as_the_column_type_refuses_it() -> None:
    import pytest

    fast = now_binder(expires_at_type(), create_engine("sqlite://"))
    processor = _processor("sqlite://")
    assert fast is not None and callable(processor)
    for binder in (fast, processor):
        with pytest.raises(ValueError, match="timezone-aware"):
            binder(datetime(2026, 12, 4, 13, 5))


def test_a_storage_format_it_does_not_reproduce_falls_back_to_the_processor() -> None:
    from sqlalchemy.dialects import sqlite

    engine = create_engine("sqlite://")
    odd = sqlite.DATETIME(storage_format="%(year)04d/%(month)02d/%(day)02d %(hour)02d:%(minute)02d")
    binder = now_binder(odd, engine)
    assert binder is not None
    assert binder(datetime(2026, 12, 4, 13, 5, tzinfo=UTC).replace(tzinfo=None)) == "2026/12/04 13:05"


def test_postgresql_binds_the_aware_utc_time() -> None:
    engine = create_engine("postgresql+psycopg://u@127.0.0.1/x")  # never connected
    binder = now_binder(expires_at_type(), engine)
    assert binder is not None
    now = datetime(2026, 12, 4, 22, 5, 1, 7, tzinfo=timezone(timedelta(hours=9)))
    bound = binder(now)
    assert isinstance(bound, datetime) and bound.tzinfo is not None and bound == now
