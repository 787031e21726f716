"""A check binds ``now`` for ``records.expires_at`` with its own fast form on SQLite: exactly the
text SQLAlchemy's processor gives, or the expiry comparison (a string comparison there) would
move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine

from pseudovault.vault.checks.service import SystemTimeText, _sqlite_now, now_binder
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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SYSTEM_TEXT = SystemTimeText()  # one for every example: its second's text is reused or remade


@given(
    st.integers(min_value=0, max_value=(datetime(9998, 12, 31, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1) * 1000),
    st.integers(min_value=0, max_value=2_000_000_000),
)
def test_the_system_clocks_text_is_the_fast_forms(ns: int, later: int) -> None:
    for at in (ns, ns + later, ns):  # the same second again, the next ones, back
        expected = _sqlite_now(_EPOCH + timedelta(microseconds=at // 1000))
        assert _SYSTEM_TEXT.of(at) == expected


def test_a_check_on_sqlite_reads_the_system_clock_as_text(tmp_path: Path) -> None:
    from pseudovault.keys.testing import FakeKmsProvider
    from pseudovault.vault.clock import FrozenClock, SystemClock
    from pseudovault.vault.vault import Vault

    data, keys = f"sqlite:///{tmp_path / 'data.db'}", f"sqlite:///{tmp_path / 'keys.db'}"
    provider = FakeKmsProvider()
    with Vault.create(provider, data, keys, clock=SystemClock()) as vault:
        before = _sqlite_now(datetime.now(UTC))
        bound = vault.checks._now()
        after = _sqlite_now(datetime.now(UTC))
        assert vault.checks._system_text is not None and before <= bound <= after
    frozen = FrozenClock(datetime(2026, 12, 6, 7, 30, tzinfo=UTC))
    with Vault.open(provider, data, keys, clock=frozen) as vault:  # a clock of its own: it is asked
        assert vault.checks._system_text is None and vault.checks._now() == "2026-12-06 07:30:00.000000"
