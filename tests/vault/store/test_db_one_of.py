"""vault.store.db.one_of: ``column IN (...)`` on SQLite, ``column = ANY(:array)`` (one parameter) on
PostgreSQL; the same rows either way, in SELECT, UPDATE and DELETE, through a session too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pseudovault.vault.store.db import make_engine, one_of, one_of_param, session_scope

if TYPE_CHECKING:
    from conftest import StoreUrls

N = 5_000

metadata = MetaData()
items = Table(
    "one_of_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("code", String(36), nullable=False, index=True),
    Column("tag", String(36), nullable=True),
    Column("n", Integer, nullable=False),
)


class _Base(DeclarativeBase):
    pass


class Thing(_Base):
    __tablename__ = "one_of_things"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


CODES = [str(uuid.UUID(int=i)) for i in range(N)]  # row i has code CODES[i], tag = code for even i


@pytest.fixture
def engine(store_urls: StoreUrls) -> Iterator[Engine]:
    engine = make_engine(store_urls.data)
    metadata.create_all(engine)
    _Base.metadata.create_all(engine)
    with engine.begin() as connection:
        rows = [{"id": i, "code": CODES[i], "tag": CODES[i] if i % 2 == 0 else None, "n": 0} for i in range(N)]
        connection.execute(insert(items), rows)
    try:
        yield engine
    finally:
        engine.dispose()


def _ids(engine: Engine, condition: object) -> list[int]:
    with engine.connect() as connection:
        return sorted(connection.scalars(select(items.c.id).where(condition)))  # type: ignore[arg-type]


# --- how it renders -------------------------------------------------------------------------------


def test_postgres_gets_one_array_parameter_of_the_column_type() -> None:
    for column, values, array_type in ((items.c.id, list(range(N)), "INTEGER[]"), (items.c.code, CODES, "VARCHAR[]")):
        compiled = select(items.c.id).where(one_of(column, values)).compile(dialect=postgresql.psycopg.dialect())
        sql = " ".join(str(compiled).split())
        assert sql.endswith(f"WHERE one_of_items.{column.name} = ANY (%(param_1)s::{array_type})"), sql
        assert compiled.params == {"param_1": values}


def test_sqlite_gets_in() -> None:
    compiled = select(items.c.id).where(one_of(items.c.id, [4, 5, 6])).compile(
        dialect=sqlite.dialect(), compile_kwargs={"render_postcompile": True}
    )
    assert " ".join(str(compiled).split()).endswith("WHERE one_of_items.id IN (?, ?, ?)")
    assert sorted(compiled.params.values()) == [4, 5, 6]


def test_the_values_stay_out_of_the_cache_key() -> None:
    """One cached compiled statement serves every list: the cache key is the same whatever the
    values (and their number), the values are extracted as parameters."""
    one = select(items.c.id).where(one_of(items.c.code, ["a"]), items.c.n == 1)._generate_cache_key()
    other = select(items.c.id).where(one_of(items.c.code, ["b", "c", "d"]), items.c.n == 2)._generate_cache_key()
    assert one is not None and other is not None
    assert one == other
    assert [p.value for p in one.bindparams] != [p.value for p in other.bindparams]
    different_column = select(items.c.id).where(one_of(items.c.tag, ["a"]), items.c.n == 1)._generate_cache_key()
    assert different_column != one


# --- SELECT ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["int", "str"])
def test_select_empty_one_and_many(engine: Engine, kind: str) -> None:
    column = items.c.id if kind == "int" else items.c.code

    def value(i: int) -> object:
        return i if kind == "int" else CODES[i]

    missing = -1 if kind == "int" else str(uuid.UUID(int=N + 1))
    assert _ids(engine, one_of(column, [])) == []
    assert _ids(engine, one_of(column, [value(7)])) == [7]
    assert _ids(engine, one_of(column, [missing])) == []
    every_other = [value(i) for i in range(0, N, 2)] + [missing]
    assert _ids(engine, one_of(column, every_other)) == list(range(0, N, 2))
    everything = [value(i) for i in reversed(range(N))] + [value(0)]  # order and duplicates do not matter
    assert _ids(engine, one_of(column, everything)) == list(range(N))
    assert _ids(engine, one_of(column, (value(i) for i in (3, 2, 1)))) == [1, 2, 3]  # any iterable


def test_a_longer_value_does_not_match_its_prefix(engine: Engine) -> None:
    """The array is not cast to VARCHAR(36)[], which would cut the value to the column's length."""
    assert _ids(engine, one_of(items.c.code, [CODES[5] + "-and-more"])) == []
    assert _ids(engine, one_of(items.c.code, [CODES[5] + "-and-more", CODES[6]])) == [6]
    assert _ids(engine, items.c.code.in_([CODES[5] + "-and-more"])) == []


def test_the_cached_statement_takes_new_values(engine: Engine) -> None:
    """The same statement shape executed again (from the compiled cache) with other lists."""
    for size in (3, 1, 0, 2, 1000, 3):
        wanted = list(range(size, 2 * size))
        assert _ids(engine, one_of(items.c.id, wanted)) == wanted
        assert _ids(engine, one_of(items.c.code, [CODES[i] for i in wanted])) == wanted


def test_one_statement_built_once_takes_its_list_at_execution(engine: Engine) -> None:
    """one_of_param: the list is a named parameter, so one statement object serves every call,
    beside other named parameters; a call that leaves it out is refused, not run with no list."""
    by_code = select(items.c.id).where(one_of_param(items.c.code, "codes"), items.c.n == bindparam("n"))
    delete_ids = delete(items).where(one_of_param(items.c.id, "ids")).returning(items.c.id)
    with engine.begin() as connection:
        for wanted in ([], [3], [9, 2, 7], list(range(500, 1500))):
            got = connection.scalars(by_code, {"codes": [CODES[i] for i in wanted], "n": 0})
            assert sorted(got) == sorted(wanted)
        assert sorted(connection.scalars(by_code, {"codes": [CODES[1]], "n": 1})) == []
        assert sorted(connection.scalars(delete_ids, {"ids": [1, 2, N + 5]})) == [1, 2]
        with pytest.raises(StatementError):
            connection.execute(by_code, {"n": 0})
    assert _ids(engine, one_of(items.c.id, [1, 2, 3])) == [3]


def test_combined_and_negated(engine: Engine) -> None:
    wanted = list(range(10))
    assert _ids(engine, one_of(items.c.id, wanted) & (items.c.id > 4)) == [5, 6, 7, 8, 9]
    assert _ids(engine, one_of(items.c.id, [1]) | one_of(items.c.code, [CODES[2]])) == [1, 2]
    assert _ids(engine, ~one_of(items.c.id, range(1, N))) == [0]
    assert _ids(engine, ~one_of(items.c.id, [])) == list(range(N))
    # like NOT IN: a NULL tag matches neither the list nor its negation
    tags = [CODES[i] for i in range(0, 20)]
    assert _ids(engine, one_of(items.c.tag, tags)) == list(range(0, 20, 2))
    assert _ids(engine, ~one_of(items.c.tag, tags)) == list(range(20, N, 2))
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).where(~items.c.tag.in_(tags))) == len(range(20, N, 2))


def test_strings_that_need_quoting_in_an_array(engine: Engine) -> None:
    odd = ['a,b', '"q"', "{x}", "back\\slash", "sp ace", "NULL", "", "é☃", "'"]
    with engine.begin() as connection:
        connection.execute(insert(items), [{"id": N + i, "code": s, "tag": None, "n": 0} for i, s in enumerate(odd)])
    for i, s in enumerate(odd):
        assert _ids(engine, one_of(items.c.code, [s])) == [N + i], repr(s)
    assert _ids(engine, one_of(items.c.code, odd)) == [N + i for i in range(len(odd))]


# --- UPDATE and DELETE ----------------------------------------------------------------------------


def test_update(engine: Engine) -> None:
    with engine.begin() as connection:
        assert connection.execute(update(items).where(one_of(items.c.id, [])).values(n=9)).rowcount == 0
        assert connection.execute(update(items).where(one_of(items.c.code, [CODES[3]])).values(n=1)).rowcount == 1
        evens = update(items).where(one_of(items.c.id, range(0, N, 2))).values(n=2)
        assert connection.execute(evens).rowcount == N // 2
    with engine.connect() as connection:
        counts = dict(connection.execute(select(items.c.n, func.count()).group_by(items.c.n)).all())
    assert counts == {0: N // 2 - 1, 1: 1, 2: N // 2}


def test_delete(engine: Engine) -> None:
    with engine.begin() as connection:
        assert connection.execute(delete(items).where(one_of(items.c.code, []))).rowcount == 0
        assert connection.execute(delete(items).where(one_of(items.c.id, [0]))).rowcount == 1
        gone = connection.execute(delete(items).where(one_of(items.c.code, CODES[1 : N - 1]))).rowcount
        assert gone == N - 2
    assert _ids(engine, items.c.id >= 0) == [N - 1]


def test_through_a_session_with_a_mapped_class(engine: Engine) -> None:
    ids = [str(uuid.UUID(int=i)) for i in range(N)]
    with session_scope(engine, write=True) as session:
        session.execute(insert(Thing), [{"id": i, "n": 0} for i in ids])
    with session_scope(engine, write=True) as session:
        session.execute(
            update(Thing).where(one_of(Thing.id, ids[:100])).values(n=1).execution_options(synchronize_session=False)
        )
        session.execute(
            delete(Thing).where(one_of(Thing.id, ids[100:200])), execution_options={"synchronize_session": False}
        )
        session.execute(
            delete(Thing).where(one_of(Thing.id, ids[200:210])), execution_options={"synchronize_session": "fetch"}
        )
        # a loaded object: the default ("auto") cannot evaluate one_of in Python and fetches instead
        kept = session.get(Thing, ids[210])
        assert kept is not None
        session.execute(update(Thing).where(one_of(Thing.id, ids[210:215])).values(n=3))
        assert kept.n == 3
    with session_scope(engine) as session:
        wanted = one_of(Thing.id, ids[50:150] + ids[205:215])
        loaded = list(session.scalars(select(Thing).where(wanted).order_by(Thing.id)))
        assert [(t.id, t.n) for t in loaded] == [(i, 1) for i in ids[50:100]] + [(i, 3) for i in ids[210:215]]
        assert session.scalar(select(func.count()).select_from(Thing)) == N - 110


# --- the plan -------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_plans_use_the_indexes(postgres_urls: StoreUrls) -> None:
    engine = make_engine(postgres_urls.data)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(insert(items), [{"id": i, "code": CODES[i], "tag": None, "n": 0} for i in range(N)])
            connection.exec_driver_sql(
                "INSERT INTO one_of_items (id, code, n)"
                " SELECT g, md5(g::text), 0 FROM generate_series(5000, 19999) AS g"
            )
            connection.exec_driver_sql("ANALYZE one_of_items")

        def plan(stmt: object) -> str:
            compiled = stmt.compile(dialect=engine.dialect)  # type: ignore[attr-defined]
            with engine.connect() as connection:
                rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars().all()
            return "\n".join(rows)

        by_code = plan(select(items.c.id).where(one_of(items.c.code, CODES[10:15])))
        assert "ix_one_of_items_code" in by_code and "Seq Scan" not in by_code, by_code
        by_id = plan(select(items.c.code).where(one_of(items.c.id, [3, 30, 300, 3000])))
        assert "one_of_items_pkey" in by_id and "Seq Scan" not in by_id, by_id
        updating = plan(update(items).where(one_of(items.c.id, [3, 30])).values(n=1))
        assert "one_of_items_pkey" in updating and "Seq Scan" not in updating, updating
    finally:
        engine.dispose()
