"""vault.store.migrate: both stores migrate to head from empty, twice is a no-op, and the models match
the migrations exactly."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from pseudovault.vault.store.db import make_engine
from pseudovault.vault.store.migrate import (
    DATA,
    KEYS,
    STORES,
    alembic_config,
    current_revisions,
    head_revisions,
    is_at_head,
    upgrade,
)

if TYPE_CHECKING:
    from conftest import StoreUrls

from pseudovault.vault.store.base import DataBase, KeysBase

# every table of the models, and nothing else, is what the migrations create (plus, on one
# engine, the tables a store declares as that engine's own: StoreSchema.engine_tables)
DATA_TABLES = set(DataBase.metadata.tables) | {"alembic_version_data"}
KEYS_TABLES = set(KeysBase.metadata.tables) | {"alembic_version_keys"}


def _expected(tables: set[str], store: object, backend: str) -> set[str]:
    return tables | set(store.tables_on("postgresql" if backend == "postgres" else backend))  # type: ignore[attr-defined]


def _newest_revision(store: object) -> str:
    """The revision of the highest-numbered migration file: revisions are numbered in order."""
    files = sorted(p.name for p in (store.script_location / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))  # type: ignore[attr-defined]
    return files[-1].split("_", 1)[0]


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_empty_then_again_is_a_no_op(store_urls: StoreUrls) -> None:
    assert current_revisions(store_urls.data, store_urls.keys) == {"data": (), "keys": ()}
    assert not is_at_head(store_urls.data, DATA)
    assert not is_at_head(store_urls.keys, KEYS)

    upgrade(store_urls.data, store_urls.keys)
    assert _tables(store_urls.data) == _expected(DATA_TABLES, DATA, store_urls.backend)
    assert _tables(store_urls.keys) == _expected(KEYS_TABLES, KEYS, store_urls.backend)
    at_head = {"data": head_revisions(DATA), "keys": head_revisions(KEYS)}
    assert current_revisions(store_urls.data, store_urls.keys) == at_head
    assert is_at_head(store_urls.data, DATA) and is_at_head(store_urls.keys, KEYS)

    upgrade(store_urls.data, store_urls.keys)
    assert current_revisions(store_urls.data, store_urls.keys) == at_head
    assert _tables(store_urls.data) == _expected(DATA_TABLES, DATA, store_urls.backend)
    assert _tables(store_urls.keys) == _expected(KEYS_TABLES, KEYS, store_urls.backend)


def test_each_store_has_one_linear_head_starting_at_0001() -> None:
    assert head_revisions(DATA) == (_newest_revision(DATA),)
    assert head_revisions(KEYS) == (_newest_revision(KEYS),)
    assert {"subjects", "subject_fields", "tombstones"} <= DATA_TABLES
    assert {"wrapping_keys", "subject_keys", "shred_ledger"} <= KEYS_TABLES
    for store in STORES.values():
        assert store.script_location.is_dir()
        assert (store.script_location / "env.py").is_file()
        assert (store.script_location / "script.py.mako").is_file()
        assert (store.script_location / "versions" / "0001_initial.py").is_file()


def test_models_match_the_migrations(store_urls: StoreUrls) -> None:
    upgrade(store_urls.data, store_urls.keys)
    for url, store in ((store_urls.data, DATA), (store_urls.keys, KEYS)):
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                own = store.tables_on(connection.dialect.name)
                context = MigrationContext.configure(
                    connection,
                    opts={
                        "compare_type": True,
                        "version_table": store.version_table,
                        "target_metadata": store.metadata,
                        # the engine's own tables are the migrations' alone; any other extra is a mismatch
                        "include_name": lambda name, type_, _parents, own=own: type_ != "table" or name not in own,
                    },
                )
                assert compare_metadata(context, store.metadata) == [], store.name
        finally:
            engine.dispose()


def test_both_stores_may_share_one_database(store_urls: StoreUrls) -> None:
    upgrade(store_urls.data, store_urls.data)
    assert _tables(store_urls.data) == _expected(DATA_TABLES, DATA, store_urls.backend) | KEYS_TABLES
    assert is_at_head(store_urls.data, DATA) and is_at_head(store_urls.data, KEYS)
    engine = make_engine(store_urls.data)
    try:
        with engine.connect() as connection:
            # each store's env.py looks at its own tables only: autogenerate finds nothing to add or
            # drop (without the filter it would propose dropping the other store's tables)
            for store in (DATA, KEYS):
                command.check(alembic_config(store, connection))
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(sqlite_urls: StoreUrls) -> None:
    upgrade(sqlite_urls.data, sqlite_urls.keys)
    for url, store in ((sqlite_urls.data, DATA), (sqlite_urls.keys, KEYS)):
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                command.downgrade(alembic_config(store, connection), "base")
        finally:
            engine.dispose()
    assert _tables(sqlite_urls.data) == {"alembic_version_data"}
    assert _tables(sqlite_urls.keys) == {"alembic_version_keys"}
    assert current_revisions(sqlite_urls.data, sqlite_urls.keys) == {"data": (), "keys": ()}
    upgrade(sqlite_urls.data, sqlite_urls.keys)
    assert _tables(sqlite_urls.data) == DATA_TABLES | {"identifier_feed", "identifier_feed_state"}


@pytest.mark.parametrize("store", [DATA, KEYS], ids=["data", "keys"])
def test_offline_sql_script(store: object, capsys: pytest.CaptureFixture[str]) -> None:
    config = alembic_config(store)  # type: ignore[arg-type]
    config.set_main_option("sqlalchemy.url", "postgresql+psycopg://pv@db/pv")
    command.upgrade(config, "head", sql=True)
    script = capsys.readouterr().out
    version_table = "alembic_version_data" if store is DATA else "alembic_version_keys"
    assert f"CREATE TABLE {version_table}" in script
    for table in store.metadata.tables:  # type: ignore[attr-defined]
        assert f"CREATE TABLE {table} " in script
