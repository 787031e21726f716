"""Schema migrations of the two stores, run programmatically (no ``alembic.ini`` needed).

Each store has its own Alembic script directory inside the package (``vault/store/migrations/data``
and ``vault/store/migrations/keys``) and its own version table (``alembic_version_data``,
``alembic_version_keys``), so both stores may share one PostgreSQL database if an operator wants
(their table names do not overlap, and each store's migrations look at its own tables only).

The Alembic ``Config`` is built in code; the connection to migrate is handed to ``env.py`` through
``config.attributes["connection"]``. On PostgreSQL an upgrade holds a transaction-scoped advisory
lock, and on SQLite it begins with ``BEGIN IMMEDIATE``, so two processes starting at once do not
both try to create the tables.

To write a new migration for a store, upgrade a scratch database to head, then run
``alembic.command.revision(alembic_config(store, connection), message, autogenerate=True)``
with a connection to it, and review the generated file by hand.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, text

from pseudovault.vault.store.base import DataBase, KeysBase
from pseudovault.vault.store.db import make_engine

__all__ = [
    "StoreSchema",
    "DATA",
    "KEYS",
    "STORES",
    "alembic_config",
    "upgrade",
    "upgrade_store",
    "current_revisions",
    "current_revision",
    "head_revisions",
    "is_at_head",
    "run_env",
]

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class StoreSchema:
    """What Alembic needs to know about one store."""

    name: str
    metadata: MetaData
    version_table: str
    script_location: Path
    #: tables the migrations create on one engine only, outside the models, by dialect name: a
    #: trigger's own bookkeeping, written by the database itself (the SQLite identifier feed)
    engine_tables: tuple[tuple[str, frozenset[str]], ...] = ()

    def tables_on(self, dialect: str) -> frozenset[str]:
        """The engine-only tables of this store on ``dialect``."""
        return next((tables for name, tables in self.engine_tables if name == dialect), frozenset())

    def __repr__(self) -> str:
        return f"StoreSchema({self.name!r})"


DATA = StoreSchema(
    "data",
    DataBase.metadata,
    "alembic_version_data",
    _MIGRATIONS / "data",
    (("sqlite", frozenset({"identifier_feed", "identifier_feed_state"})),),  # data migration 0017
)
KEYS = StoreSchema("keys", KeysBase.metadata, "alembic_version_keys", _MIGRATIONS / "keys")
STORES: dict[str, StoreSchema] = {DATA.name: DATA, KEYS.name: KEYS}


def alembic_config(store: StoreSchema, connection: Connection | None = None) -> Config:
    """An Alembic configuration for ``store``; ``env.py`` migrates ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(store.script_location))
    config.attributes["store"] = store
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def _engine(target: Engine | str) -> Iterator[Engine]:
    if isinstance(target, Engine):
        yield target
        return
    engine = make_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()


def _advisory_lock_key(store: StoreSchema) -> int:
    return zlib.crc32(f"pseudovault:migrate:{store.name}".encode())


def upgrade_store(target: Engine | str, store: StoreSchema, revision: str = "head") -> None:
    """Migrate one store to ``revision`` in one transaction. A store already there is untouched."""
    with _engine(target) as engine:
        begin_engine = engine.execution_options(pseudovault_write=True)
        with begin_engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _advisory_lock_key(store)})
            command.upgrade(alembic_config(store, connection), revision)


def upgrade(data_url: Engine | str, keys_url: Engine | str) -> None:
    """Migrate both stores to head: the key store first, then the data store."""
    upgrade_store(keys_url, KEYS)
    upgrade_store(data_url, DATA)


def head_revisions(store: StoreSchema) -> tuple[str, ...]:
    """The head revision(s) of ``store``'s migrations, sorted."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config(store)).get_heads()))


def current_revision(target: Engine | str, store: StoreSchema) -> tuple[str, ...]:
    """The revision(s) ``store`` is at, sorted; empty when it has never been migrated."""
    with _engine(target) as engine, engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": store.version_table})
        return tuple(sorted(context.get_current_heads()))


def current_revisions(data_url: Engine | str, keys_url: Engine | str) -> dict[str, tuple[str, ...]]:
    """``{"data": (...), "keys": (...)}``: the revision(s) each store is at."""
    return {DATA.name: current_revision(data_url, DATA), KEYS.name: current_revision(keys_url, KEYS)}


def _include_name(store: StoreSchema) -> Callable[[str | None, str, object], bool]:
    """Autogenerate and compare look at this store's tables only (another store may share the database)."""

    def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
        if type_ == "table":
            return name in store.metadata.tables
        return True

    return include_name


def run_env(store: StoreSchema) -> None:
    """The body of each store's ``env.py``: migrate the connection passed in the config.

    Without a connection (Alembic run from its command line with ``sqlalchemy.url`` set) it
    opens one through :func:`vault.store.db.make_engine`; in offline mode it writes SQL for that URL.
    """
    from alembic import context

    config = context.config
    options: dict[str, Any] = {
        "target_metadata": store.metadata,
        "version_table": store.version_table,
        "include_name": _include_name(store),
        "compare_type": True,
    }
    if context.is_offline_mode():
        url = config.get_main_option("sqlalchemy.url")
        context.configure(
            url=url,
            literal_binds=True,
            render_as_batch=url is not None and url.startswith("sqlite"),
            **options,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite", **options)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":  # DDL on a large table may take long: no statement timeout
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            context.run_migrations()

    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection in config.attributes['connection'] and no sqlalchemy.url")
    with _engine(url) as engine, engine.execution_options(pseudovault_write=True).begin() as connection:
        run(connection)


def is_at_head(target: Engine | str, store: StoreSchema) -> bool:
    """Whether ``store`` has been migrated to the newest revision this code knows."""
    current = current_revision(target, store)
    return bool(current) and current == head_revisions(store)
