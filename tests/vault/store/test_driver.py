"""vault.store.driver: statements on the driver's cursor store and read what SQLAlchemy's execute
would, fail with SQLAlchemy's errors (parameters hidden), invalidate a dead connection, and step
aside for statement events; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    LargeBinary,
    String,
    and_,
    bindparam,
    event,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pseudovault.vault.store.base import UtcDateTime
from pseudovault.vault.store.db import make_engine, one_of_param, session_scope
from pseudovault.vault.store.driver import MAX_SHAPES, DriverStatement, executemany

if TYPE_CHECKING:
    from conftest import StoreUrls

T = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=9)))


class _Base(DeclarativeBase):
    pass


class Item(_Base):
    __tablename__ = "driver_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    blob: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    n: Mapped[int] = mapped_column(Integer)


class Defaulted(_Base):
    __tablename__ = "driver_defaulted"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=7)


_INSERT = DriverStatement(insert(Item).values(id=bindparam("id"), at=bindparam("at"), blob=bindparam("blob"), n=bindparam("n")))
_READ = DriverStatement(select(Item.id, Item.at, Item.blob, Item.n).where(Item.n >= bindparam("least")).order_by(Item.n))
_BUMP = DriverStatement(update(Item).where(Item.id == bindparam("key")).values(n=bindparam("to")).returning(Item.id, Item.at))
_SET_N = DriverStatement(update(Item).where(Item.id == bindparam("key")).values(n=bindparam("to")))


@pytest.fixture
def engine(store_urls: StoreUrls) -> Iterator[Engine]:
    engine = make_engine(store_urls.data)
    _Base.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _item(i: int, **changes: Any) -> dict[str, Any]:
    return {"id": f"item-{i}", "at": T + timedelta(seconds=i), "blob": bytes([i, 0, 39]) if i % 2 else None, "n": i, **changes}


class _Watch:
    """Statement events listened to on ``engine`` while inside."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[str] = []

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(statement)

    def __enter__(self) -> _Watch:
        event.listen(self.engine, "after_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "after_cursor_execute", self._record)


def _sqlalchemy_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any statement that goes through SQLAlchemy's execute (the driver path takes none)."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("went through Connection.execute")

    monkeypatch.setattr(Connection, "execute", refuse)
    monkeypatch.setattr(Connection, "exec_driver_sql", refuse)


def test_the_driver_path_stores_and_reads_what_sqlalchemy_does(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with _Watch(engine) as watch, session_scope(engine, write=True) as session:  # watched: through SQLAlchemy
        for i in range(4):
            _INSERT.rows(session.connection(), _item(i))
        through_sqlalchemy = _READ.rows(session.connection(), {"least": 0})
    assert len([s for s in watch.seen if "INSERT" in s]) == 4
    with monkeypatch.context() as patched:
        _sqlalchemy_forbidden(patched)
        with session_scope(engine, write=True) as session:
            for i in range(10, 14):
                _INSERT.rows(session.connection(), _item(i))
            through_driver = _READ.rows(session.connection(), {"least": 0})
            bumped = _BUMP.first(session.connection(), {"key": "item-10", "to": 100})
            missing = _BUMP.first(session.connection(), {"key": "nothing", "to": 1})
            _SET_N.run_many(session.connection(), [{"key": "item-11", "to": 101}, {"key": "item-12", "to": 102}])
            _SET_N.run_many(session.connection(), [])
            counted = [_SET_N.run(session.connection(), {"key": key, "to": 103}) for key in ("item-13", "nothing")]
    with _Watch(engine) as watch, session_scope(engine, write=True) as session:
        counted += [_SET_N.run(session.connection(), {"key": key, "to": 13}) for key in ("item-13", "nothing")]
    assert counted == [1, 0, 1, 0] and len(watch.seen) == 2
    assert bumped == ("item-10", T.astimezone(UTC) + timedelta(seconds=10)) and missing is None
    # every value as SQLAlchemy's own select reads it: aware UTC timestamps, bytes, NULLs
    with session_scope(engine) as session:
        stored = [tuple(row) for row in session.execute(select(Item.id, Item.at, Item.blob, Item.n).order_by(Item.n))]
    expected = [(r["id"], r["at"].astimezone(UTC), r["blob"], r["n"]) for r in map(_item, [0, 1, 2, 3, 13])]
    expected += [("item-10", T.astimezone(UTC) + timedelta(seconds=10), None, 100)]
    expected += [("item-11", T.astimezone(UTC) + timedelta(seconds=11), bytes([11, 0, 39]), 101)]
    expected += [("item-12", T.astimezone(UTC) + timedelta(seconds=12), None, 102)]
    assert stored == expected
    assert through_sqlalchemy == [tuple(v) for v in expected[:4]]
    assert [tuple(r) for r in through_driver] == through_sqlalchemy + [
        (r["id"], r["at"].astimezone(UTC), r["blob"], r["n"]) for r in map(_item, range(10, 14))
    ]
    assert all(isinstance(row[1], datetime) and row[1].tzinfo is not None for row in through_driver)


def test_driver_errors_are_sqlalchemys_with_the_parameters_hidden(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    sql, at = _plain_insert(engine)
    with monkeypatch.context() as patched:
        _sqlalchemy_forbidden(patched)
        with session_scope(engine, write=True) as session:
            _INSERT.rows(session.connection(), _item(1, blob=b"first"))
        with pytest.raises(IntegrityError) as duplicate, session_scope(engine, write=True) as session:
            _INSERT.rows(session.connection(), _item(2, n=2))  # rolled back with the unit of work
            _INSERT.rows(session.connection(), _item(1, blob=b"secret-ciphertext"))
        assert "secret-ciphertext" not in str(duplicate.value) and "INSERT INTO driver_items" in str(duplicate.value)
        naive = _item(3, at=datetime(2026, 3, 1, 12, 30))
        with pytest.raises(StatementError, match="timezone-aware"), session_scope(engine, write=True) as session:
            _INSERT.rows(session.connection(), naive)
        with pytest.raises(IntegrityError), session_scope(engine, write=True) as session:
            executemany(session.connection(), sql, [("item-9", 9, at), ("item-1", 1, at)])
    with session_scope(engine) as session:
        assert session.scalars(select(Item.id)).all() == ["item-1"]


def _plain_insert(engine: Engine) -> tuple[str, Any]:
    """An INSERT of (id, n, at) in the driver's own SQL, and a value of ``at`` in the driver's form."""
    placeholders = "?, ?, ?" if engine.dialect.paramstyle == "qmark" else "%s, %s, %s"
    at = "2026-03-01 03:30:00.000000" if engine.dialect.name == "sqlite" else T
    return f"INSERT INTO driver_items (id, n, at) VALUES ({placeholders})", at


def test_executemany_runs_the_drivers_sql_watched_or_not(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    sql, at = _plain_insert(engine)
    with _Watch(engine) as watch, session_scope(engine, write=True) as session:
        executemany(session.connection(), sql, [("w-1", 1, at), ("w-2", 2, at)])
        executemany(session.connection(), sql, [])
    assert watch.seen == [sql]
    with monkeypatch.context() as patched:
        _sqlalchemy_forbidden(patched)
        with session_scope(engine, write=True) as session:
            executemany(session.connection(), sql, [("d-3", 3, at)])
    with session_scope(engine) as session:
        assert session.scalars(select(Item.id).order_by(Item.n)).all() == ["w-1", "w-2", "d-3"]


#: lists as SQLite expands them (IN (?, ...)) and PostgreSQL takes them (= ANY(array)): the id
#: list twice, a list of timestamps (each value bind-processed), a constant of the statement
_LISTED = DriverStatement(
    select(Item.id, Item.at, Item.n)
    .where(
        or_(
            one_of_param(Item.id, "ids"),
            and_(Item.n >= 100, one_of_param(Item.id, "ids")),
            and_(one_of_param(Item.at, "ats"), Item.blob.is_(None), Item.n != literal(-1)),
        )
    )
    .order_by(Item.n)
)


def test_lists_are_expanded_as_sqlalchemy_expands_them(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with session_scope(engine, write=True) as session:
        for i in range(12):
            _INSERT.rows(session.connection(), _item(i))
    shapes = [([], []), ([], [T]), (["item-3"], []), (["item-1", "item-2", "nothing", "item-2"], [T + timedelta(seconds=4)])]
    # more list lengths than a statement keeps: the ones past the bound are expanded per call
    shapes += [([f"item-{j}" for j in range(n)], [T + timedelta(seconds=n), T.astimezone(UTC)]) for n in range(1, MAX_SHAPES + 6)]
    with session_scope(engine) as session:
        expected = [
            [tuple(row) for row in session.execute(_LISTED.statement, {"ids": ids, "ats": ats})] for ids, ats in shapes
        ]
    assert expected[1] == [("item-0", T.astimezone(UTC), 0)] and expected[2][0][0] == "item-3"
    assert [r[0] for r in expected[3]] == ["item-1", "item-2", "item-4"]
    with monkeypatch.context() as patched:
        _sqlalchemy_forbidden(patched)
        with session_scope(engine) as session:
            got = [_LISTED.rows(session.connection(), {"ids": ids, "ats": ats}) for ids, ats in shapes]
            again = _LISTED.rows(session.connection(), {"ids": tuple(shapes[3][0]), "ats": shapes[3][1]})
            if engine.dialect.name == "sqlite":  # expanded: a string is not taken for a list of characters
                with pytest.raises(ValueError, match="list or a tuple"):
                    _LISTED.rows(session.connection(), {"ids": "item-1", "ats": []})
            with pytest.raises(ValueError, match="missing"):
                _LISTED.rows(session.connection(), {"ids": ["item-1"]})
    assert got == expected and again == expected[3]
    expander = _LISTED._for(engine.dialect).expander
    if engine.dialect.name == "sqlite":  # the expanded forms kept stay bounded
        assert expander is not None and len(expander._shapes) == MAX_SHAPES
    else:  # one array parameter each: nothing to expand
        assert expander is None


def test_statements_it_cannot_run_alike_are_refused(engine: Engine) -> None:
    literal_list = DriverStatement(select(Item.id).where(Item.id.in_(["a", "b"])))
    defaulted = DriverStatement(insert(Defaulted).values(id=bindparam("id")))
    with session_scope(engine, write=True) as session:
        if engine.dialect.name == "sqlite":  # a list in the statement itself (PostgreSQL takes it as one array)
            with pytest.raises(ValueError, match="named parameters"):
                literal_list.rows(session.connection(), {})
        with pytest.raises(ValueError, match="defaults"):
            defaulted.rows(session.connection(), {"id": 1})
        with pytest.raises(ValueError, match="returns rows"):
            _BUMP.run_many(session.connection(), [{"key": "a", "to": 1}])
        with pytest.raises(ValueError, match="missing"):
            _SET_N.rows(session.connection(), {"key": "a"})


@pytest.mark.postgres
def test_a_dead_connection_is_invalidated_and_the_next_unit_of_work_has_a_new_one(postgres_urls: StoreUrls) -> None:
    engine = make_engine(postgres_urls.data)
    _Base.metadata.create_all(engine)
    try:
        with session_scope(engine, write=True) as session:
            connection = session.connection()
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(OperationalError) as lost:
                _INSERT.rows(connection, _item(1))
            assert lost.value.connection_invalidated
            assert connection.invalidated
            session.rollback()
        with session_scope(engine, write=True) as session:
            _INSERT.rows(session.connection(), _item(2))
        with session_scope(engine) as session:
            assert session.scalars(select(Item.id)).all() == ["item-2"]
    finally:
        engine.dispose()
