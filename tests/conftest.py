"""Fixtures shared by every test module: store URLs for both backends, a vault over them, and
the suite-wide log canary.

Store backends
    ``store_urls`` is parametrized over ``sqlite`` (two files in ``tmp_path``) and ``postgres``
    (marked ``postgres``): two databases per test, of its own, created through an autocommit
    connection to the database named in ``PSEUDOVAULT_TEST_POSTGRES_URL``. Dropping a database
    costs ~0.15 s on the server, so a pair is emptied after its test and reused, and all are
    dropped ``WITH (FORCE)`` when the session ends. A test gets empty databases, except one that
    builds the ``vault`` fixture: it may get a pair that is migrated to head and holds no row
    (see :class:`_PostgresDatabases`). Without
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
import gc
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


@pytest.fixture(autouse=True)
def _unfreeze_after_test() -> Iterator[None]:
    """The API server and the CLI freeze what their startup built (gc.freeze): once per process
    when deployed, but once per test here, where what each froze (the test's vault and app, and any
    garbage not collected yet) would stay out of the collector's reach for the rest of the run."""
    yield
    gc.unfreeze()


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
    """Hands each test two databases of its own (data, keys).

    Creating a database is quick, dropping one is not (~0.15 s each, serialised by the server),
    so a pair is created on first need and, when its test ends, emptied for the next test: other
    sessions on it are terminated, then its ``public`` schema is dropped and created again. Every
    database is dropped ``WITH (FORCE)`` when the session ends.

    Migrating a pair to head takes ~0.3 s, and most PostgreSQL tests build a vault. So a pair
    whose schema is, object for object, the one the migrations make (its fingerprint equal to
    that of a pair this process migrated for reference, no grant added, nothing else in
    ``public``) has its rows deleted instead (its version rows kept) and goes to the tests that
    build the ``vault`` fixture, whose ``Vault.create`` then finds its stores at head. Any other
    pair is emptied. A test that does not build ``vault`` always gets empty databases.
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
        self._migrated: list[tuple[str, str]] = []  # at head, no row
        self._reference: tuple[str, str] | None = None  # the schema fingerprints of a fresh migration

    def _libpq(self, database: str | None) -> str:
        return self._url.set(drivername="postgresql", database=database).render_as_string(hide_password=False)

    def _sqlalchemy_url(self, database: str) -> str:
        return self._url.set(drivername="postgresql+psycopg", database=database).render_as_string(hide_password=False)

    def acquire(self, *, migrated: bool = False) -> tuple[str, str]:
        """An empty pair; with ``migrated``, a pair at head with no row when one is free."""
        if migrated and self._migrated:
            return self._migrated.pop()
        if self._free:
            return self._free.pop()
        return self._create()

    def _create(self) -> tuple[str, str]:
        pair = []
        for store in ("data", "keys"):
            name = f"{self._prefix}_{len(self._created) // 2 + 1}_{store}"
            self._admin.execute(f'CREATE DATABASE "{name}"')
            self._created.append(name)
            pair.append(name)
        return pair[0], pair[1]

    @staticmethod
    def _fingerprint(connection: Any, version_table: str) -> str:
        """A digest of everything in the ``public`` schema that a migration makes or a test could
        change: relations and their grants, columns, constraints, indexes, triggers, functions,
        sequences, and the version row."""
        row = connection.execute(
            "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM ("
            " SELECT 'r:' || c.relname || ':' || c.relkind::text || ':' || coalesce(c.relacl::text, '')"
            "  FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"
            " UNION ALL SELECT 'a:' || c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod)"
            "  || ':' || a.attnotnull::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')"
            "  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            "  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
            "  WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped"
            " UNION ALL SELECT 'k:' || conrelid::regclass::text || ':' || conname || ':' || pg_get_constraintdef(oid)"
            "  FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
            " UNION ALL SELECT 'i:' || indexdef FROM pg_indexes WHERE schemaname = 'public'"
            " UNION ALL SELECT 't:' || tgrelid::regclass::text || ':' || tgname || ':' || tgenabled::text || ':'"
            "  || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"
            "  AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)"
            " UNION ALL SELECT 'f:' || p.oid::regprocedure::text || ':' || md5(p.prosrc) || ':' || coalesce(p.proacl::text, '')"
            "  FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace"
            " UNION ALL SELECT 'e:' || extname FROM pg_extension WHERE extnamespace = 'public'::regnamespace"
            f" UNION ALL SELECT 'v:' || version_num FROM {version_table}"
            ") s (x)"
        ).fetchone()
        return str(row[0])

    def _references(self) -> tuple[str, str]:
        """The fingerprints of a pair freshly migrated to head (once per test process)."""
        if self._reference is None:
            from pseudovault.vault.store import migrate

            self._reference = ("", "")  # matches no pair: if this fails, every pair is emptied
            pair = self._create()
            fingerprints = []
            for name, store in zip(pair, (migrate.DATA, migrate.KEYS), strict=True):
                migrate.upgrade_store(self._sqlalchemy_url(name), store)
                with self._psycopg.connect(self._libpq(name), autocommit=True) as connection:
                    fingerprints.append(self._fingerprint(connection, store.version_table))
            self._reference = (fingerprints[0], fingerprints[1])
        return self._reference

    def _reset_if_at_head(self, pair: tuple[str, str]) -> bool:
        """Delete every row but the version's when both databases hold exactly the schema a fresh
        migration makes; False (nothing changed) otherwise."""
        from pseudovault.vault.store import migrate

        references = self._references()
        stores = (migrate.DATA, migrate.KEYS)
        connections = [self._psycopg.connect(self._libpq(name), autocommit=True) for name in pair]
        try:
            for connection, store, reference in zip(connections, stores, references, strict=True):
                try:
                    if self._fingerprint(connection, store.version_table) != reference:
                        return False
                except self._psycopg.Error:  # no version table: not migrated
                    return False
            for connection, store in zip(connections, stores, strict=True):
                tables = [
                    name for (name,) in connection.execute(
                        "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' AND tablename <> %s",
                        (store.version_table,),
                    )
                ]
                sequences = [name for (name,) in connection.execute(
                    "SELECT quote_ident(sequencename) FROM pg_sequences WHERE schemaname = 'public'"
                )]
                with connection.transaction():
                    # neither foreign keys nor triggers (the audit log's guards) fire for these
                    connection.execute("SET LOCAL session_replication_role = replica")
                    connection.execute(
                        "".join(f"DELETE FROM {table};" for table in tables)
                        + "".join(f"ALTER SEQUENCE {sequence} RESTART;" for sequence in sequences)
                    )
            return True
        finally:
            for connection in connections:
                connection.close()

    def urls(self, pair: tuple[str, str]) -> tuple[str, str]:
        return self._sqlalchemy_url(pair[0]), self._sqlalchemy_url(pair[1])

    def release(self, pair: tuple[str, str]) -> None:
        """Offer both databases to the next test, rows deleted when they are at head (see the
        class docstring), emptied otherwise; on any trouble, retire them."""
        try:
            for name in pair:
                self._admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
            if self._reset_if_at_head(pair):
                self._migrated.append(pair)
                return
            for name in pair:
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
def postgres_urls(_postgres_databases: _PostgresDatabases, request: pytest.FixtureRequest) -> Iterator[StoreUrls]:
    # a test that builds the vault fixture may start on stores at head (Vault.create migrates
    # nothing then); every other test gets empty databases
    pair = _postgres_databases.acquire(migrated="vault" in request.fixturenames)
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
