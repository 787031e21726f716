"""Crypto-shredding: after a shred nothing answers with the subject, its key is evicted, its bytes
are gone from the store files, and a restored backup is shredded again by the ledger replay."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from canary import CANARY_PII
from sqlalchemy import Engine, text

from pseudovault.keys.testing import FakeKmsProvider
from pseudovault.vault.clock import FrozenClock
from pseudovault.vault.errors import InvalidInputError, NotFoundError
from pseudovault.vault.store.db import checkpoint_sqlite, sqlite_path
from pseudovault.vault.subjects.service import REPLAY_REASON_CODE, ShredResult
from pseudovault.vault.vault import Vault

if TYPE_CHECKING:
    from conftest import StoreUrls

NEVER = "9e5b2c71-4f3a-4d8e-8b6c-1a0f7e2d3c4b"


def _scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def _not_found_shape(call: Callable[[], object], subject_id: str) -> tuple[type, str, str, str]:
    with pytest.raises(NotFoundError) as info:
        call()
    error = info.value
    return type(error), str(error).replace(subject_id, "<id>"), error.what, error.code


def test_a_shredded_subject_answers_exactly_like_one_that_never_existed(vault: Vault, clock: FrozenClock) -> None:
    victim = vault.subjects.create({"email": CANARY_PII, "name": "Victim"})
    kept = vault.subjects.create({"email": "kept@example.org"})
    assert vault.subjects.read(victim) == {"email": CANARY_PII, "name": "Victim"}
    assert f"dek/{victim}" in vault.cache

    clock.advance(timedelta(hours=1))
    result = vault.subjects.shred(victim, reason_code="withdrawal")
    assert result == ShredResult(subject_id=victim, shredded_at=clock.now(), already=False)
    assert f"dek/{victim}" not in vault.cache, "the shredding process evicts at once"

    calls: dict[str, Callable[[str], Callable[[], object]]] = {
        "read": lambda s: lambda: vault.subjects.read(s),
        "read selected": lambda s: lambda: vault.subjects.read(s, ["email"]),
        "read nothing": lambda s: lambda: vault.subjects.read(s, []),
        "update": lambda s: lambda: vault.subjects.update(s, {"email": "new@example.org"}),
        "delete field": lambda s: lambda: vault.subjects.update(s, {"email": None}),
        "data key": lambda s: lambda: vault.keys.data_key(s),
    }
    for name, call in calls.items():
        assert _not_found_shape(call(victim), victim) == _not_found_shape(call(NEVER), NEVER), name
    assert vault.subjects.exists(victim) is False
    assert vault.subjects.count() == 1
    assert [s.subject_id for s in vault.subjects.list()] == [kept]
    assert vault.subjects.read(kept) == {"email": "kept@example.org"}

    # nothing of the subject is left but its tombstone and its ledger entry
    assert _scalar(vault.data_engine, "SELECT count(*) FROM subject_fields WHERE subject_id = :s", s=victim) == 0
    assert _scalar(vault.data_engine, "SELECT count(*) FROM subjects WHERE id = :s", s=victim) == 0
    assert _scalar(vault.keys_engine, "SELECT count(*) FROM subject_keys WHERE subject_id = :s", s=victim) == 0
    assert _scalar(vault.keys_engine, "SELECT count(*) FROM shred_ledger WHERE subject_id = :s", s=victim) == 1


def test_shred_is_idempotent_and_keeps_the_first_time_and_reason(vault: Vault, clock: FrozenClock) -> None:
    victim = vault.subjects.create({"email": CANARY_PII})
    first = vault.subjects.shred(victim, reason_code="erasure_request")
    clock.advance(timedelta(days=2))
    again = vault.subjects.shred(victim, reason_code="retention_expired")
    assert again == ShredResult(victim, first.shredded_at, already=True)
    tombstone = vault.subjects.tombstone(victim)
    assert tombstone is not None
    assert (tombstone.shredded_at, tombstone.reason_code) == (first.shredded_at, "erasure_request")
    with pytest.raises(NotFoundError):
        vault.subjects.shred(NEVER)


def test_the_tombstone_holds_no_pii(vault: Vault) -> None:
    victim = vault.subjects.create({"email": CANARY_PII, "name": CANARY_PII})
    vault.subjects.shred(victim)
    with vault.data_engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM tombstones")).mappings().all()
    assert len(rows) == 1
    assert set(rows[0].keys()) == {"subject_id", "shredded_at", "reason_code"}
    assert rows[0]["subject_id"] == victim and rows[0]["reason_code"] == "request"
    assert CANARY_PII not in repr(dict(rows[0]))
    assert CANARY_PII not in repr(vault.subjects.tombstone(victim))


@pytest.mark.parametrize("reason", ["", "Request", "user asked", "a" * 41, "1abc", "request\n", CANARY_PII, None])
def test_reason_codes_are_codes_not_free_text(vault: Vault, reason: Any) -> None:
    victim = vault.subjects.create({"email": "v@example.org"})
    with pytest.raises(InvalidInputError) as info:
        vault.subjects.shred(victim, reason_code=reason)
    assert info.value.field == "reason_code"
    assert CANARY_PII not in str(info.value)
    assert vault.subjects.read(victim) == {"email": "v@example.org"}, "nothing was shredded"


def test_other_processes_forget_the_key_within_the_cache_ttl(
    store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    ttl = timedelta(seconds=30)
    with (
        Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, cache_ttl=ttl) as shredder,
        Vault.open(provider, store_urls.data, store_urls.keys, clock=clock, cache_ttl=ttl) as other,
    ):
        victim = shredder.subjects.create({"email": CANARY_PII})
        assert other.subjects.read(victim) == {"email": CANARY_PII}  # "other" now caches the key
        clock.advance(timedelta(seconds=10))
        shredder.subjects.shred(victim)

        with pytest.raises(NotFoundError):  # its data is gone for every process at once
            other.subjects.read(victim)
        assert f"dek/{victim}" in other.cache, "another process may still hold the key, but only until the TTL"
        clock.advance(ttl - timedelta(seconds=10))
        assert f"dek/{victim}" not in other.cache
        with pytest.raises(NotFoundError):
            other.keys.data_key(victim)


def test_the_cache_is_bounded_in_size(store_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock) -> None:
    with Vault.create(provider, store_urls.data, store_urls.keys, clock=clock, cache_size=3) as vault:
        ids = [vault.subjects.create({"name": f"n{i}"}) for i in range(5)]
        for subject_id in ids:
            assert vault.subjects.read(subject_id) == {"name": f"n{ids.index(subject_id)}"}
        assert len(vault.cache) == 3
        assert f"dek/{ids[-1]}" in vault.cache and f"dek/{ids[0]}" not in vault.cache


def test_two_shreds_of_one_subject_at_once_both_answer_and_leave_one_ledger_entry(vault: Vault) -> None:
    """Two requests to erase the same person arrive together (a retry beside the original, say):
    neither fails, and the ledger and the tombstones name the subject once."""
    victims = [vault.subjects.create({"email": CANARY_PII}) for _ in range(4)]
    for victim in victims:
        barrier = threading.Barrier(2)
        answers: list[ShredResult | BaseException] = []

        def shred(
            victim: str = victim, barrier: threading.Barrier = barrier, answers: list[ShredResult | BaseException] = answers
        ) -> None:
            barrier.wait()
            try:
                answers.append(vault.subjects.shred(victim))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                answers.append(exc)

        threads = [threading.Thread(target=shred) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(answers) == 2 and all(isinstance(a, ShredResult) for a in answers), answers
        assert not vault.subjects.exists(victim) and not vault.keys.has_data_key(victim)
        assert _scalar(vault.keys_engine, "SELECT count(*) FROM shred_ledger WHERE subject_id = :s", s=victim) == 1
        assert _scalar(vault.data_engine, "SELECT count(*) FROM tombstones WHERE subject_id = :s", s=victim) == 1
        assert _scalar(vault.data_engine, "SELECT count(*) FROM subject_fields WHERE subject_id = :s", s=victim) == 0
    assert vault.audit.verify().ok


def test_an_interrupted_shred_is_completed_by_shredding_again(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    from pseudovault.vault.subjects.service import SubjectService

    victim = vault.subjects.create({"email": CANARY_PII})

    def data_store_down(*args: object) -> bool:
        raise ConnectionError("data store unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(SubjectService, "_shred_data", staticmethod(data_store_down))
        with pytest.raises(ConnectionError):
            vault.subjects.shred(victim)
    # the key went first: the subject is already unreadable, its ciphertext is noise
    assert _scalar(vault.data_engine, "SELECT count(*) FROM subject_fields WHERE subject_id = :s", s=victim) == 1
    with pytest.raises(NotFoundError):
        vault.subjects.read(victim)
    assert vault.subjects.exists(victim) is False

    result = vault.subjects.shred(victim)
    assert result.already is True
    assert _scalar(vault.data_engine, "SELECT count(*) FROM subject_fields WHERE subject_id = :s", s=victim) == 0
    assert vault.subjects.tombstone(victim) is not None


# --- restore from backup and ledger replay -------------------------------------------------


def _rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(text(sql), params).mappings()]


def _insert(engine: Engine, table: str, rows: Iterable[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        for row in rows:
            columns = ", ".join(row)
            values = ", ".join(f":{c}" for c in row)
            connection.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), row)


def test_replay_after_a_key_store_restore(vault: Vault) -> None:
    victim = vault.subjects.create({"email": CANARY_PII})
    kept = vault.subjects.create({"email": "kept@example.org"})
    backup = _rows(vault.keys_engine, "SELECT * FROM subject_keys WHERE subject_id = :s", s=victim)
    shredded = vault.subjects.shred(victim)

    # the key store comes back from a backup taken before the shred: key back, ledger entry gone
    _insert(vault.keys_engine, "subject_keys", backup)
    with vault.keys_engine.begin() as connection:
        connection.execute(text("DELETE FROM shred_ledger"))
    assert vault.keys.data_key(victim) is not None, "this is what a restore brings back"

    assert vault.subjects.replay_shred_ledger() == 1
    with pytest.raises(NotFoundError):
        vault.keys.data_key(victim)
    assert f"dek/{victim}" not in vault.cache
    ledger = _rows(vault.keys_engine, "SELECT subject_id, shredded_at FROM shred_ledger")
    assert [row["subject_id"] for row in ledger] == [victim], "the ledger is completed from the tombstones"
    assert vault.subjects.read(kept) == {"email": "kept@example.org"}
    assert vault.subjects.replay_shred_ledger() == 0
    assert vault.subjects.tombstone(victim).shredded_at == shredded.shredded_at  # type: ignore[union-attr]


def test_replay_after_a_data_store_restore(vault: Vault) -> None:
    victim = vault.subjects.create({"email": CANARY_PII, "name": "V"})
    kept = vault.subjects.create({"email": "kept@example.org"})
    subject_backup = _rows(vault.data_engine, "SELECT * FROM subjects WHERE id = :s", s=victim)
    fields_backup = _rows(vault.data_engine, "SELECT * FROM subject_fields WHERE subject_id = :s", s=victim)
    shredded = vault.subjects.shred(victim, reason_code="erasure_request")

    # the data store comes back from a backup taken before the shred: data back, tombstone gone
    _insert(vault.data_engine, "subjects", subject_backup)
    _insert(vault.data_engine, "subject_fields", fields_backup)
    with vault.data_engine.begin() as connection:
        connection.execute(text("DELETE FROM tombstones"))
    with pytest.raises(NotFoundError):  # without its key the restored ciphertext is noise already
        vault.subjects.read(victim)

    assert vault.subjects.replay_shred_ledger() == 1
    assert _scalar(vault.data_engine, "SELECT count(*) FROM subject_fields WHERE subject_id = :s", s=victim) == 0
    assert _scalar(vault.data_engine, "SELECT count(*) FROM subjects WHERE id = :s", s=victim) == 0
    tombstone = vault.subjects.tombstone(victim)
    assert tombstone is not None
    assert (tombstone.shredded_at, tombstone.reason_code) == (shredded.shredded_at, REPLAY_REASON_CODE)
    assert vault.subjects.read(kept) == {"email": "kept@example.org"}
    assert vault.subjects.replay_shred_ledger() == 0


def test_replay_walks_a_ledger_longer_than_one_batch(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    import pseudovault.vault.subjects.service as subjects_module

    monkeypatch.setattr(subjects_module, "_REPLAY_BATCH", 2)
    ids = [vault.subjects.create({"name": f"n{i}"}) for i in range(5)]
    backup = _rows(vault.keys_engine, "SELECT * FROM subject_keys")
    for subject_id in ids:
        vault.subjects.shred(subject_id)
    _insert(vault.keys_engine, "subject_keys", backup)
    assert vault.subjects.replay_shred_ledger() == 5
    assert vault.keys.count_data_keys() == 0


# --- the bytes are gone: SQLite files ------------------------------------------------------


def _chunks(data: bytes, size: int = 32, stride: int = 256) -> list[bytes]:
    """Pieces of ``data``: a large value spans several pages, so it is searched for piece by piece.

    A piece every 256 bytes: any fragment left in a page (4 KiB on SQLite, ~2 KiB TOAST chunks on
    PostgreSQL) holds several of them, and 32 random bytes never match by chance.
    """
    return [data[i : i + size] for i in range(0, len(data) - size + 1, stride)]


def _files(*directories: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for directory in directories for path in sorted(directory.iterdir())}


def _found(files: dict[str, bytes], needles: dict[str, list[bytes]]) -> list[str]:
    return [
        f"{what} in {name}"
        for name, content in files.items()
        for what, pieces in needles.items()
        if any(piece in content for piece in pieces)
    ]


def _secrets_of(vault: Vault, victim: str) -> dict[str, list[bytes]]:
    ciphertexts = [
        bytes(row["ciphertext"])
        for row in _rows(vault.data_engine, "SELECT ciphertext FROM subject_fields WHERE subject_id = :s", s=victim)
    ]
    (wrapped,) = [
        bytes(row["wrapped"])
        for row in _rows(vault.keys_engine, "SELECT wrapped FROM subject_keys WHERE subject_id = :s", s=victim)
    ]
    assert len(ciphertexts) == 2 and len(wrapped) == 40
    return {
        "canary plaintext": [CANARY_PII.encode()],
        "small ciphertext": [min(ciphertexts, key=len)],
        "large ciphertext": _chunks(max(ciphertexts, key=len)),
        "wrapped data key": [wrapped],
        "data key": [vault.keys.data_key(victim).reveal()],
    }


LARGE_VALUE = (CANARY_PII + " ") * (60_000 // (len(CANARY_PII) + 1))


def test_shredded_bytes_are_gone_from_the_sqlite_files(
    sqlite_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    data_path, keys_path = sqlite_path(sqlite_urls.data), sqlite_path(sqlite_urls.keys)
    assert data_path is not None and keys_path is not None
    data_dir, keys_dir = data_path.parent, keys_path.parent
    vault = Vault.create(provider, sqlite_urls.data, sqlite_urls.keys, clock=clock)
    try:
        bystander = vault.subjects.create({"name": "Bystander", "email": "b@example.org"})
        victim = vault.subjects.create({"email": CANARY_PII, "notes": LARGE_VALUE})
        needles = _secrets_of(vault, victim)
        vault.subjects.create({"name": "Later"})

        # control: the scan finds what is there (the plaintext and the data key never are)
        checkpoint_sqlite(vault.data_engine)
        checkpoint_sqlite(vault.keys_engine)
        before = _found(_files(data_dir, keys_dir), needles)
        assert {"small ciphertext in vault-data.sqlite3", "large ciphertext in vault-data.sqlite3"} <= set(before)
        assert "wrapped data key in vault-keys.sqlite3" in before
        assert not [f for f in before if f.startswith(("canary plaintext", "data key"))], before

        vault.subjects.shred(victim)
        # the shred itself checkpoints and truncates the write-ahead logs: nothing left while open
        assert _found(_files(data_dir, keys_dir), needles) == []
        assert vault.subjects.read(bystander)["name"] == "Bystander"
        checkpoint_sqlite(vault.data_engine)
        checkpoint_sqlite(vault.keys_engine)
    finally:
        vault.close()
    files = _files(data_dir, keys_dir)
    assert "vault-data.sqlite3" in files and "vault-keys.sqlite3" in files
    assert _found(files, needles) == []


# --- the bytes are gone: PostgreSQL pages --------------------------------------------------
#
# What PostgreSQL can show through SQL: the rows (SELECT), and with the pageinspect extension
# the raw pages of every table, TOAST table and index as the server sees them now. A plain
# VACUUM makes a dead row's space reusable but does not zero it: a deleted row's bytes can stay
# in a page's free space until overwritten (a row deleted last on its page typically does).
# VACUUM FULL rewrites each table into new files, which is what this test runs before reading
# the pages. What SQL cannot show: write-ahead log segments and their archives, the unlinked old
# files' blocks on disk, replicas and base backups. That is why the guarantee rests on the
# deleted data key (and epoch rotation for old copies of it), not on the bytes being gone.
# Statistics are checked too: the migrations set a statistics target of 0 on the key and
# ciphertext columns, so ANALYZE never copies them into pg_statistic.


def _pages(engine: Engine) -> dict[str, bytes]:
    """Every page of every table, index and TOAST relation of the public schema.

    The key store's background VACUUM FULL may rewrite a relation at any moment; the tables are
    locked first (ACCESS SHARE, which VACUUM FULL's ACCESS EXCLUSIVE waits for) so that a relation's
    size and its pages are read from the same file."""
    with engine.connect() as connection, connection.begin():
        tables = connection.execute(
            text(
                "SELECT quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r'"
            )
        ).scalars().all()
        if tables:
            connection.execute(text(f"LOCK TABLE {', '.join(tables)} IN ACCESS SHARE MODE"))
        relations = connection.execute(
            text(
                "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')"
                " UNION SELECT c.reltoastrelid::regclass::text FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.reltoastrelid <> 0"
            )
        ).scalars()
        pages = {}
        for relation in relations:
            count = connection.execute(
                text("SELECT pg_relation_size(CAST(:r AS regclass)) / current_setting('block_size')::int"),
                {"r": relation},
            ).scalar_one()
            pages[relation] = b"".join(
                bytes(connection.execute(text("SELECT get_raw_page(:r, :i)"), {"r": relation, "i": i}).scalar_one())
                for i in range(count)
            )
        return pages


def _maintenance(engine: Engine, *statements: str) -> None:
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


@pytest.mark.postgres
def test_shredded_bytes_are_gone_from_postgres(
    postgres_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    with Vault.create(provider, postgres_urls.data, postgres_urls.keys, clock=clock) as vault:
        engines = {"data": vault.data_engine, "keys": vault.keys_engine}
        try:
            for engine in engines.values():
                _maintenance(engine, "CREATE EXTENSION IF NOT EXISTS pageinspect")
            pageinspect = True
        except Exception:  # needs PostgreSQL's contrib package and a superuser
            pageinspect = False

        bystander = vault.subjects.create({"name": "Bystander", "email": "b@example.org"})
        victim = vault.subjects.create({"email": CANARY_PII, "notes": LARGE_VALUE})
        needles = _secrets_of(vault, victim)
        vault.subjects.create({"name": "Later"})
        for engine in engines.values():
            _maintenance(engine, "ANALYZE")

        if pageinspect:
            # control: the page scan finds what is there (in the heap, TOAST and the buffers)
            before = {store: _found(_pages(engine), needles) for store, engine in engines.items()}
            assert {f.split(" in ")[0] for f in before["data"]} == {"small ciphertext", "large ciphertext"}
            assert {f.split(" in ")[0] for f in before["keys"]} == {"wrapped data key"}
        with vault.keys_engine.connect() as connection:
            analysed = connection.execute(
                text("SELECT attname FROM pg_stats WHERE tablename = 'subject_keys'")
            ).scalars()
            assert "subject_id" in set(analysed), "ANALYZE ran"
        for store, engine in engines.items():
            with engine.connect() as connection:
                columns = set(
                    connection.execute(text("SELECT attname FROM pg_stats WHERE schemaname = 'public'")).scalars()
                )
            assert not columns & {"wrapped", "ciphertext"}, f"{store}: key or ciphertext columns in pg_statistic"

        vault.subjects.shred(victim)
        assert _scalar(vault.data_engine, "SELECT count(*) FROM subject_fields WHERE subject_id = :s", s=victim) == 0
        assert _scalar(vault.keys_engine, "SELECT count(*) FROM subject_keys WHERE subject_id = :s", s=victim) == 0
        for engine in engines.values():
            _maintenance(engine, "VACUUM FULL", "ANALYZE")
        for store, engine in engines.items():
            if pageinspect:
                assert _found(_pages(engine), needles) == [], store
            with engine.connect() as connection:
                statistics = " ".join(
                    str(value)
                    for value in connection.execute(
                        text(
                            "SELECT most_common_vals::text, histogram_bounds::text FROM pg_stats"
                            " WHERE schemaname = 'public'"
                        )
                    ).all()
                )
            assert not any(piece.hex() in statistics for pieces in needles.values() for piece in pieces), store
        assert vault.subjects.read(bystander)["name"] == "Bystander"
    if not pageinspect:
        pytest.skip("pageinspect is not available: rows and statistics were checked, raw pages were not")


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["full", "off"])
def test_the_key_store_vacuums_shredded_key_rows_by_itself(
    postgres_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock, mode: str
) -> None:
    """No VACUUM run by the test: after a shred the key store rewrites its key tables by itself
    (PSEUDOVAULT_KEY_VACUUM=full, within the delay); with it off, the deleted row's bytes are
    still in the table file (the control that shows the scan can find them)."""
    with Vault.create(
        provider, postgres_urls.data, postgres_urls.keys, clock=clock, key_vacuum=(mode, 0.05)
    ) as vault:
        try:
            _maintenance(vault.keys_engine, "CREATE EXTENSION IF NOT EXISTS pageinspect")
        except Exception:  # needs PostgreSQL's contrib package and a superuser
            pytest.skip("pageinspect is not available")
        vault.subjects.create({"name": "Earlier"})
        victim = vault.subjects.create({"email": CANARY_PII})  # inserted last: its bytes linger longest
        (wrapped,) = [
            bytes(row["wrapped"])
            for row in _rows(vault.keys_engine, "SELECT wrapped FROM subject_keys WHERE subject_id = :s", s=victim)
        ]
        vault.subjects.shred(victim)
        assert vault.keys.vacuum is not None
        needles = {"wrapped data key": [wrapped]}
        if mode == "off":
            time.sleep(0.3)
            assert _found(_pages(vault.keys_engine), needles) != [], "the control must find the deleted row's bytes"
            assert vault.keys.vacuum.runs == 0
            return
        # the first run takes the bytes out, or a later one if a transaction in this database still
        # had the row in view (the run reads VACUUM's report and tries again after the delay)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
            vault.keys.vacuum.runs >= 1 and _found(_pages(vault.keys_engine), needles) == []
        ):
            time.sleep(0.05)
        assert vault.keys.vacuum.runs >= 1
        assert _found(_pages(vault.keys_engine), needles) == []


@pytest.mark.postgres
def test_a_row_still_in_view_is_vacuumed_again_once_it_is_not(
    postgres_urls: StoreUrls, provider: FakeKmsProvider, clock: FrozenClock
) -> None:
    """A transaction holding a snapshot that can still see the deleted key row makes VACUUM FULL
    keep it; the key store reads VACUUM's report and runs again until the row is gone."""
    import psycopg
    from sqlalchemy.engine import make_url

    with Vault.create(
        provider, postgres_urls.data, postgres_urls.keys, clock=clock, key_vacuum=("full", 0.05)
    ) as vault:
        try:
            _maintenance(vault.keys_engine, "CREATE EXTENSION IF NOT EXISTS pageinspect")
        except Exception:
            pytest.skip("pageinspect is not available")
        victim = vault.subjects.create({"email": CANARY_PII})
        (wrapped,) = [
            bytes(row["wrapped"])
            for row in _rows(vault.keys_engine, "SELECT wrapped FROM subject_keys WHERE subject_id = :s", s=victim)
        ]
        url = make_url(postgres_urls.keys).set(drivername="postgresql").render_as_string(hide_password=False)
        holder = psycopg.connect(url)  # a snapshot from before the shred, on no key table
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.execute("SELECT 1 FROM pg_class LIMIT 1").fetchone()
        try:
            vault.subjects.shred(victim)
            assert vault.keys.vacuum is not None
            deadline = time.monotonic() + 20
            while vault.keys.vacuum.kept_last_run is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert vault.keys.vacuum.kept_last_run == 1, "the run saw the row it could not remove"
            assert _found(_pages(vault.keys_engine), {"k": [wrapped]}) != []
        finally:
            holder.rollback()
            holder.close()
        while time.monotonic() < deadline and _found(_pages(vault.keys_engine), {"k": [wrapped]}) != []:
            time.sleep(0.05)
        assert _found(_pages(vault.keys_engine), {"k": [wrapped]}) == []
        assert vault.keys.vacuum.runs >= 2
