"""Fixtures shared by every test module: store URLs for both backends, a vault over them, and
the suite-wide log canary.

Store backends
    ``store_urls`` is parametrized over ``sqlite`` (two files in ``tmp_path``) and ``postgres``
    (marked ``postgres``): two empty databases per test, of its own, created through an
    autocommit connection to the database named in ``PSEUDOVAULT_TEST_POSTGRES_URL``. Dropping a
    database costs ~0.15 s on the server, so a pair is emptied after its test (schema dropped and
    re-created) and reused, and all are dropped ``WITH (FORCE)`` when the session ends. Without
    the variable the postgres tests are skipped, or fail when ``CI`` is set: CI must not silently
    skip them.
    ``sqlite_urls`` and ``postgres_urls`` give one backend only.

Vault
    ``clock`` (a FrozenClock), ``provider`` (a FakeKmsProvider) and ``vault`` (``Vault.create``
    over ``store_urls``, closed afterwards) build on each other; override any of them in a test
    module to change what the others get.

Log canary
    The root logger is at DEBUG for the whole session and one handler sees every record. A record
    holding ``canary.CANARY_PII`` fails the test during which it was logged and, at the end, the
    session. Tests that plant PII use the canary.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from canary import CANARY_PII, record_leaks_canary
from sqlalchemy import Engine

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.vault import Vault

__all__ = ["CANARY_PII", "StoreUrls", "POSTGRES_URL_VARIABLE"]

POSTGRES_URL_VARIABLE = "PSEUDOVAULT_TEST_POSTGRES_URL"


# --- log canary ---------------------------------------------------------------------------


class _CanaryHandler(logging.Handler):
    """Checks every record as it is emitted; keeps only the ones that leak the canary."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen = 0
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen += 1
        where = f"{record.name}:{record.levelname}:{record.pathname}:{record.lineno}"
        try:
            leaked = record_leaks_canary(record)
        except Exception as exc:  # a record that cannot be checked must not pass silently
            self.leaks.append(f"{where} could not be checked ({type(exc).__name__})")
            return
        if leaked:
            self.leaks.append(where)


_canary_handler = _CanaryHandler()


@pytest.fixture(scope="session", autouse=True)
def _log_canary_session() -> Iterator[_CanaryHandler]:
    root = logging.getLogger()
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(_canary_handler)
    try:
        yield _canary_handler
    finally:
        root.removeHandler(_canary_handler)
        root.setLevel(previous_level)
    assert not _canary_handler.leaks, f"canary PII reached log records: {_canary_handler.leaks}"


@pytest.fixture(autouse=True)
def _log_canary(_log_canary_session: _CanaryHandler) -> Iterator[None]:
    before = len(_log_canary_session.leaks)
    yield
    new = _log_canary_session.leaks[before:]
    assert not new, f"canary PII reached log records during this test: {new}"


# --- store URLs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreUrls:
    backend: str  # "sqlite" | "postgres"
    data: str
    keys: str


def _postgres_url_or_skip() -> str:
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if url:
        return url
    message = f"{POSTGRES_URL_VARIABLE} is not set: no PostgreSQL to run the postgres tests against"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


class _PostgresDatabases:
    """Hands each test two empty databases of its own.

    Creating a database is quick, dropping one is not (~0.15 s each, serialised by the server),
    so a pair is created on first need and, when its test ends, emptied for the next test: other
    sessions on it are terminated, then its ``public`` schema is dropped and created again. Every
    database is dropped ``WITH (FORCE)`` when the session ends.
    """

    def __init__(self, url: str) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        self._psycopg = psycopg
        self._url = make_url(url)
        if self._url.drivername not in ("postgresql", "postgresql+psycopg"):
            raise pytest.UsageError(f"{POSTGRES_URL_VARIABLE} must be a postgresql+psycopg:// URL")
        self._admin = psycopg.connect(self._libpq(self._url.database), autocommit=True)
        self._prefix = f"pvt_{secrets.token_hex(4)}"
        self._created: list[str] = []
        self._free: list[tuple[str, str]] = []

    def _libpq(self, database: str | None) -> str:
        return self._url.set(drivername="postgresql", database=database).render_as_string(hide_password=False)

    def _sqlalchemy_url(self, database: str) -> str:
        return self._url.set(drivername="postgresql+psycopg", database=database).render_as_string(hide_password=False)

    def acquire(self) -> tuple[str, str]:
        if self._free:
            return self._free.pop()
        pair = []
        for store in ("data", "keys"):
            name = f"{self._prefix}_{len(self._created) // 2 + 1}_{store}"
            self._admin.execute(f'CREATE DATABASE "{name}"')
            self._created.append(name)
            pair.append(name)
        return pair[0], pair[1]

    def urls(self, pair: tuple[str, str]) -> tuple[str, str]:
        return self._sqlalchemy_url(pair[0]), self._sqlalchemy_url(pair[1])

    def release(self, pair: tuple[str, str]) -> None:
        """Empty both databases and offer them to the next test; on any trouble, retire them."""
        try:
            for name in pair:
                self._admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                with self._psycopg.connect(self._libpq(name), autocommit=True) as connection:
                    connection.execute(
                        "DROP SCHEMA public CASCADE;"
                        " CREATE SCHEMA public AUTHORIZATION pg_database_owner;"
                        " GRANT USAGE ON SCHEMA public TO PUBLIC"
                    )
        except Exception:
            return  # left out of the pool; dropped at the end of the session
        self._free.append(pair)

    def close(self) -> None:
        try:
            for name in self._created:
                self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            self._admin.close()


@pytest.fixture(scope="session")
def _postgres_databases() -> Iterator[_PostgresDatabases]:
    databases = _PostgresDatabases(_postgres_url_or_skip())
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def sqlite_urls(tmp_path: Path) -> StoreUrls:
    return StoreUrls(
        backend="sqlite",
        data=f"sqlite:///{tmp_path / 'data' / 'vault-data.sqlite3'}",
        keys=f"sqlite:///{tmp_path / 'keys' / 'vault-keys.sqlite3'}",
    )


@pytest.fixture
def postgres_urls(_postgres_databases: _PostgresDatabases) -> Iterator[StoreUrls]:
    pair = _postgres_databases.acquire()
    data, keys = _postgres_databases.urls(pair)
    try:
        yield StoreUrls(backend="postgres", data=data, keys=keys)
    finally:
        _postgres_databases.release(pair)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def store_urls(request: pytest.FixtureRequest) -> StoreUrls:
    urls: StoreUrls = request.getfixturevalue(f"{request.param}_urls")
    return urls


# --- fresh SQLite stores from a migrated template ----------------------------------------------

_SQLITE_TEMPLATES: dict[str, Path] = {}


def _sqlite_template(store: Any) -> Path:
    """A SQLite file migrated to head for ``store`` (once per test process), checkpointed so that
    the file alone holds it."""
    import sqlite3
    import tempfile

    from pseudovault.vault.store import migrate

    found = _SQLITE_TEMPLATES.get(store.name)
    if found is None:
        found = Path(tempfile.mkdtemp(prefix="pvt-template-")) / f"{store.name}.sqlite3"
        migrate.upgrade_store(f"sqlite:///{found}", store)
        with contextlib.closing(sqlite3.connect(found)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        _SQLITE_TEMPLATES[store.name] = found
    return found


def _has_no_tables(path: Path) -> bool:
    """A readable SQLite file without a table (anything else is left to the real migration)."""
    import sqlite3

    if not path.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            return bool(connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0)
    except sqlite3.Error:
        return False


@pytest.fixture(autouse=True, scope="session")
def _fresh_sqlite_stores_from_a_template() -> Iterator[None]:
    """Migrating a fresh SQLite store runs every migration (about 0.1 s a store); a test suite
    creates a thousand of them. A store the vault is about to migrate from nothing to head gets
    the bytes of a store this process already migrated the same way, then the real migration
    runs and finds it at head. Only empty SQLite files are touched, and only on the way to head;
    every other migration (PostgreSQL, a revision other than head, an existing store) runs as is."""
    from pseudovault.vault import vault as vault_module
    from pseudovault.vault.store.db import sqlite_path

    real = vault_module.upgrade_store

    def upgrade_store(target: Any, store: Any, revision: str = "head") -> None:
        path = sqlite_path(target) if revision == "head" else None
        if path is not None and _has_no_tables(path):
            template = _sqlite_template(store)
            if isinstance(target, Engine):
                target.dispose()  # no connection of this process keeps the empty file open
            for suffix in ("-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(template, path)  # the file keeps its own mode (0600)
        real(target, store, revision)

    vault_module.upgrade_store = upgrade_store  # type: ignore[assignment]
    try:
        yield
    finally:
        vault_module.upgrade_store = real


# --- vault --------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def provider(clock: FrozenClock) -> FakeKmsProvider:
    return FakeKmsProvider(now=clock.now())


@pytest.fixture
def vault(store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock) -> Iterator[Vault]:
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock) as v:
        yield v


# --- Redis (the shared rate limiter) ---------------------------------------------------------------

#: the Redis of the rate limiter tests (a database of its own; keys under a random prefix)
REDIS_URL = os.environ.get("PSEUDOVAULT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"no Redis at {REDIS_URL} ({type(exc).__name__})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run the Redis limiter tests", pytrace=False)
        pytest.skip(message)
    finally:
        client.close()
    yield REDIS_URL
