"""vault.store.db.insert_rows: a batch of rows in one INSERT ... SELECT FROM unnest(...) on PostgreSQL,
the ORM's executemany elsewhere; the same rows stored either way."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import DateTime, Engine, Integer, LargeBinary, String, Table, event, func, insert, select
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pseudovault.vault.store.base import UtcDateTime
from pseudovault.vault.store.db import insert_rows, make_engine, session_scope

if TYPE_CHECKING:
    from conftest import StoreUrls

N = 5_000
T = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))


class _Base(DeclarativeBase):
    pass


class Row(_Base):
    __tablename__ = "insert_rows_rows"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    blob: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    n: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Stamped(_Base):
    __tablename__ = "insert_rows_stamped"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # SQLite stores the wall time as given
    utc: Mapped[datetime] = mapped_column(UtcDateTime())


class Defaulted(_Base):
    __tablename__ = "insert_rows_defaulted"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=7)


@pytest.fixture
def engine(store_urls: StoreUrls) -> Iterator[Engine]:
    engine = make_engine(store_urls.data)
    _Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "id": str(uuid.UUID(int=start + i)),
            "at": T + timedelta(seconds=i),
            "blob": bytes([i % 256]) * (i % 5) if i % 3 else None,
            "n": start + i,
            "note": None if i % 2 else f"{i} \"q\" {{a,b}} \\ é",
        }
        for i in range(count)
    ]


def _stored(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(select(Row.__table__).order_by(Row.n))]


def _statements(engine: Engine) -> list[tuple[str, bool]]:
    seen: list[tuple[str, bool]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            seen.append((statement, executemany))

    return seen


@pytest.mark.parametrize("target", ["mapped class", "table"])
def test_inserts_every_row_as_given(engine: Engine, store_urls: StoreUrls, target: str) -> None:
    rows = _rows(N)
    statements = _statements(engine)
    with session_scope(engine, write=True) as session:
        insert_rows(session, Row if target == "mapped class" else Row.__table__, rows)
    stored = _stored(engine)
    assert len(stored) == N
    for want, got in zip(rows, stored, strict=True):
        assert got == {**want, "at": want["at"].astimezone(UTC)}
        assert got["at"].tzinfo is not None
    if store_urls.backend == "postgres":
        assert len(statements) == 1 and "unnest(" in statements[0][0] and not statements[0][1]
    else:
        assert len(statements) == 1 and statements[0][1]  # one executemany


def test_nothing_to_insert(engine: Engine) -> None:
    statements = _statements(engine)
    with session_scope(engine, write=True) as session:
        insert_rows(session, Row, [])
    assert statements == [] and _stored(engine) == []


def test_one_row_then_more_through_the_cached_statement(engine: Engine) -> None:
    with session_scope(engine, write=True) as session:
        insert_rows(session, Row, _rows(1))
    for start, count in ((10, 3), (20, 1), (30, 1000)):
        with session_scope(engine, write=True) as session:
            insert_rows(session, Row, _rows(count, start))
    assert [r["n"] for r in _stored(engine)] == [0, 10, 11, 12, 20, *range(30, 1030)]


def test_a_single_row_is_a_plain_insert_stored_alike(engine: Engine, store_urls: StoreUrls) -> None:
    statements = _statements(engine)
    for i, row in enumerate(_rows(4)):  # every shape of the rows: NULLs, bytes, quotes
        with session_scope(engine, write=True) as session:
            insert_rows(session, Row, [row])
        assert _stored(engine)[i] == {**row, "at": row["at"].astimezone(UTC)}
    if store_urls.backend == "postgres":
        assert all("VALUES" in sql and "unnest(" not in sql and not many for sql, many in statements)
    naive = {**_rows(1, start=9)[0], "at": datetime(2026, 3, 1, 12, 30)}
    with pytest.raises(StatementError, match="timezone-aware"), session_scope(engine, write=True) as session:
        insert_rows(session, Row, [naive])
    with pytest.raises(IntegrityError), session_scope(engine, write=True) as session:
        insert_rows(session, Row, _rows(1))
    assert len(_stored(engine)) == 4


def test_rows_sharing_an_instant_are_each_stored_as_given(engine: Engine) -> None:
    """A batch processes each distinct timestamp once: equal instants in other zones (equal to
    Python, not the same text to SQLite's DateTime) are still each stored as a row of its own is."""
    seoul = timezone(timedelta(hours=9))
    instant = datetime(2026, 3, 1, 3, tzinfo=UTC)
    values = [instant, instant.astimezone(seoul), instant, instant + timedelta(microseconds=1), instant.astimezone(seoul)] * 3
    with session_scope(engine, write=True) as session:
        insert_rows(session, Stamped, [{"id": i, "at": v, "utc": v} for i, v in enumerate(values)])
    for i, v in enumerate(values):  # one row a statement: nothing shared
        with session_scope(engine, write=True) as session:
            insert_rows(session, Stamped, [{"id": 100 + i, "at": v, "utc": v}])
    with engine.connect() as connection:
        stored = [tuple(r) for r in connection.exec_driver_sql("SELECT id, at, utc FROM insert_rows_stamped ORDER BY id")]
    batch, single = stored[: len(values)], stored[len(values) :]
    assert [row[1:] for row in batch] == [row[1:] for row in single]
    assert len({row[1] for row in batch}) == 3 if engine.dialect.name == "sqlite" else 2  # the zones kept apart


def test_a_duplicate_fails_the_whole_batch(engine: Engine) -> None:
    with session_scope(engine, write=True) as session:
        insert_rows(session, Row, _rows(3))
    with pytest.raises(IntegrityError), session_scope(engine, write=True) as session:
        insert_rows(session, Row, _rows(10, start=2))
    assert [r["n"] for r in _stored(engine)] == [0, 1, 2]


def test_bind_processing_applies_to_every_value(engine: Engine) -> None:
    rows = _rows(5)
    rows[3]["at"] = datetime(2026, 3, 1, 12, 30)  # naive: UtcDateTime refuses it
    with pytest.raises(StatementError, match="timezone-aware"), session_scope(engine, write=True) as session:
        insert_rows(session, Row, rows)
    assert _stored(engine) == []


def test_a_value_too_long_for_its_column_is_refused_as_by_a_plain_insert(engine: Engine, store_urls: StoreUrls) -> None:
    """Not cut to the column's length by a cast to VARCHAR(40)[]: PostgreSQL refuses it, as it
    refuses it in a plain INSERT; SQLite, which has no lengths, stores it whole either way."""
    long_note = "x" * 41
    plain = (lambda session, rows: session.execute(insert(Row), rows), 0)
    batched = (lambda session, rows: insert_rows(session, Row, rows), 10)
    for insert_them, start in (plain, batched):
        rows = _rows(2, start)
        rows[0]["note"] = long_note
        if store_urls.backend == "postgres":
            with pytest.raises(DataError), session_scope(engine, write=True) as session:
                insert_them(session, rows)
        else:
            with session_scope(engine, write=True) as session:
                insert_them(session, rows)
    if store_urls.backend == "postgres":
        assert _stored(engine) == []
    else:
        assert [r["note"] for r in _stored(engine) if r["n"] in (0, 10)] == [long_note, long_note]


def test_refuses_rows_that_would_not_insert_alike(engine: Engine) -> None:
    with session_scope(engine, write=True) as session:
        ragged = _rows(3)
        del ragged[1]["note"]
        with pytest.raises(ValueError, match="same columns"):
            insert_rows(session, Row, ragged)
        renamed = _rows(2)
        renamed[1]["other"] = renamed[1].pop("note")
        with pytest.raises(ValueError, match="same columns"):
            insert_rows(session, Row, renamed)
        with pytest.raises(ValueError, match="no column"):
            insert_rows(session, Row, [{**_rows(1)[0], "nope": 1}])
        with pytest.raises(ValueError, match="Python-side defaults"):
            insert_rows(session, Defaulted, [{"id": 1}])
        insert_rows(session, Defaulted, [{"id": 1, "n": 2}])
        assert session.scalar(select(func.sum(Defaulted.n))) == 2
    assert _stored(engine) == []
    assert isinstance(Row.__table__, Table)
