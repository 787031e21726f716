"""vault.store.db: engines for both backends, SQLite file permissions and pragmas, units of work."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from sqlalchemy import Engine, make_url, text

from pseudovault.vault.errors import InvalidInputError
from pseudovault.vault.store.db import checkpoint_sqlite, make_engine, redact_url, session_scope, sqlite_path

if TYPE_CHECKING:
    from conftest import StoreUrls


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'store.sqlite3'}")
    yield engine
    engine.dispose()


def test_sqlite_file_and_directory_are_created_private(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "store.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    try:
        assert path.exists(), "the file is created before SQLite opens it"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        for sidecar in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            if sidecar.exists():
                assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600, sidecar.name
    finally:
        engine.dispose()


def test_existing_sqlite_file_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o640)
    os.close(fd)
    os.chmod(path, 0o640)
    make_engine(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_sqlite_pragmas_on_every_connection(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_session_scope_commits_on_success_and_rolls_back_on_error(store_urls: StoreUrls) -> None:
    engine = make_engine(store_urls.data)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        with session_scope(engine, write=True) as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(RuntimeError, match="boom"), session_scope(engine, write=True) as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
            raise RuntimeError("boom")
        with session_scope(engine) as session:
            assert session.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1]
    finally:
        engine.dispose()


def test_a_unit_of_work_reads_one_snapshot_on_sqlite(sqlite_engine: Engine) -> None:
    # the driver's implicit transactions are off: a read-only unit of work is a real transaction
    with sqlite_engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    with session_scope(sqlite_engine) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 1
        with sqlite_engine.begin() as other:
            other.exec_driver_sql("INSERT INTO t VALUES (2)")
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 1
    with session_scope(sqlite_engine) as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar() == 2


def test_a_write_unit_of_work_takes_sqlites_lock_at_begin_and_a_busy_one_fails_as_sqlalchemy_says(
    sqlite_engine: Engine,
) -> None:
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    with sqlite_engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    path = sqlite_path(sqlite_engine)
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        with session_scope(sqlite_engine, write=True) as session:
            session.connection()  # nothing written yet, but the write lock is held from BEGIN on
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # now another writer holds it: a write unit of work waits,
        short = make_engine(str(sqlite_engine.url))  # here 50 ms, then fails with no parameters shown
        event.listen(short, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=50"))
        try:
            with pytest.raises(OperationalError) as info, session_scope(short, write=True) as session:
                session.connection()
            assert "BEGIN IMMEDIATE" in str(info.value) and "locked" in str(info.value)
            with session_scope(short) as session:  # a reader is not held up
                assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0
        finally:
            short.dispose()
        other.execute("ROLLBACK")
    finally:
        other.close()


@pytest.mark.postgres
def test_postgres_uses_psycopg_3(postgres_urls: StoreUrls) -> None:
    bare = postgres_urls.data.replace("postgresql+psycopg://", "postgresql://")
    for url in (postgres_urls.data, bare):
        engine = make_engine(url)
        try:
            assert engine.dialect.driver == "psycopg"
            assert engine.pool.size() == 5
            with engine.connect() as connection:
                assert connection.exec_driver_sql("SELECT 1").scalar() == 1
        finally:
            engine.dispose()


@pytest.mark.postgres
def test_a_pooled_connection_is_kept_while_alive_and_replaced_once_terminated(postgres_urls: StoreUrls) -> None:
    """The pool checks an idle connection at checkout without a round trip: a live one is used
    again, one whose server process was terminated while it waited in the pool is replaced
    before a unit of work gets it, and the work succeeds."""
    engine = make_engine(postgres_urls.data)
    admin = psycopg.connect(make_url(postgres_urls.data).set(drivername="postgresql").render_as_string(hide_password=False),
                            autocommit=True)
    try:
        def pid() -> int:
            with session_scope(engine, write=True) as session:
                return int(session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())

        first = pid()
        assert pid() == first  # the live connection is used again
        # terminated while idle in the pool (waiting until the server process has ended)
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", (first,)).fetchone() == (True,)
        second = pid()  # no error: the pool saw it gone and opened another
        assert second != first
        assert pid() == second
    finally:
        admin.close()
        engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user:hunter2@db/x",
        "postgresql+psycopg2://user:hunter2@db/x",
        "sqlite+aiosqlite:///x.db",
        "::nonsense::",
    ],
)
def test_unsupported_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        make_engine(url)
    assert info.value.field == "url"
    assert "hunter2" not in str(info.value)
    assert "nonsense" not in str(info.value)


def test_redact_url_hides_the_password() -> None:
    redacted = redact_url("postgresql+psycopg://vault:hunter2@db.example:5432/pv")
    assert "hunter2" not in redacted
    assert redacted == "postgresql+psycopg://vault:***@db.example:5432/pv"


def test_sqlite_path_and_in_memory(tmp_path: Path) -> None:
    assert sqlite_path(f"sqlite:///{tmp_path / 'x.sqlite3'}") == tmp_path / "x.sqlite3"
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("postgresql+psycopg://h/db") is None
    engine = make_engine("sqlite://")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with session_scope(engine) as session:  # the same in-memory database for every session
            assert session.execute(text("SELECT count(*) FROM t")).scalar() == 0
        assert checkpoint_sqlite(engine) is False
    finally:
        engine.dispose()


def test_checkpoint_truncates_the_write_ahead_log(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x BLOB)")
        connection.exec_driver_sql("INSERT INTO t VALUES (randomblob(20000))")
    path = sqlite_path(sqlite_engine)
    assert path is not None
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 0
    assert checkpoint_sqlite(sqlite_engine) is True
    assert wal.stat().st_size == 0
